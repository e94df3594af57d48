/* NVS partition images: a native, byte-exact port of Espressif's
 * nvs_partition_gen.py 0.2.0 (see ../shared/golden/README.md for its quirks and
 * ../shared/golden/policy.tsv for where espfab deliberately differs).
 *
 * Pure: no files, no globals, no I/O. Each struct nvs_gen belongs to one
 * thread; different generators may run in parallel.
 *
 * NOTE: this header is the contract other modules code against. The nvsgen
 * owner may add to it; changing a signature means fixing every caller.
 */
#ifndef ESPFAB_NVS_H
#define ESPFAB_NVS_H

#include <stddef.h>
#include <stdint.h>

#define NVS_PAGE_SIZE 4096u
#define NVS_KEY_MAX 15u     /* bytes, without the NUL */
#define NVS_XTS_KEY_LEN 64u /* AES-256-XTS: data key then tweak key */

enum nvs_error {
	NVS_OK = 0,
	NVS_EINPUT = -1,  /* bad row: key, type, encoding or value */
	NVS_ESIZE = -2,   /* partition size invalid, or the data does not fit */
	NVS_ENOMEM = -3,
	NVS_ECRYPTO = -4,
	NVS_EIMAGE = -5,  /* an image being decoded is malformed */
	NVS_EIO = -6,     /* file-level helpers only */
};

/* Details of a failure, filled by the callee. msg is one line with no secret
 * values in it (it names the key, never the value). */
struct nvs_err {
	int code;      /* an enum nvs_error */
	unsigned line; /* CSV line number when known, else 0 */
	char msg[256];
};

enum nvs_version { NVS_VERSION_1 = 1, NVS_VERSION_2 = 2 };

struct nvs_gen;

/* size: partition size in bytes (multiple of 4096; 0x1000 and 0x2000 are the
 * reference's read-only mode). On success *out is owned by the caller. */
int nvs_gen_new(struct nvs_gen **out, uint32_t size, enum nvs_version version, struct nvs_err *err);
void nvs_gen_free(struct nvs_gen *g);
/* Forget every row so the generator can build the next image without allocating. */
void nvs_gen_reset(struct nvs_gen *g);

/* One row, exactly as a row of the reference's CSV: type is "namespace",
 * "data" or "file"; encoding as in the CSV (u8 ... i64, string, hex2bin,
 * base64, binary, blob_fill(N;0xPP), ...); value is the CSV text (value_len
 * bytes, need not be NUL-terminated). A "file" row's value is the file's
 * contents here: the file-level wrapper reads the file. */
int nvs_gen_add_row(struct nvs_gen *g, const char *key, const char *type, const char *encoding,
		    const char *value, size_t value_len, struct nvs_err *err);

/* Lay out the image into buf (cap >= the partition size). xts_key is NULL for
 * a plain image, else NVS_XTS_KEY_LEN bytes. *out_len is the image length
 * (smaller than the size only in read-only mode). The generator may be reset
 * and reused afterwards. */
int nvs_gen_finish(struct nvs_gen *g, const uint8_t *xts_key, uint8_t *buf, size_t cap, size_t *out_len,
		   struct nvs_err *err);

#endif
