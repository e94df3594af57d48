/* NVS image decoder (see espfab/nvs_decode.h).
 *
 * Layout, as ESP-IDF's nvs_flash writes it and nvs_partition_gen.py 0.2.0
 * generates it: 4096-byte pages; a 32-byte header (state u32, seq u32,
 * version u8, 19 reserved bytes, CRC32 of bytes 4..27), a 32-byte entry state
 * bitmap (2 bits per entry: 3 empty, 2 written, 0 erased), then 126 entries of
 * 32 bytes (ns, type, span, chunk index, CRC32 of bytes 0..3 and 8..31,
 * key[16], data[8]). The CRC is zlib's crc32 seeded with 0xFFFFFFFF, which is
 * what the reference passes to zlib.crc32() (and equals the device's
 * esp_rom_crc32_le(0xffffffff, ...)).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/err.h"
#include "nvs_decode_int.h"

void nvsd_set_err(struct nvs_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	err->code = code;
	err->line = 0;
	va_start(ap, fmt);
	err_vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Growable arrays: one helper so every push checks for overflow the same way. */
int nvsd_grow(void **arr, size_t *cap, size_t count, size_t elem)
{
	size_t ncap;
	void *n;
	if (count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return NVS_ENOMEM;
	n = realloc(*arr, ncap * elem);
	if (!n)
		return NVS_ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

int nvsd_problem(struct decoder *dc, enum nvs_decode_problem_kind kind, uint32_t page, int slot, const char *fmt,
		 ...)
{
	struct nvs_decode *d = dc->d;
	struct nvs_decode_problem *p;
	va_list ap;
	if (nvsd_grow((void **)&d->problems, &dc->problem_cap, d->problem_count, sizeof(*d->problems)))
		return NVS_ENOMEM;
	p = &d->problems[d->problem_count++];
	p->kind = kind;
	p->page = page;
	p->slot = slot;
	p->offset = page * NVS_PAGE_SIZE + (slot < 0 ? 0u : NVS_DECODE_FIRST_ENTRY + (uint32_t)slot * NVS_DECODE_ENTRY_SIZE);
	va_start(ap, fmt);
	err_vformat(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return 0;
}

bool nvs_decode_type_is_int(uint8_t type)
{
	switch (type) {
	case NVS_DECODE_U8:
	case NVS_DECODE_I8:
	case NVS_DECODE_U16:
	case NVS_DECODE_I16:
	case NVS_DECODE_U32:
	case NVS_DECODE_I32:
	case NVS_DECODE_U64:
	case NVS_DECODE_I64:
		return true;
	default:
		return false;
	}
}

const char *nvs_decode_type_name(uint8_t type)
{
	switch (type) {
	case NVS_DECODE_U8:
		return "u8";
	case NVS_DECODE_I8:
		return "i8";
	case NVS_DECODE_U16:
		return "u16";
	case NVS_DECODE_I16:
		return "i16";
	case NVS_DECODE_U32:
		return "u32";
	case NVS_DECODE_I32:
		return "i32";
	case NVS_DECODE_U64:
		return "u64";
	case NVS_DECODE_I64:
		return "i64";
	case NVS_DECODE_STR:
		return "string";
	case NVS_DECODE_BLOB:
		return "blob";
	case NVS_DECODE_BLOB_DATA:
		return "blob_data";
	case NVS_DECODE_BLOB_IDX:
		return "blob_index";
	default:
		return NULL;
	}
}

const char *nvs_decode_page_state_name(enum nvs_decode_page_state s)
{
	switch (s) {
	case NVS_DECODE_PAGE_EMPTY:
		return "EMPTY";
	case NVS_DECODE_PAGE_ACTIVE:
		return "ACTIVE";
	case NVS_DECODE_PAGE_FULL:
		return "FULL";
	case NVS_DECODE_PAGE_FREEING:
		return "FREEING";
	case NVS_DECODE_PAGE_CORRUPT:
		return "CORRUPT";
	case NVS_DECODE_PAGE_INVALID:
		return "INVALID";
	case NVS_DECODE_PAGE_UNKNOWN:
		return "UNKNOWN";
	}
	return "UNKNOWN";
}

const char *nvs_decode_problem_name(enum nvs_decode_problem_kind k)
{
	switch (k) {
	case NVS_DECODE_P_HEADER_CRC:
		return "header_crc";
	case NVS_DECODE_P_ENTRY_CRC:
		return "entry_crc";
	case NVS_DECODE_P_DATA_CRC:
		return "data_crc";
	case NVS_DECODE_P_BITMAP:
		return "bitmap";
	case NVS_DECODE_P_PAGE:
		return "page";
	case NVS_DECODE_P_TYPE:
		return "type";
	case NVS_DECODE_P_NAMESPACE:
		return "namespace";
	case NVS_DECODE_P_BLOB:
		return "blob";
	case NVS_DECODE_P_DUPLICATE:
		return "duplicate";
	}
	return "unknown";
}

/* Entries are encrypted one by one, each with its own partition offset as the
 * XTS tweak (16 bytes, little-endian); the reference leaves page headers,
 * bitmaps and never-written (all 0xFF) entries in clear. */
struct page_order {
	uint32_t seq, index;
};

static int cmp_page_order(const void *a, const void *b)
{
	const struct page_order *x = a, *y = b;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->index < y->index ? -1 : (x->index > y->index);
}

int nvs_decode_image(const uint8_t *image, size_t len, const uint8_t *xts_key, struct nvs_decode **out,
		     struct nvs_err *err)
{
	struct decoder *dc = NULL;
	struct nvs_decode *d = NULL;
	struct page_order *order = NULL;
	size_t n_order = 0;
	int rc = NVS_ENOMEM;

	if (out)
		*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!out || (!image && len)) {
		nvsd_set_err(err, NVS_EINPUT, "nvs_decode_image: no image or no result pointer");
		return NVS_EINPUT;
	}
	if (len == 0 || len % NVS_PAGE_SIZE) {
		nvsd_set_err(err, NVS_EIMAGE, "image is %zu bytes: not a whole number of %u-byte pages (truncated?)", len,
			     NVS_PAGE_SIZE);
		return NVS_EIMAGE;
	}
	if (len / NVS_PAGE_SIZE > UINT32_MAX / NVS_PAGE_SIZE) {
		nvsd_set_err(err, NVS_EIMAGE, "image is %zu bytes: larger than a 4 GiB partition", len);
		return NVS_EIMAGE;
	}
	dc = calloc(1, sizeof(*dc));
	d = calloc(1, sizeof(*d));
	if (!dc || !d)
		goto nomem;
	dc->d = d;
	d->size = len;
	d->encrypted = xts_key != NULL;
	d->page_count = len / NVS_PAGE_SIZE;
	d->image_ = malloc(len);
	d->pages = calloc(d->page_count, sizeof(*d->pages));
	order = calloc(d->page_count, sizeof(*order));
	if (!d->image_ || !d->pages || !order)
		goto nomem;
	memcpy(d->image_, image, len);
	if (xts_key && (rc = nvsd_decrypt_image(d->image_, len, xts_key, err)))
		goto out;

	for (uint32_t pg = 0; pg < d->page_count; pg++) {
		const uint8_t *p = d->image_ + (size_t)pg * NVS_PAGE_SIZE;
		nvsd_decode_header(&d->pages[pg], p, pg);
		if ((rc = nvsd_check_page(dc, &d->pages[pg], p)))
			goto nomem;
		if (d->pages[pg].state == NVS_DECODE_PAGE_EMPTY)
			continue;
		if (!d->version)
			d->version = d->pages[pg].version_raw == PAGE_VERSION_2 ? 2 : 1;
		order[n_order].seq = d->pages[pg].seq;
		order[n_order].index = pg;
		n_order++;
	}
	/* The device reads pages in sequence-number order, so items and values
	 * (and which of two duplicates wins) follow that order. */
	qsort(order, n_order, sizeof(*order), cmp_page_order);
	for (size_t k = 0; k < n_order; k++) {
		uint32_t pg = order[k].index;
		if ((rc = nvsd_decode_page_entries(dc, pg, d->image_ + (size_t)pg * NVS_PAGE_SIZE, err)))
			goto out_rc;
	}
	if ((rc = nvsd_build_values(dc)))
		goto nomem;
	*out = d;
	d = NULL;
	rc = 0;
	goto out;
out_rc:
	if (rc != NVS_ENOMEM)
		goto out;
nomem:
	rc = NVS_ENOMEM;
	nvsd_set_err(err, NVS_ENOMEM, "out of memory decoding a %zu-byte image", len);
out:
	free(order);
	nvs_decode_free(d);
	if (dc)
		OPENSSL_cleanse(dc, sizeof(*dc));
	free(dc);
	return rc;
}

void nvs_decode_free(struct nvs_decode *d)
{
	if (!d)
		return;
	/* Values are secrets: wipe the reassembled blobs and the decoded copy. */
	for (size_t i = 0; i < d->value_count; i++)
		if (d->values[i].type == NVS_DECODE_BLOB_IDX && d->values[i].data)
			OPENSSL_cleanse((void *)d->values[i].data, d->values[i].len);
	for (size_t i = 0; i < d->blob_count_; i++)
		free(d->blobs_[i]);
	free(d->blobs_);
	if (d->image_)
		OPENSSL_cleanse(d->image_, d->size);
	free(d->image_);
	free(d->problems);
	free(d->values);
	free(d->namespaces);
	free(d->items);
	free(d->pages);
	free(d);
}

const struct nvs_decode_value *nvs_decode_find(const struct nvs_decode *d, const char *ns, const char *key)
{
	if (!d || !ns || !key)
		return NULL;
	for (size_t i = 0; i < d->value_count; i++) {
		const struct nvs_decode_value *v = &d->values[i];
		if (!v->shadowed && v->ns && !strcmp(v->ns, ns) && !strcmp(v->key, key))
			return v;
	}
	return NULL;
}
