/* NVS decoder: the bytes of pages and entries (layout in nvs_decode.c),
 * decrypted first when the image is encrypted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/le.h"
#include "nvs_decode_int.h"

#define PAGE_STATE_EMPTY 0xFFFFFFFFu
#define PAGE_STATE_ACTIVE 0xFFFFFFFEu
#define PAGE_STATE_FULL 0xFFFFFFFCu
#define PAGE_STATE_FREEING 0xFFFFFFF8u
#define PAGE_STATE_CORRUPT 0xFFFFFFF0u
#define PAGE_STATE_INVALID 0x00000000u


/* Entry state bitmap values. */
#define ENTRY_EMPTY 3u
#define ENTRY_WRITTEN 2u
#define ENTRY_ERASED 0u

#define CHUNK_ANY 0xFFu

static uint32_t nvs_crc(const uint8_t *p, size_t n)
{
	/* The reference calls zlib.crc32(data, 0xFFFFFFFF). */
	uLong c = crc32(0xFFFFFFFFul, p, (uInt)n);
	return (uint32_t)c;
}

static uint32_t entry_crc(const uint8_t *e)
{
	uLong c = crc32(0xFFFFFFFFul, e, 4);
	c = crc32(c, e + 8, 24);
	return (uint32_t)c;
}

/* Erased flash: every byte 0xFF. Eight bytes at a time, as most of an
 * image is erased. */
static bool all_ff(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w != UINT64_MAX)
			return false;
	}
	for (; i < n; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

static unsigned entry_state(const uint8_t *page, unsigned slot)
{
	return (page[32 + slot / 4] >> ((slot % 4) * 2)) & 3u;
}

static enum nvs_decode_page_state page_state(uint32_t raw)
{
	switch (raw) {
	case PAGE_STATE_EMPTY:
		return NVS_DECODE_PAGE_EMPTY;
	case PAGE_STATE_ACTIVE:
		return NVS_DECODE_PAGE_ACTIVE;
	case PAGE_STATE_FULL:
		return NVS_DECODE_PAGE_FULL;
	case PAGE_STATE_FREEING:
		return NVS_DECODE_PAGE_FREEING;
	case PAGE_STATE_CORRUPT:
		return NVS_DECODE_PAGE_CORRUPT;
	case PAGE_STATE_INVALID:
		return NVS_DECODE_PAGE_INVALID;
	default:
		return NVS_DECODE_PAGE_UNKNOWN;
	}
}

int nvsd_decrypt_image(uint8_t *img, size_t len, const uint8_t *key, struct nvs_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tweak[16], out[NVS_DECODE_ENTRY_SIZE];
	int rc = NVS_ECRYPTO, outl;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_xts(), NULL, key, NULL) != 1) {
		nvsd_set_err(err, NVS_ECRYPTO, "AES-256-XTS: cannot set the key (are both halves equal?)");
		goto out;
	}
	for (size_t pg = 0; pg < len; pg += NVS_PAGE_SIZE) {
		for (unsigned s = 0; s < NVS_DECODE_ENTRIES_PER_PAGE; s++) {
			size_t off = pg + NVS_DECODE_FIRST_ENTRY + (size_t)s * NVS_DECODE_ENTRY_SIZE;
			uint64_t t = off;
			if (all_ff(img + off, NVS_DECODE_ENTRY_SIZE))
				continue;
			memset(tweak, 0, sizeof(tweak));
			for (unsigned b = 0; b < 8; b++)
				tweak[b] = (uint8_t)(t >> (8 * b));
			if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, tweak) != 1 ||
			    EVP_DecryptUpdate(ctx, out, &outl, img + off, (int)sizeof(out)) != 1 ||
			    outl != (int)sizeof(out)) {
				nvsd_set_err(err, NVS_ECRYPTO, "AES-256-XTS: decryption failed at offset 0x%zx", off);
				goto out;
			}
			memcpy(img + off, out, sizeof(out));
		}
	}
	rc = 0;
out:
	OPENSSL_cleanse(out, sizeof(out));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

void nvsd_decode_header(struct nvs_decode_page *pg, const uint8_t *p, uint32_t index)
{
	memset(pg, 0, sizeof(*pg));
	pg->index = index;
	pg->state_raw = le_get32(p);
	pg->state = page_state(pg->state_raw);
	pg->seq = le_get32(p + 4);
	pg->version_raw = p[8];
	pg->header_crc = le_get32(p + 28);
	pg->header_crc_calc = nvs_crc(p + 4, 24);
	pg->header_crc_ok = pg->state == NVS_DECODE_PAGE_EMPTY || pg->header_crc == pg->header_crc_calc;
	for (unsigned s = 0; s < NVS_DECODE_ENTRIES_PER_PAGE; s++) {
		switch (entry_state(p, s)) {
		case ENTRY_EMPTY:
			pg->empty++;
			break;
		case ENTRY_WRITTEN:
			pg->written++;
			break;
		case ENTRY_ERASED:
			pg->erased++;
			break;
		default:
			pg->illegal++;
			break;
		}
	}
}

int nvsd_check_page(struct decoder *dc, const struct nvs_decode_page *pg, const uint8_t *p)
{
	int rc = 0;
	if (pg->state == NVS_DECODE_PAGE_EMPTY) {
		if (!all_ff(p, NVS_PAGE_SIZE))
			rc = nvsd_problem(dc, NVS_DECODE_P_PAGE, pg->index, -1,
					  "page %u: state is EMPTY (0xffffffff) but the page holds data", pg->index);
		return rc;
	}
	if (!pg->header_crc_ok)
		rc = nvsd_problem(dc, NVS_DECODE_P_HEADER_CRC, pg->index, -1,
				  "page %u: header CRC 0x%08x, computed 0x%08x", pg->index, pg->header_crc,
				  pg->header_crc_calc);
	if (!rc && pg->version_raw != PAGE_VERSION_1 && pg->version_raw != PAGE_VERSION_2)
		rc = nvsd_problem(dc, NVS_DECODE_P_PAGE, pg->index, -1, "page %u: unknown format version 0x%02x",
				  pg->index, pg->version_raw);
	if (!rc && pg->state != NVS_DECODE_PAGE_ACTIVE && pg->state != NVS_DECODE_PAGE_FULL &&
	    pg->state != NVS_DECODE_PAGE_FREEING)
		rc = nvsd_problem(dc, NVS_DECODE_P_PAGE, pg->index, -1, "page %u: state %s (0x%08x)", pg->index,
				  nvs_decode_page_state_name(pg->state), pg->state_raw);
	if (!rc && pg->illegal)
		rc = nvsd_problem(dc, NVS_DECODE_P_BITMAP, pg->index, -1,
				  "page %u: %u entries have the illegal bitmap state 01", pg->index, pg->illegal);
	if (!rc && dc->d->version) {
		int v = pg->version_raw == PAGE_VERSION_2 ? 2 : 1;
		if (v != dc->d->version)
			rc = nvsd_problem(dc, NVS_DECODE_P_PAGE, pg->index, -1,
					  "page %u: format version %d differs from the first page's %d", pg->index, v,
					  dc->d->version);
	}
	return rc;
}

/* The data of entry it (slot s of page p): integer, string/blob data that
 * follows in the next span-1 slots, or a blob index. Rejects a size that does
 * not fit the span; records everything else as a problem. */
static int decode_payload(struct decoder *dc, struct nvs_decode_item *it, const uint8_t *p, unsigned s,
			  struct nvs_err *err)
{
	const uint8_t *e = p + NVS_DECODE_FIRST_ENTRY + s * NVS_DECODE_ENTRY_SIZE;
	uint32_t page = it->page, offset = it->offset;
	int rc = 0;

	if (nvs_decode_type_is_int(it->type)) {
		/* The low nibble is the width in bytes, 0x10 marks signed. */
		unsigned width = it->type & 0x0F;
		uint64_t raw = le_get64(e + 24);
		if (width < 8)
			raw &= (UINT64_C(1) << (8 * width)) - 1;
		it->u = raw;
		if ((it->type & 0x10) && width < 8 && (raw >> (8 * width - 1)) & 1)
			it->i = (int64_t)(raw | ~((UINT64_C(1) << (8 * width)) - 1));
		else
			it->i = (int64_t)raw;
		if (it->span != 1)
			rc = nvsd_problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': %s with span %u",
					  page, s, it->key, nvs_decode_type_name(it->type), it->span);
		return rc;
	}
	switch (it->type) {
	case NVS_DECODE_STR:
	case NVS_DECODE_BLOB:
	case NVS_DECODE_BLOB_DATA: {
		size_t size = le_get16(e + 24);
		size_t room = (size_t)(it->span - 1) * NVS_DECODE_ENTRY_SIZE;
		if (size > room) {
			nvsd_set_err(err, NVS_EIMAGE,
				     "page %u entry %u (offset 0x%x) key '%s': %s size %zu does not fit its span of %u",
				     page, s, offset, it->key, nvs_decode_type_name(it->type), size, it->span);
			return NVS_EIMAGE;
		}
		it->data = e + NVS_DECODE_ENTRY_SIZE;
		it->len = size;
		it->data_crc = le_get32(e + 28);
		it->data_crc_calc = nvs_crc(it->data, size);
		it->data_crc_ok = it->data_crc == it->data_crc_calc;
		if (!it->data_crc_ok)
			rc = nvsd_problem(dc, NVS_DECODE_P_DATA_CRC, page, (int)s,
					  "page %u entry %u key '%s': data CRC 0x%08x, computed 0x%08x", page, s, it->key,
					  it->data_crc, it->data_crc_calc);
		for (unsigned k = 1; !rc && k < it->span; k++)
			if (entry_state(p, s + k) != ENTRY_WRITTEN)
				rc = nvsd_problem(dc, NVS_DECODE_P_BITMAP, page, (int)(s + k),
						  "page %u entry %u: data of key '%s' is not marked written", page, s + k,
						  it->key);
		break;
	}
	case NVS_DECODE_BLOB_IDX:
		it->blob_size = le_get32(e + 24);
		it->chunk_count = e[28];
		it->chunk_start = e[29];
		if (it->span != 1)
			rc = nvsd_problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': blob index with span %u",
					  page, s, it->key, it->span);
		break;
	default:
		rc = nvsd_problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': unknown type 0x%02x", page,
				  s, it->key, it->type);
		break;
	}
	return rc;
}

/* Namespace definitions live in namespace 0 as u8 entries whose value is
 * the index the namespace's entries carry. */
static int define_namespace(struct decoder *dc, const struct nvs_decode_item *it, unsigned s)
{
	uint32_t page = it->page;

	if (it->type != NVS_DECODE_U8)
		return nvsd_problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				    "page %u entry %u key '%s': %s entry in namespace 0", page, s, it->key,
				    nvs_decode_type_name(it->type) ? nvs_decode_type_name(it->type) : "unknown");
	if (it->u == 0 || it->u == 0xFF)
		return nvsd_problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				    "page %u entry %u: namespace '%s' has the reserved index %u", page, s, it->key,
				    (unsigned)it->u);
	if (dc->ns_defined[it->u] && strcmp(dc->ns_name[it->u], it->key) != 0)
		return nvsd_problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				    "page %u entry %u: namespace index %u defined again as '%s' (was '%s')", page, s,
				    (unsigned)it->u, it->key, dc->ns_name[it->u]);
	if (!dc->ns_defined[it->u]) {
		dc->ns_defined[it->u] = true;
		memcpy(dc->ns_name[it->u], it->key, sizeof(dc->ns_name[it->u]));
	}
	return 0;
}

/* One written entry at slot s of page pg. Returns the slots it covers in
 * *advance, or a negative error (rejection or ENOMEM). */
static int decode_entry(struct decoder *dc, uint32_t page, const uint8_t *p, unsigned s, unsigned *advance,
			struct nvs_err *err)
{
	struct nvs_decode *d = dc->d;
	const uint8_t *e = p + NVS_DECODE_FIRST_ENTRY + s * NVS_DECODE_ENTRY_SIZE;
	struct nvs_decode_item *it;
	uint32_t offset = page * NVS_PAGE_SIZE + NVS_DECODE_FIRST_ENTRY + s * NVS_DECODE_ENTRY_SIZE;
	int rc;

	*advance = 1;
	if ((rc = nvsd_grow((void **)&d->items, &dc->item_cap, d->item_count, sizeof(*d->items))))
		return rc;
	it = &d->items[d->item_count];
	memset(it, 0, sizeof(*it));
	it->page = page;
	it->slot = (uint8_t)s;
	it->offset = offset;
	it->ns_index = e[0];
	it->type = e[1];
	it->span = e[2];
	it->chunk_index = e[3];
	it->crc = le_get32(e + 4);
	it->crc_calc = entry_crc(e);
	it->crc_ok = it->crc == it->crc_calc;
	it->data_crc_ok = true;
	memcpy(it->key, e + 8, NVS_DECODE_KEY_LEN);
	it->key[NVS_DECODE_KEY_LEN] = '\0';
	d->item_count++;

	if (!it->crc_ok) {
		/* The span of a damaged entry is not trusted: the device erases the
		 * one entry and looks at the next, and so do we. */
		return nvsd_problem(dc, NVS_DECODE_P_ENTRY_CRC, page, (int)s,
				    "page %u entry %u (offset 0x%x) key '%.16s': entry CRC 0x%08x, computed 0x%08x", page,
				    s, offset, it->key, it->crc, it->crc_calc);
	}
	if (it->span == 0 || s + it->span > NVS_DECODE_ENTRIES_PER_PAGE) {
		nvsd_set_err(err, NVS_EIMAGE, "page %u entry %u (offset 0x%x): span %u runs past the end of the page", page,
			     s, offset, it->span);
		return NVS_EIMAGE;
	}
	*advance = it->span;

	if ((rc = decode_payload(dc, it, p, s, err)))
		return rc;
	if (it->ns_index == 0)
		return define_namespace(dc, it, s);
	return 0;
}

int nvsd_decode_page_entries(struct decoder *dc, uint32_t page, const uint8_t *p, struct nvs_err *err)
{
	unsigned s = 0, adv;
	int rc;
	while (s < NVS_DECODE_ENTRIES_PER_PAGE) {
		const uint8_t *e = p + NVS_DECODE_FIRST_ENTRY + s * NVS_DECODE_ENTRY_SIZE;
		unsigned st = entry_state(p, s);
		if (st != ENTRY_WRITTEN) {
			if (st == ENTRY_EMPTY && !all_ff(e, NVS_DECODE_ENTRY_SIZE) &&
			    (rc = nvsd_problem(dc, NVS_DECODE_P_BITMAP, page, (int)s,
					       "page %u entry %u: marked empty but holds data", page, s)))
				return rc;
			s++;
			continue;
		}
		if ((rc = decode_entry(dc, page, p, s, &adv, err)))
			return rc;
		s += adv;
	}
	return 0;
}

