/* Private to espfab_nvsgen: the pieces the nvs_*.c modules share. */
#ifndef ESPFAB_NVS_INTERNAL_H
#define ESPFAB_NVS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "espfab/nvs.h"
#include "espfab/le.h"

#define NVS_ENTRY_SIZE 32u
#define NVS_FIRST_ENTRY 64u      /* header (32) + entry state bitmap (32) */
#define NVS_PAGE_ENTRIES 126u    /* (4096 - 64) / 32 */
#define NVS_STATE_ACTIVE 0xFFFFFFFEu
#define NVS_STATE_FULL 0xFFFFFFFCu
#define NVS_CHUNK_ANY 0xFFu

/* Item types (nvs_types.h of ESP-IDF). */
enum nvs_item_type {
	NVS_TYPE_U8 = 0x01,
	NVS_TYPE_I8 = 0x11,
	NVS_TYPE_U16 = 0x02,
	NVS_TYPE_I16 = 0x12,
	NVS_TYPE_U32 = 0x04,
	NVS_TYPE_I32 = 0x14,
	NVS_TYPE_U64 = 0x08,
	NVS_TYPE_I64 = 0x18,
	NVS_TYPE_SZ = 0x21,
	NVS_TYPE_BLOB = 0x41,
	NVS_TYPE_BLOB_DATA = 0x42,
	NVS_TYPE_BLOB_IDX = 0x48,
};

/* Fill err (if not NULL) and return code. */
int nvs_fail(struct nvs_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- nvs_page.c: pages and entries inside one image buffer ---- */
struct nvs_spill {
	uint32_t off; /* in the image */
	uint8_t len;  /* zero bytes left there in plain images */
};

/* A page the reference made longer than 4096 bytes: an entry header with a
 * grown key (see nvs_gen.c) written to the page's last slot runs past the
 * page's end, and Python's bytearray slice assignment inserts the excess. */
struct nvs_growth {
	uint32_t page;
	uint8_t zeros; /* then ffs bytes of 0xFF */
	uint8_t ffs;
};

struct nvs_layout {
	uint8_t *img;         /* max_pages pages, all 0xFF where nothing was written */
	uint16_t *entries;    /* entries written, per page */
	uint32_t max_pages;   /* size / 4096 */
	uint32_t budget;      /* the reference's NVS.size countdown */
	uint32_t npages;      /* pages started */
	unsigned entry_num;   /* entries written in the current page */
	size_t dirty;         /* bytes of img from 0 that may differ from 0xFF */
	struct nvs_spill *spills; /* see nvs_page_spill_zeros() */
	size_t nspills, spills_cap;
	bool spill_pending;   /* the last spill is at the next slot to be written */
	struct nvs_growth *growth; /* see nvs_page_grow() */
	size_t ngrowth, growth_cap;
	size_t growth_bytes;  /* their total */
	uint8_t version_byte; /* 0xFF (V1) or 0xFE (V2) */
	bool read_only;
};

int nvs_layout_init(struct nvs_layout *l, uint32_t size, enum nvs_version v, struct nvs_err *err);
void nvs_layout_deinit(struct nvs_layout *l);
/* Back to a single empty ACTIVE page 0, re-filling only what was written. */
void nvs_layout_clear(struct nvs_layout *l);
/* NVS.create_new_page(): the current page becomes FULL, a new one starts.
 * NVS_ESIZE when the partition has no page left. */
int nvs_page_new(struct nvs_layout *l, struct nvs_err *err);
/* Copy len bytes (<= count * 32) to the next free slot(s), mark count entries written. */
void nvs_page_write(struct nvs_layout *l, const uint8_t *data, size_t len, unsigned count);
/* Zero bytes a grown entry struct spills into the next slot (see nvs_gen.c).
 * They exist only in plain images, so they are kept aside and applied by
 * nvs_layout_apply_spills() to a plain image; a later write into that slot
 * covers them. */
void nvs_page_spill_zeros(struct nvs_layout *l, size_t n);
void nvs_layout_apply_spills(const struct nvs_layout *l, uint8_t *buf);
/* A header of a key grown by g bytes was just written to the last slot of
 * the current page: the plain image gets g more bytes after this page,
 * max(g - 8, 0) zeros then min(g, 8) bytes 0xFF (the tail of the grown
 * entry struct). Encrypted images never have them (the reference encrypts
 * the first 32 bytes only). NVS_ENOMEM. */
int nvs_page_grow(struct nvs_layout *l, size_t g, struct nvs_err *err);
/* Insert the growth bytes into a plain image of nvs_layout_image_len()
 * bytes that buf holds; buf needs room for growth_bytes more. */
void nvs_layout_apply_growth(const struct nvs_layout *l, uint8_t *buf);
/* The entry header CRC: crc32 over bytes 0..3 and 8..31, stored at 4..7. */
void nvs_entry_set_crc(uint8_t e[32]);
uint32_t nvs_crc32(const uint8_t *data, size_t len);
/* Bytes of the finished image (read/write: the whole partition), without
 * growth_bytes. */
size_t nvs_layout_image_len(const struct nvs_layout *l);

/* ---- nvs_value.c: CSV text -> bytes ---- */
enum nvs_kind { NVS_KIND_PRIM, NVS_KIND_STRING, NVS_KIND_BLOB };

struct nvs_value {
	enum nvs_kind kind;
	uint8_t type;        /* PRIM: item type */
	unsigned width;      /* PRIM: bytes */
	uint64_t bits;       /* PRIM: two's complement value */
	const uint8_t *data; /* STRING (with its NUL) / BLOB */
	size_t len;
};

struct nvs_scratch {
	uint8_t *buf;
	size_t cap;
};

/* encoding: already lower-cased. value: the CSV text, or the file's bytes when
 * from_file (Python str vs bytes semantics differ in places); NULL when the
 * CSV row has no value column. Result data may point into scratch. max_len
 * bounds generated blobs (blob_fill N). */
int nvs_value_convert(const char *encoding, const uint8_t *value, size_t len, bool from_file, bool missing,
		      size_t max_len, struct nvs_scratch *s, struct nvs_value *out, struct nvs_err *err);
/* Python int(text, 0) (size arguments). */
int nvs_parse_int0(const char *text, int64_t *out);
/* Python int(text) in base 10, range-checked by the caller: sets *neg and
 * *mag. -1 not an integer, -2 beyond 64 bits, -3 out of memory. */
int nvs_parse_int10(const uint8_t *s, size_t len, bool from_file, bool *neg, uint64_t *mag);
/* Python's binascii.a2b_base64 (non-strict). out must hold len*3/4+3 bytes. */
int nvs_base64_decode(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

/* ---- nvs_crypt.c ---- */
struct nvs_xts {
	EVP_CIPHER_CTX *ctx;
	uint8_t key[NVS_XTS_KEY_LEN];
	size_t key_len; /* 32 (AES-128-XTS) or 64 (AES-256-XTS) */
	int enc; /* 1 encrypt, 0 decrypt, -1 no key loaded */
};
void nvs_xts_init(struct nvs_xts *x);
void nvs_xts_deinit(struct nvs_xts *x);
/* Load key for encryption (enc=1) or decryption (enc=0); a no-op when it is
 * already loaded. */
int nvs_xts_setkey(struct nvs_xts *x, const uint8_t key[NVS_XTS_KEY_LEN], int enc, struct nvs_err *err);
/* One run of len >= 16 bytes; the tweak is the little-endian byte offset of
 * the entry in the partition. */
int nvs_xts_run(struct nvs_xts *x, uint64_t offset, const uint8_t *in, uint8_t *out, size_t len, struct nvs_err *err);

#endif
