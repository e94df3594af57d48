/* NVS partition image decoder: the reading half of espfab/nvs.h.
 *
 * Decodes an ESP-IDF NVS image (plain or AES-256-XTS encrypted) held in
 * memory into an owned, read-only result: page headers, every written entry,
 * the namespaces, and the logical values (integers, strings, V1 blobs and V2
 * multi-page blobs reassembled from their chunks). Every CRC is checked;
 * a mismatch or an inconsistency is recorded as a problem, not a failure, so
 * that a damaged image can still be inspected. Only input that cannot be
 * walked at all (wrong length, an entry whose own CRC is good but whose span
 * runs past its page or whose size does not fit its span) is rejected.
 *
 * Pure: no files, no globals, no I/O, no logging. Thread-safe (each call owns
 * its result). Values are secrets in general: the library never prints them;
 * callers decide what to show.
 */
#ifndef ESPFAB_NVS_DECODE_H
#define ESPFAB_NVS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/nvs.h"

#define NVS_DECODE_ENTRY_SIZE 32u
#define NVS_DECODE_ENTRIES_PER_PAGE 126u
#define NVS_DECODE_FIRST_ENTRY 64u /* 32-byte header + 32-byte state bitmap */
#define NVS_DECODE_KEY_LEN 16u     /* key field bytes; a 16-byte key has no NUL */

/* Page states as the device writes them (each one clears more low bits). */
enum nvs_decode_page_state {
	NVS_DECODE_PAGE_EMPTY,   /* 0xFFFFFFFF: never written */
	NVS_DECODE_PAGE_ACTIVE,  /* 0xFFFFFFFE */
	NVS_DECODE_PAGE_FULL,    /* 0xFFFFFFFC */
	NVS_DECODE_PAGE_FREEING, /* 0xFFFFFFF8 */
	NVS_DECODE_PAGE_CORRUPT, /* 0xFFFFFFF0 */
	NVS_DECODE_PAGE_INVALID, /* 0x00000000 */
	NVS_DECODE_PAGE_UNKNOWN, /* any other value */
};

/* Entry type bytes (ESP-IDF ItemType). */
enum nvs_decode_type {
	NVS_DECODE_U8 = 0x01,
	NVS_DECODE_I8 = 0x11,
	NVS_DECODE_U16 = 0x02,
	NVS_DECODE_I16 = 0x12,
	NVS_DECODE_U32 = 0x04,
	NVS_DECODE_I32 = 0x14,
	NVS_DECODE_U64 = 0x08,
	NVS_DECODE_I64 = 0x18,
	NVS_DECODE_STR = 0x21,
	NVS_DECODE_BLOB = 0x41,      /* V1 blob: one item, data in the following entries */
	NVS_DECODE_BLOB_DATA = 0x42, /* V2 blob chunk */
	NVS_DECODE_BLOB_IDX = 0x48,  /* V2 blob index: size, chunk count, chunk start */
};

enum nvs_decode_problem_kind {
	NVS_DECODE_P_HEADER_CRC, /* page header CRC mismatch */
	NVS_DECODE_P_ENTRY_CRC,  /* entry CRC mismatch (the entry's value is not trusted) */
	NVS_DECODE_P_DATA_CRC,   /* string / blob / chunk data CRC mismatch */
	NVS_DECODE_P_BITMAP,     /* entry state bitmap disagrees with the entries */
	NVS_DECODE_P_PAGE,       /* odd page state, version or empty page holding data */
	NVS_DECODE_P_TYPE,       /* unknown type byte or a span wrong for the type */
	NVS_DECODE_P_NAMESPACE,  /* entry in an undefined namespace, or a bad definition */
	NVS_DECODE_P_BLOB,       /* V2 blob: missing or orphan chunk, size mismatch */
	NVS_DECODE_P_DUPLICATE,  /* the same namespace and key written more than once */
};

struct nvs_decode_problem {
	enum nvs_decode_problem_kind kind;
	uint32_t page;   /* page number in the image */
	int slot;        /* entry slot 0..125, or -1 for the page header */
	uint32_t offset; /* byte offset in the image */
	char msg[160];   /* one line; names keys, never values */
};

struct nvs_decode_page {
	uint32_t index; /* page number in the image (offset / 4096) */
	enum nvs_decode_page_state state;
	uint32_t state_raw;
	uint32_t seq;
	uint8_t version_raw; /* 0xFE: V2, 0xFF: V1 */
	bool header_crc_ok;  /* always true for an empty page */
	uint32_t header_crc, header_crc_calc;
	unsigned written, erased, empty, illegal; /* entry bitmap counts */
};

/* One written item: an entry header plus its span-1 data entries. */
struct nvs_decode_item {
	uint32_t page;
	uint8_t slot;
	uint8_t span;
	uint32_t offset;     /* byte offset of the header entry in the image */
	uint8_t ns_index;    /* 0 for namespace definitions */
	uint8_t type;        /* raw type byte: an enum nvs_decode_type when known */
	uint8_t chunk_index; /* 0xFF except for V2 blob chunks */
	char key[NVS_DECODE_KEY_LEN + 1];
	bool crc_ok;      /* entry CRC */
	bool data_crc_ok; /* data CRC for strings, blobs and chunks; true for others */
	uint32_t crc, crc_calc;
	/* integers (also a namespace definition's index): u is the raw value,
	 * i the same value sign-extended from the type's width */
	uint64_t u;
	int64_t i;
	/* strings, V1 blobs and chunks: the payload (points into the result) */
	const uint8_t *data;
	size_t len;
	uint32_t data_crc, data_crc_calc;
	/* V2 blob index */
	uint32_t blob_size;
	uint8_t chunk_count, chunk_start;
};

struct nvs_decode_namespace {
	uint8_t index;
	char name[NVS_DECODE_KEY_LEN + 1];
	const struct nvs_decode_item *item;
};

/* A logical value: what nvs_get_*() on the device would see. */
struct nvs_decode_value {
	const char *ns; /* namespace name, NULL when the index is undefined */
	uint8_t ns_index;
	const char *key;
	uint8_t type;                     /* integer types, STR, BLOB (V1) or BLOB_IDX (V2 blob) */
	uint64_t u;                       /* integers, as in the item */
	int64_t i;
	const uint8_t *data;              /* strings and blobs (V2: reassembled) */
	size_t len;
	unsigned chunks;                  /* V2 blobs: chunks found */
	bool ok;                          /* every CRC good and, for V2 blobs, complete */
	bool shadowed;                    /* a duplicate (ns, key) the device would not read */
	const struct nvs_decode_item *item; /* the header item (V2: the index) */
};

/* The result. Every pointer inside points into it; nvs_decode_free()
 * releases all of it. Arrays are in image order: pages by page number, items
 * and values by page (ordered by sequence number) then slot. */
struct nvs_decode {
	size_t size;    /* image length in bytes */
	bool encrypted; /* decoded with an XTS key */
	int version;    /* 1 or 2 from the first written page, 0 when none */
	struct nvs_decode_page *pages;
	size_t page_count;
	struct nvs_decode_item *items;
	size_t item_count;
	struct nvs_decode_namespace *namespaces;
	size_t namespace_count;
	struct nvs_decode_value *values;
	size_t value_count;
	struct nvs_decode_problem *problems;
	size_t problem_count;
	uint8_t *image_; /* private: the (decrypted) copy the items point into */
	uint8_t **blobs_;
	size_t blob_count_;
};

/* Decode len bytes of image. xts_key is NULL for a plain image, else
 * NVS_XTS_KEY_LEN bytes (the first 64 bytes of an nvs_keys.bin file); each
 * non-blank 32-byte entry is decrypted with AES-256-XTS, the tweak being the
 * entry's byte offset in the partition. On success *out is owned by the
 * caller (nvs_decode_free); on failure *out is NULL and err says why
 * (NVS_EIMAGE with page, entry and offset, NVS_ENOMEM or NVS_ECRYPTO). */
int nvs_decode_image(const uint8_t *image, size_t len, const uint8_t *xts_key, struct nvs_decode **out,
		     struct nvs_err *err);
/* Releases the result and wipes the decoded copy. NULL is fine. */
void nvs_decode_free(struct nvs_decode *d);

/* The value the device would read for (ns, key), among those whose entry
 * CRC is good: of duplicates on an ACTIVE page the last one (the device
 * erases the earlier when it loads the page), else the first in page
 * sequence order. NULL if none. */
const struct nvs_decode_value *nvs_decode_find(const struct nvs_decode *d, const char *ns, const char *key);

/* "u8", "i8", ... "string", "blob", "blob_data", "blob_index"; NULL if unknown. */
const char *nvs_decode_type_name(uint8_t type);
/* "EMPTY", "ACTIVE", "FULL", "FREEING", "CORRUPT", "INVALID", "UNKNOWN". */
const char *nvs_decode_page_state_name(enum nvs_decode_page_state s);
/* "header_crc", "entry_crc", ... (stable names for JSON). */
const char *nvs_decode_problem_name(enum nvs_decode_problem_kind k);
/* True for the integer types. */
bool nvs_decode_type_is_int(uint8_t type);

#endif
