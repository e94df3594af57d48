/* Pages and entries of an NVS partition, laid out as nvs_partition_gen.py's
 * Page/NVS classes do (page header, 2-bit entry state bitmap, 126 entries). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "nvs_internal.h"

int nvs_fail(struct nvs_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

uint32_t nvs_crc32(const uint8_t *data, size_t len)
{
	/* The reference calls zlib.crc32(data, 0xFFFFFFFF): 0xFFFFFFFF is the
	 * running value passed in, not the usual initial value 0. */
	return (uint32_t)crc32_z(0xFFFFFFFFul, data, len);
}

void nvs_entry_set_crc(uint8_t e[32])
{
	uLong c = crc32_z(0xFFFFFFFFul, e, 4);
	c = crc32_z(c, e + 8, 24);
	nvs_le32(e + 4, (uint32_t)c);
}

int nvs_layout_init(struct nvs_layout *l, uint32_t size, enum nvs_version v, struct nvs_err *err)
{
	memset(l, 0, sizeof(*l));
	l->max_pages = size / NVS_PAGE_SIZE;
	l->img = malloc(size);
	l->entries = calloc(l->max_pages, sizeof(*l->entries));
	if (!l->img || !l->entries) {
		nvs_layout_deinit(l);
		return nvs_fail(err, NVS_ENOMEM, "out of memory for a 0x%x-byte partition", (unsigned)size);
	}
	memset(l->img, 0xFF, size);
	/* check_size(): below 0x3000 the partition is read-only and has no
	 * reserved page. */
	l->read_only = size < 3 * NVS_PAGE_SIZE;
	l->version_byte = v == NVS_VERSION_1 ? 0xFF : 0xFE;
	nvs_layout_clear(l);
	return 0;
}

void nvs_layout_deinit(struct nvs_layout *l)
{
	free(l->img);
	free(l->entries);
	l->img = NULL;
	l->entries = NULL;
}

static void nvs_page_start(struct nvs_layout *l)
{
	uint8_t *h = l->img + (size_t)l->npages * NVS_PAGE_SIZE;

	nvs_le32(h, NVS_STATE_ACTIVE);
	nvs_le32(h + 4, l->npages);
	h[8] = l->version_byte;
	nvs_le32(h + 28, nvs_crc32(h + 4, 24));
	l->entries[l->npages] = 0;
	l->entry_num = 0;
	l->npages++;
}

void nvs_layout_clear(struct nvs_layout *l)
{
	if (l->npages) {
		/* Only the written part: the rest of the image is still 0xFF. */
		size_t used = (size_t)(l->npages - 1) * NVS_PAGE_SIZE + NVS_FIRST_ENTRY + l->entry_num * NVS_ENTRY_SIZE;
		memset(l->img, 0xFF, used);
	}
	l->npages = 0;
	l->budget = (l->read_only ? l->max_pages : l->max_pages - 1) * NVS_PAGE_SIZE;
	/* NVS.__init__ creates page 0 at once; the budget always allows it. */
	l->budget -= NVS_PAGE_SIZE;
	nvs_page_start(l);
}

int nvs_page_new(struct nvs_layout *l, struct nvs_err *err)
{
	uint8_t *cur = l->img + (size_t)(l->npages - 1) * NVS_PAGE_SIZE;

	/* The reference marks the page FULL before it checks the size, but a
	 * failed check ends the run, so the order cannot be seen. */
	if (l->budget == 0)
		return nvs_fail(err, NVS_ESIZE, "the data does not fit the partition (0x%x bytes)",
				(unsigned)(l->max_pages * NVS_PAGE_SIZE));
	if (nvs_rd32(cur) == NVS_STATE_ACTIVE)
		nvs_le32(cur, NVS_STATE_FULL);
	l->budget -= NVS_PAGE_SIZE;
	nvs_page_start(l);
	return 0;
}

void nvs_page_write(struct nvs_layout *l, const uint8_t *data, size_t len, unsigned count)
{
	uint8_t *page = l->img + (size_t)(l->npages - 1) * NVS_PAGE_SIZE;

	if (len)
		memcpy(page + NVS_FIRST_ENTRY + l->entry_num * NVS_ENTRY_SIZE, data, len);
	for (unsigned i = 0; i < count; i++, l->entry_num++) {
		/* Entry state 0b11 (empty) -> 0b10 (written): clear the low bit. */
		unsigned bit = l->entry_num * 2;
		page[32 + bit / 8] &= (uint8_t) ~(1u << (bit & 7));
	}
	l->entries[l->npages - 1] = (uint16_t)l->entry_num;
}

size_t nvs_layout_image_len(const struct nvs_layout *l)
{
	/* Read-only images hold only the pages used (no padding, no reserved page). */
	return (size_t)(l->read_only ? l->npages : l->max_pages) * NVS_PAGE_SIZE;
}
