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
 * contents here: the file-level wrapper reads the file. value NULL means the
 * row had no value (fine for namespace rows and blob_fill). Rows follow the
 * reference's write_entry(), Wi-Fi extras included (sta.ssid/sta.pswd add
 * sta.apinfo/pmk/apsw once; ap.ssid+ap.passwd+ap.authmode add ap.pmk_info).
 * Errors: NVS_EINPUT (bad row; err->msg "key 'k': reason", never the value),
 * NVS_ESIZE (the partition is full), NVS_ENOMEM, NVS_ECRYPTO. */
int nvs_gen_add_row(struct nvs_gen *g, const char *key, const char *type, const char *encoding,
		    const char *value, size_t value_len, struct nvs_err *err);

/* Lay out the image into buf (cap >= nvs_gen_image_len()). xts_key is NULL
 * for a plain image, else NVS_XTS_KEY_LEN bytes. *out_len is the image
 * length: the partition size, or less in read-only mode (only the pages
 * used). Like the reference, a plain image can also be a few bytes LONGER:
 * an entry whose key has multibyte characters, written to a page's last
 * slot, makes that page 4096 + (bytes - characters of the key) bytes long
 * (never in encrypted images). The generator may be reset and reused
 * afterwards. */
int nvs_gen_finish(struct nvs_gen *g, const uint8_t *xts_key, uint8_t *buf, size_t cap, size_t *out_len,
		   struct nvs_err *err);

/* ---- CSV input (nvs_gen.c) ----------------------------------------------- */

/* How "file" rows get their data. read() returns 0 and a malloc'd buffer the
 * caller (the generator) frees, or a negative enum nvs_error with err filled.
 * path is the row's value, as written in the CSV. */
struct nvs_file_source {
	int (*read)(void *ctx, const char *path, uint8_t **data, size_t *len, struct nvs_err *err);
	void *ctx;
};

/* Add every row of one CSV file's text, as nvs_partition_gen.py reads it: a
 * header line naming key,type,encoding,value (any order, extra columns
 * ignored), lines starting with '#' dropped, blank lines skipped, Python csv
 * quoting. A UTF-8 BOM is skipped. name labels errors ("name:line: key 'k':
 * reason", err->line set). files NULL refuses "file" rows. Rows already added
 * stay added on failure; callers normally discard the generator then. */
int nvs_gen_add_csv(struct nvs_gen *g, const char *text, size_t len, const char *name,
		    const struct nvs_file_source *files, struct nvs_err *err);

/* Add one row like nvs_gen_add_row() but with every column optional (NULL
 * means the CSV row had no such column) and lengths for all of them; "file"
 * rows are read through files. The general form nvs_gen_add_csv() uses. */
int nvs_gen_add_fields(struct nvs_gen *g, const char *key, size_t key_len, const char *type, size_t type_len,
		       const char *encoding, size_t encoding_len, const char *value, size_t value_len,
		       const struct nvs_file_source *files, struct nvs_err *err);

/* Entries (32-byte slots) written so far, over all pages. */
size_t nvs_gen_entry_count(const struct nvs_gen *g);

/* Length of the plain image nvs_gen_finish() would produce right now (an
 * encrypted one may be shorter, see there): the buffer size it needs. */
size_t nvs_gen_image_len(const struct nvs_gen *g);

/* Python int(text, 0), as the reference parses SIZE: "0x6000", "24576",
 * "0o...", "0b...", underscores, surrounding spaces. 0 or NVS_EINPUT. */
int nvs_parse_size(const char *text, int64_t *out);
/* Python int(text) (base 10, as argparse's type=int): " 01", "+2", "1_0",
 * Unicode digits. 0 or NVS_EINPUT (also beyond 64 bits). */
int nvs_parse_int(const char *text, int64_t *out);

/* ---- keys (nvs_crypt.c) ------------------------------------------------- */

#define NVS_KEYFILE_SIZE 4096u /* key (64) + CRC32 (4) + 0xFF padding */
#define NVS_HMAC_KEY_LEN 32u

/* The first 64 bytes of a key file are the XTS key (data key, tweak key).
 * Like the reference, the CRC is not checked. NVS_EINPUT if len < 64. */
int nvs_keyfile_parse(const uint8_t *data, size_t len, uint8_t key[NVS_XTS_KEY_LEN], struct nvs_err *err);
/* A key file as generate-key writes it. */
void nvs_keyfile_build(const uint8_t key[NVS_XTS_KEY_LEN], uint8_t out[NVS_KEYFILE_SIZE]);
/* Random XTS key (or any key material) from OpenSSL's CSPRNG. */
int nvs_key_random(uint8_t *key, size_t len, struct nvs_err *err);
/* HMAC-based key protection: HMAC-SHA256(hmac_key, 5A5ABEAE x8) ||
 * HMAC-SHA256(hmac_key, A5A5DECE x8). */
int nvs_key_from_hmac(const uint8_t *hmac_key, size_t hmac_len, uint8_t key[NVS_XTS_KEY_LEN], struct nvs_err *err);
/* The reference's `decrypt`: every 32-byte run that is not all 0xFF, outside
 * the first 64 bytes of each page, is decrypted; the tweak counts only the
 * decrypted runs of the page. out needs max(len, 1) bytes (an empty input
 * gives a single 0xFF, as the reference writes). */
int nvs_decrypt_image(const uint8_t *in, size_t len, const uint8_t key[NVS_XTS_KEY_LEN], uint8_t *out,
		      size_t *out_len, struct nvs_err *err);
/* The same with the key as the reference's `decrypt` reads it: the first
 * key_len (<= 64) bytes of the key file. 32 bytes are an AES-128-XTS key,
 * 64 an AES-256-XTS key; any other length fails (NVS_ECRYPTO) only when an
 * entry has to be decrypted, as in the reference. */
int nvs_decrypt_image_key(const uint8_t *in, size_t len, const uint8_t *key, size_t key_len, uint8_t *out,
			  size_t *out_len, struct nvs_err *err);

/* ---- files (nvs_file.c): the only functions of this library doing I/O --- */

/* Whole file into a malloc'd buffer (caller frees). NVS_EIO with the path. */
int nvs_file_read(const char *path, uint8_t **data, size_t *len, struct nvs_err *err);
/* Callers that word their own message use fsu_read_file() (espfab/fsu.h). */
/* Write via a temporary file in the same folder, fsync and rename(): either
 * the whole file appears or nothing. mode: permission bits (0644, 0600). */
int nvs_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode, struct nvs_err *err);
/* A file source reading paths relative to base_dir (NULL: the current
 * directory, as the reference does). base_dir must outlive the source. */
void nvs_file_source_init(struct nvs_file_source *s, const char *base_dir);
/* Read a CSV file and nvs_gen_add_csv() it, labelled with its path. */
int nvs_gen_add_csv_file(struct nvs_gen *g, const char *path, const struct nvs_file_source *files,
			 struct nvs_err *err);

#endif
