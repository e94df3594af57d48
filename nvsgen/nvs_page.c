/* Pages and entries of an NVS partition, laid out as nvs_partition_gen.py's
 * Page/NVS classes do (page header, 2-bit entry state bitmap, 126 entries). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <zlib.h>

#include "espfab/err.h"
#include "nvs_internal.h"

ERR_DEFINE_FAIL(, nvs_fail, nvs_err)

uint32_t nvs_crc32(const uint8_t *data, size_t len)
{
	/* The reference calls zlib.crc32(data, 0xFFFFFFFF): 0xFFFFFFFF is the
	 * running value passed in, not the usual initial value 0. */
	return (uint32_t)crc32_z(0xFFFFFFFFul, data, len);
}

void nvs_entry_set_crc(uint8_t e[32])
{
	uint8_t tmp[28];

	/* One call over a contiguous copy: cheaper than two for 28 bytes. */
	memcpy(tmp, e, 4);
	memcpy(tmp + 4, e + 8, 24);
	le_put32(e + 4, nvs_crc32(tmp, sizeof(tmp)));
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
	if (l->img)
		OPENSSL_cleanse(l->img, (size_t)l->max_pages * NVS_PAGE_SIZE); /* values are secrets */
	free(l->img);
	free(l->entries);
	free(l->spills);
	free(l->growth);
	l->spills = NULL;
	l->growth = NULL;
	l->img = NULL;
	l->entries = NULL;
}

static void nvs_page_start(struct nvs_layout *l)
{
	uint8_t *h = l->img + (size_t)l->npages * NVS_PAGE_SIZE;

	le_put32(h, NVS_STATE_ACTIVE);
	le_put32(h + 4, l->npages);
	h[8] = l->version_byte;
	le_put32(h + 28, nvs_crc32(h + 4, 24));
	l->entries[l->npages] = 0;
	l->entry_num = 0;
	l->spill_pending = false;
	l->npages++;
	l->dirty = (size_t)l->npages * NVS_PAGE_SIZE - NVS_PAGE_SIZE + NVS_FIRST_ENTRY;
}

void nvs_layout_clear(struct nvs_layout *l)
{
	/* Only the written part: the rest of the image is still 0xFF. */
	memset(l->img, 0xFF, l->dirty);
	l->dirty = 0;
	l->nspills = 0;
	l->spill_pending = false;
	l->ngrowth = 0;
	l->growth_bytes = 0;
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
	if (le_get32(cur) == NVS_STATE_ACTIVE)
		le_put32(cur, NVS_STATE_FULL);
	l->budget -= NVS_PAGE_SIZE;
	nvs_page_start(l);
	return 0;
}

void nvs_page_write(struct nvs_layout *l, const uint8_t *data, size_t len, unsigned count)
{
	uint8_t *page = l->img + (size_t)(l->npages - 1) * NVS_PAGE_SIZE;

	size_t off = NVS_FIRST_ENTRY + l->entry_num * NVS_ENTRY_SIZE;

	if (l->spill_pending && len) {
		/* The next write lands on the spilled bytes and covers len of them. */
		struct nvs_spill *sp = &l->spills[l->nspills - 1];
		size_t cover = len < sp->len ? len : sp->len;
		sp->off += (uint32_t)cover;
		sp->len = (uint8_t)(sp->len - cover);
		l->spill_pending = false;
	}
	if (len) {
		memcpy(page + off, data, len);
		off += (size_t)(page - l->img) + len;
		if (off > l->dirty)
			l->dirty = off;
	}
	for (unsigned i = 0; i < count; i++, l->entry_num++) {
		/* Entry state 0b11 (empty) -> 0b10 (written): clear the low bit. */
		unsigned bit = l->entry_num * 2;
		page[32 + bit / 8] &= (uint8_t) ~(1u << (bit & 7));
	}
	l->entries[l->npages - 1] = (uint16_t)l->entry_num;
}

void nvs_page_spill_zeros(struct nvs_layout *l, size_t n)
{
	struct nvs_spill *sp;

	if (l->entry_num >= NVS_PAGE_ENTRIES)
		return;
	if (l->nspills == l->spills_cap) {
		size_t cap = l->spills_cap ? l->spills_cap * 2 : 8;
		sp = realloc(l->spills, cap * sizeof(*sp));
		if (!sp)
			return; /* only a byte-exactness quirk is lost */
		l->spills = sp;
		l->spills_cap = cap;
	}
	sp = &l->spills[l->nspills++];
	sp->off = (uint32_t)((size_t)(l->npages - 1) * NVS_PAGE_SIZE + NVS_FIRST_ENTRY + l->entry_num * NVS_ENTRY_SIZE);
	sp->len = (uint8_t)(n > NVS_ENTRY_SIZE ? NVS_ENTRY_SIZE : n);
	l->spill_pending = true;
}

void nvs_layout_apply_spills(const struct nvs_layout *l, uint8_t *buf)
{
	for (size_t i = 0; i < l->nspills; i++)
		if (l->spills[i].len)
			memset(buf + l->spills[i].off, 0, l->spills[i].len);
}

int nvs_page_grow(struct nvs_layout *l, size_t g, struct nvs_err *err)
{
	struct nvs_growth *gr;

	if (l->ngrowth == l->growth_cap) {
		size_t cap = l->growth_cap ? l->growth_cap * 2 : 4;
		gr = realloc(l->growth, cap * sizeof(*gr));
		if (!gr)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
		l->growth = gr;
		l->growth_cap = cap;
	}
	gr = &l->growth[l->ngrowth++];
	gr->page = l->npages - 1;
	gr->zeros = (uint8_t)(g > 8 ? g - 8 : 0);
	gr->ffs = (uint8_t)(g > 8 ? 8 : g);
	l->growth_bytes += g;
	return 0;
}

void nvs_layout_apply_growth(const struct nvs_layout *l, uint8_t *buf)
{
	size_t end = nvs_layout_image_len(l), shift = l->growth_bytes;

	/* From the last grown page back: move what follows the page up by the
	 * growth of this page and of every page before it, then fill the gap. */
	for (size_t i = l->ngrowth; i-- > 0;) {
		const struct nvs_growth *gr = &l->growth[i];
		size_t at = ((size_t)gr->page + 1) * NVS_PAGE_SIZE;

		memmove(buf + at + shift, buf + at, end - at);
		shift -= (size_t)gr->zeros + gr->ffs;
		memset(buf + at + shift, 0, gr->zeros);
		memset(buf + at + shift + gr->zeros, 0xFF, gr->ffs);
		end = at;
	}
}

size_t nvs_layout_image_len(const struct nvs_layout *l)
{
	/* Read-only images hold only the pages used (no padding, no reserved page). */
	return (size_t)(l->read_only ? l->npages : l->max_pages) * NVS_PAGE_SIZE;
}
