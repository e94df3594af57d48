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
#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/err.h"
#include "espfab/le.h"
#include "espfab/nvs_decode.h"

#define PAGE_STATE_EMPTY 0xFFFFFFFFu
#define PAGE_STATE_ACTIVE 0xFFFFFFFEu
#define PAGE_STATE_FULL 0xFFFFFFFCu
#define PAGE_STATE_FREEING 0xFFFFFFF8u
#define PAGE_STATE_CORRUPT 0xFFFFFFF0u
#define PAGE_STATE_INVALID 0x00000000u

#define PAGE_VERSION_1 0xFFu
#define PAGE_VERSION_2 0xFEu

/* Entry state bitmap values. */
#define ENTRY_EMPTY 3u
#define ENTRY_WRITTEN 2u
#define ENTRY_ERASED 0u

#define CHUNK_ANY 0xFFu
#define NS_COUNT 256u

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

static void set_err(struct nvs_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Messages quote keys read from the image: keep them one printable line. */
static void set_err(struct nvs_err *err, int code, const char *fmt, ...)
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
static int grow(void **arr, size_t *cap, size_t count, size_t elem)
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

struct decoder {
	struct nvs_decode *d;
	size_t item_cap, problem_cap, value_cap, blob_cap;
	/* namespace index -> position in d->namespaces + 1 (0: undefined) */
	unsigned ns_pos[NS_COUNT];
	char ns_name[NS_COUNT][NVS_DECODE_KEY_LEN + 1];
	bool ns_defined[NS_COUNT];
};

static int problem(struct decoder *dc, enum nvs_decode_problem_kind kind, uint32_t page, int slot, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));

static int problem(struct decoder *dc, enum nvs_decode_problem_kind kind, uint32_t page, int slot, const char *fmt,
		   ...)
{
	struct nvs_decode *d = dc->d;
	struct nvs_decode_problem *p;
	va_list ap;
	if (grow((void **)&d->problems, &dc->problem_cap, d->problem_count, sizeof(*d->problems)))
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
static int decrypt_image(uint8_t *img, size_t len, const uint8_t *key, struct nvs_err *err)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tweak[16], out[NVS_DECODE_ENTRY_SIZE];
	int rc = NVS_ECRYPTO, outl;

	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_xts(), NULL, key, NULL) != 1) {
		set_err(err, NVS_ECRYPTO, "AES-256-XTS: cannot set the key (are both halves equal?)");
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
				set_err(err, NVS_ECRYPTO, "AES-256-XTS: decryption failed at offset 0x%zx", off);
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

static void decode_header(struct nvs_decode_page *pg, const uint8_t *p, uint32_t index)
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

static int check_page(struct decoder *dc, const struct nvs_decode_page *pg, const uint8_t *p)
{
	int rc = 0;
	if (pg->state == NVS_DECODE_PAGE_EMPTY) {
		if (!all_ff(p, NVS_PAGE_SIZE))
			rc = problem(dc, NVS_DECODE_P_PAGE, pg->index, -1,
				     "page %u: state is EMPTY (0xffffffff) but the page holds data", pg->index);
		return rc;
	}
	if (!pg->header_crc_ok)
		rc = problem(dc, NVS_DECODE_P_HEADER_CRC, pg->index, -1,
			     "page %u: header CRC 0x%08x, computed 0x%08x", pg->index, pg->header_crc,
			     pg->header_crc_calc);
	if (!rc && pg->version_raw != PAGE_VERSION_1 && pg->version_raw != PAGE_VERSION_2)
		rc = problem(dc, NVS_DECODE_P_PAGE, pg->index, -1, "page %u: unknown format version 0x%02x",
			     pg->index, pg->version_raw);
	if (!rc && pg->state != NVS_DECODE_PAGE_ACTIVE && pg->state != NVS_DECODE_PAGE_FULL &&
	    pg->state != NVS_DECODE_PAGE_FREEING)
		rc = problem(dc, NVS_DECODE_P_PAGE, pg->index, -1, "page %u: state %s (0x%08x)", pg->index,
			     nvs_decode_page_state_name(pg->state), pg->state_raw);
	if (!rc && pg->illegal)
		rc = problem(dc, NVS_DECODE_P_BITMAP, pg->index, -1,
			     "page %u: %u entries have the illegal bitmap state 01", pg->index, pg->illegal);
	if (!rc && dc->d->version) {
		int v = pg->version_raw == PAGE_VERSION_2 ? 2 : 1;
		if (v != dc->d->version)
			rc = problem(dc, NVS_DECODE_P_PAGE, pg->index, -1,
				     "page %u: format version %d differs from the first page's %d", pg->index, v,
				     dc->d->version);
	}
	return rc;
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
	if ((rc = grow((void **)&d->items, &dc->item_cap, d->item_count, sizeof(*d->items))))
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
		return problem(dc, NVS_DECODE_P_ENTRY_CRC, page, (int)s,
			       "page %u entry %u (offset 0x%x) key '%.16s': entry CRC 0x%08x, computed 0x%08x", page,
			       s, offset, it->key, it->crc, it->crc_calc);
	}
	if (it->span == 0 || s + it->span > NVS_DECODE_ENTRIES_PER_PAGE) {
		set_err(err, NVS_EIMAGE, "page %u entry %u (offset 0x%x): span %u runs past the end of the page", page,
			s, offset, it->span);
		return NVS_EIMAGE;
	}
	*advance = it->span;

	switch (it->type) {
	case NVS_DECODE_U8:
	case NVS_DECODE_I8:
	case NVS_DECODE_U16:
	case NVS_DECODE_I16:
	case NVS_DECODE_U32:
	case NVS_DECODE_I32:
	case NVS_DECODE_U64:
	case NVS_DECODE_I64: {
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
			rc = problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': %s with span %u",
				     page, s, it->key, nvs_decode_type_name(it->type), it->span);
		break;
	}
	case NVS_DECODE_STR:
	case NVS_DECODE_BLOB:
	case NVS_DECODE_BLOB_DATA: {
		size_t size = le_get16(e + 24);
		size_t room = (size_t)(it->span - 1) * NVS_DECODE_ENTRY_SIZE;
		if (size > room) {
			set_err(err, NVS_EIMAGE,
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
			rc = problem(dc, NVS_DECODE_P_DATA_CRC, page, (int)s,
				     "page %u entry %u key '%s': data CRC 0x%08x, computed 0x%08x", page, s, it->key,
				     it->data_crc, it->data_crc_calc);
		for (unsigned k = 1; !rc && k < it->span; k++)
			if (entry_state(p, s + k) != ENTRY_WRITTEN)
				rc = problem(dc, NVS_DECODE_P_BITMAP, page, (int)(s + k),
					     "page %u entry %u: data of key '%s' is not marked written", page, s + k,
					     it->key);
		break;
	}
	case NVS_DECODE_BLOB_IDX:
		it->blob_size = le_get32(e + 24);
		it->chunk_count = e[28];
		it->chunk_start = e[29];
		if (it->span != 1)
			rc = problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': blob index with span %u",
				     page, s, it->key, it->span);
		break;
	default:
		rc = problem(dc, NVS_DECODE_P_TYPE, page, (int)s, "page %u entry %u key '%s': unknown type 0x%02x", page,
			     s, it->key, it->type);
		break;
	}
	if (rc)
		return rc;

	if (it->ns_index == 0) {
		/* Namespace definitions live in namespace 0 as u8 entries whose value is
		 * the index the namespace's entries carry. */
		if (it->type != NVS_DECODE_U8)
			return problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				       "page %u entry %u key '%s': %s entry in namespace 0", page, s, it->key,
				       nvs_decode_type_name(it->type) ? nvs_decode_type_name(it->type) : "unknown");
		if (it->u == 0 || it->u == 0xFF)
			return problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				       "page %u entry %u: namespace '%s' has the reserved index %u", page, s, it->key,
				       (unsigned)it->u);
		if (dc->ns_defined[it->u] && strcmp(dc->ns_name[it->u], it->key) != 0)
			return problem(dc, NVS_DECODE_P_NAMESPACE, page, (int)s,
				       "page %u entry %u: namespace index %u defined again as '%s' (was '%s')", page, s,
				       (unsigned)it->u, it->key, dc->ns_name[it->u]);
		if (!dc->ns_defined[it->u]) {
			dc->ns_defined[it->u] = true;
			memcpy(dc->ns_name[it->u], it->key, sizeof(dc->ns_name[it->u]));
		}
	}
	return 0;
}

static int decode_page_entries(struct decoder *dc, uint32_t page, const uint8_t *p, struct nvs_err *err)
{
	unsigned s = 0, adv;
	int rc;
	while (s < NVS_DECODE_ENTRIES_PER_PAGE) {
		const uint8_t *e = p + NVS_DECODE_FIRST_ENTRY + s * NVS_DECODE_ENTRY_SIZE;
		unsigned st = entry_state(p, s);
		if (st != ENTRY_WRITTEN) {
			if (st == ENTRY_EMPTY && !all_ff(e, NVS_DECODE_ENTRY_SIZE) &&
			    (rc = problem(dc, NVS_DECODE_P_BITMAP, page, (int)s,
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

/* Every good BLOB_DATA item, sorted by (namespace, key, chunk index, image
 * position), so that a blob index finds each of its chunks by binary search
 * (a crafted image may hold thousands of indices and chunks). */
struct chunk_ref {
	const struct nvs_decode_item *it;
	size_t pos; /* index in d->items */
};

static int cmp_chunk(const struct nvs_decode_item *a, size_t apos, const struct nvs_decode_item *b, size_t bpos)
{
	int c;
	if (a->ns_index != b->ns_index)
		return a->ns_index < b->ns_index ? -1 : 1;
	c = strcmp(a->key, b->key);
	if (c)
		return c;
	if (a->chunk_index != b->chunk_index)
		return a->chunk_index < b->chunk_index ? -1 : 1;
	return apos < bpos ? -1 : (apos > bpos);
}

static int cmp_chunk_ref(const void *x, const void *y)
{
	const struct chunk_ref *a = x, *b = y;
	return cmp_chunk(a->it, a->pos, b->it, b->pos);
}

/* First chunk_ref not ordered before (ns, key, chunk) of probe. */
static size_t chunk_lower_bound(const struct chunk_ref *refs, size_t n, const struct nvs_decode_item *probe,
				uint8_t chunk)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct nvs_decode_item *it = refs[mid].it;
		int c;
		if (it->ns_index != probe->ns_index)
			c = it->ns_index < probe->ns_index ? -1 : 1;
		else if ((c = strcmp(it->key, probe->key)) == 0)
			c = it->chunk_index < chunk ? -1 : (it->chunk_index > chunk);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* V2 blobs: chunk k of an index lives in a BLOB_DATA item of the same
 * namespace and key whose chunk_index is chunk_start + k. */
static int reassemble(struct decoder *dc, struct nvs_decode_value *v, bool *used, const struct chunk_ref *refs,
		      size_t nrefs)
{
	struct nvs_decode *d = dc->d;
	const struct nvs_decode_item *idx = v->item;
	const struct nvs_decode_item *hits[256];
	size_t total = 0, pos = 0;
	uint8_t *buf;
	bool complete = true;
	int rc;

	for (unsigned k = 0; k < idx->chunk_count; k++) {
		uint8_t want = (uint8_t)(idx->chunk_start + k);
		const struct nvs_decode_item *hit = NULL;
		size_t hi = 0, first = chunk_lower_bound(refs, nrefs, idx, want), end = first;
		while (end < nrefs && refs[end].it->ns_index == idx->ns_index && refs[end].it->chunk_index == want &&
		       !strcmp(refs[end].it->key, idx->key))
			end++;
		/* A rewritten blob leaves older chunks with the same key and chunk
		 * index behind: take the first one no earlier index has claimed,
		 * else the first one. */
		for (size_t j = first; j < end && !hit; j++)
			if (!used[refs[j].pos]) {
				hit = refs[j].it;
				hi = refs[j].pos;
			}
		if (!hit && first < end) {
			hit = refs[first].it;
			hi = refs[first].pos;
		}
		hits[k] = hit;
		if (!hit) {
			complete = false;
			if ((rc = problem(dc, NVS_DECODE_P_BLOB, idx->page, idx->slot,
					  "page %u entry %u: blob '%s' chunk %u (of %u) is missing", idx->page, idx->slot,
					  idx->key, (unsigned)want, (unsigned)idx->chunk_count)))
				return rc;
			continue;
		}
		used[hi] = true;
		total += hit->len;
		v->chunks++;
		if (!hit->data_crc_ok)
			complete = false;
	}
	if (complete && total != idx->blob_size) {
		complete = false;
		if ((rc = problem(dc, NVS_DECODE_P_BLOB, idx->page, idx->slot,
				  "page %u entry %u: blob '%s' has %zu bytes in its chunks, its index says %u", idx->page,
				  idx->slot, idx->key, total, idx->blob_size)))
			return rc;
	}
	if ((rc = grow((void **)&d->blobs_, &dc->blob_cap, d->blob_count_, sizeof(*d->blobs_))))
		return rc;
	buf = malloc(total ? total : 1);
	if (!buf)
		return NVS_ENOMEM;
	d->blobs_[d->blob_count_++] = buf;
	for (unsigned k = 0; k < idx->chunk_count; k++) {
		if (!hits[k])
			continue;
		memcpy(buf + pos, hits[k]->data, hits[k]->len);
		pos += hits[k]->len;
	}
	v->data = buf;
	v->len = total;
	v->ok = complete;
	return 0;
}

struct value_order {
	uint8_t ns_index;
	const char *key;
	size_t pos;
};

static int cmp_value_key(const void *a, const void *b)
{
	/* Ties keep image order so the first write is the one not shadowed. */
	const struct value_order *x = a, *y = b;
	int c;
	if (x->ns_index != y->ns_index)
		return x->ns_index < y->ns_index ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static int build_values(struct decoder *dc)
{
	struct nvs_decode *d = dc->d;
	bool *used = NULL;
	struct value_order *order = NULL;
	struct chunk_ref *refs = NULL;
	size_t nrefs = 0;
	int rc = 0;

	d->namespaces = calloc(NS_COUNT, sizeof(*d->namespaces));
	if (!d->namespaces) {
		rc = NVS_ENOMEM;
		goto out;
	}
	for (unsigned i = 1; i < NS_COUNT; i++) {
		if (!dc->ns_defined[i])
			continue;
		d->namespaces[d->namespace_count].index = (uint8_t)i;
		memcpy(d->namespaces[d->namespace_count].name, dc->ns_name[i], sizeof(dc->ns_name[i]));
		d->namespaces[d->namespace_count].item = NULL;
		for (size_t j = 0; j < d->item_count; j++)
			if (d->items[j].crc_ok && d->items[j].ns_index == 0 && d->items[j].type == NVS_DECODE_U8 &&
			    d->items[j].u == i) {
				d->namespaces[d->namespace_count].item = &d->items[j];
				break;
			}
		d->namespace_count++;
		dc->ns_pos[i] = (unsigned)d->namespace_count;
	}

	used = calloc(d->item_count ? d->item_count : 1, sizeof(*used));
	refs = malloc((d->item_count ? d->item_count : 1) * sizeof(*refs));
	if (!used || !refs) {
		rc = NVS_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < d->item_count; j++)
		if (d->items[j].type == NVS_DECODE_BLOB_DATA && d->items[j].crc_ok) {
			refs[nrefs].it = &d->items[j];
			refs[nrefs].pos = j;
			nrefs++;
		}
	qsort(refs, nrefs, sizeof(*refs), cmp_chunk_ref);
	for (size_t j = 0; j < d->item_count; j++) {
		const struct nvs_decode_item *it = &d->items[j];
		struct nvs_decode_value *v;
		if (!it->crc_ok || it->ns_index == 0 || it->type == NVS_DECODE_BLOB_DATA || !nvs_decode_type_name(it->type))
			continue;
		if ((rc = grow((void **)&d->values, &dc->value_cap, d->value_count, sizeof(*d->values))))
			goto out;
		v = &d->values[d->value_count++];
		memset(v, 0, sizeof(*v));
		v->ns_index = it->ns_index;
		v->ns = dc->ns_pos[it->ns_index] ? d->namespaces[dc->ns_pos[it->ns_index] - 1].name : NULL;
		v->key = it->key;
		v->type = it->type;
		v->item = it;
		v->u = it->u;
		v->i = it->i;
		v->ok = it->data_crc_ok;
		if (!v->ns && (rc = problem(dc, NVS_DECODE_P_NAMESPACE, it->page, it->slot,
					    "page %u entry %u: key '%s' is in undefined namespace index %u", it->page,
					    it->slot, it->key, it->ns_index)))
			goto out;
		if (it->type == NVS_DECODE_STR || it->type == NVS_DECODE_BLOB) {
			v->data = it->data;
			v->len = it->len;
		} else if (it->type == NVS_DECODE_BLOB_IDX && (rc = reassemble(dc, v, used, refs, nrefs))) {
			goto out;
		}
	}
	for (size_t j = 0; j < d->item_count; j++) {
		const struct nvs_decode_item *it = &d->items[j];
		if (it->type == NVS_DECODE_BLOB_DATA && it->crc_ok && !used[j] &&
		    (rc = problem(dc, NVS_DECODE_P_BLOB, it->page, it->slot,
				  "page %u entry %u: chunk %u of blob '%s' belongs to no blob index", it->page,
				  it->slot, it->chunk_index, it->key)))
			goto out;
	}

	/* Duplicates: sort indices by (ns, key, position); later ones are shadowed. */
	if (d->value_count > 1) {
		order = malloc(d->value_count * sizeof(*order));
		if (!order) {
			rc = NVS_ENOMEM;
			goto out;
		}
		for (size_t j = 0; j < d->value_count; j++) {
			order[j].ns_index = d->values[j].ns_index;
			order[j].key = d->values[j].key;
			order[j].pos = j;
		}
		qsort(order, d->value_count, sizeof(*order), cmp_value_key);
		for (size_t g = 0, e; g < d->value_count; g = e) {
			size_t win = SIZE_MAX;
			for (e = g + 1; e < d->value_count && order[e].ns_index == order[g].ns_index &&
					!strcmp(order[e].key, order[g].key);
			     e++)
				;
			if (e - g == 1)
				continue;
			/* What the device reads: loading an ACTIVE page erases an earlier
			 * item with the same namespace and key on that page (nvs_page.cpp,
			 * duplicate detection), then lookups take the first match in page
			 * order. */
			for (size_t k = g; k < e && win == SIZE_MAX; k++) {
				const struct nvs_decode_item *it = d->values[order[k].pos].item;
				bool erased = false;
				for (size_t m = k + 1; m < e && !erased; m++)
					erased = d->values[order[m].pos].item->page == it->page &&
						 d->pages[it->page].state == NVS_DECODE_PAGE_ACTIVE;
				if (!erased)
					win = order[k].pos;
			}
			for (size_t k = g; k < e; k++) {
				struct nvs_decode_value *b = &d->values[order[k].pos];
				if (order[k].pos == win)
					continue;
				b->shadowed = true;
				if ((rc = problem(dc, NVS_DECODE_P_DUPLICATE, b->item->page, b->item->slot,
						  "page %u entry %u: key '%s' is written more than once; the device reads "
						  "page %u entry %u",
						  b->item->page, b->item->slot, b->key, d->values[win].item->page,
						  d->values[win].item->slot)))
					goto out;
			}
		}
	}
out:
	free(refs);
	free(order);
	free(used);
	return rc;
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
		set_err(err, NVS_EINPUT, "nvs_decode_image: no image or no result pointer");
		return NVS_EINPUT;
	}
	if (len == 0 || len % NVS_PAGE_SIZE) {
		set_err(err, NVS_EIMAGE, "image is %zu bytes: not a whole number of %u-byte pages (truncated?)", len,
			NVS_PAGE_SIZE);
		return NVS_EIMAGE;
	}
	if (len / NVS_PAGE_SIZE > UINT32_MAX / NVS_PAGE_SIZE) {
		set_err(err, NVS_EIMAGE, "image is %zu bytes: larger than a 4 GiB partition", len);
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
	if (xts_key && (rc = decrypt_image(d->image_, len, xts_key, err)))
		goto out;

	for (uint32_t pg = 0; pg < d->page_count; pg++) {
		const uint8_t *p = d->image_ + (size_t)pg * NVS_PAGE_SIZE;
		decode_header(&d->pages[pg], p, pg);
		if ((rc = check_page(dc, &d->pages[pg], p)))
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
		if ((rc = decode_page_entries(dc, pg, d->image_ + (size_t)pg * NVS_PAGE_SIZE, err)))
			goto out_rc;
	}
	if ((rc = build_values(dc)))
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
	set_err(err, NVS_ENOMEM, "out of memory decoding a %zu-byte image", len);
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
