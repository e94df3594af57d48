/* Firmware images of a product: the files and offsets an ESP-IDF build
 * lists in build/flasher_args.json (components/esptool_py/
 * flasher_args.json.in), read and checked once when the product is defined.
 *
 * THE FORMAT (as ESP-IDF writes it):
 *   "flash_files": {"0x0": "bootloader/bootloader.bin", "0x10000": "app.bin", ...}
 *       every image, offset -> path relative to the JSON file's folder;
 *   "bootloader": {"offset": "0x0", "file": "...", "encrypted": "false"}, ...
 *       one object per flash target (bootloader, app, partition-table,
 *       otadata, ...): its name, and whether it must be written encrypted
 *       ("true"/"false" strings; a JSON boolean is taken too);
 *   "extra_esptool_args": {"chip": "esp32s3", ...}, "flash_settings": {...},
 *   "write_flash_args": [...]: the chip is kept, the rest is informative
 *       (the ROM path here writes images as they are, like esptool with
 *       --flash-mode/size/freq "keep").
 * Other top-level keys are ignored unless they are objects with "offset" or
 * "file" (a flash target of a newer ESP-IDF), which are checked like the rest.
 *
 * RULES: offsets are 4 KiB aligned (the ROM erases whole sectors, so an
 * unaligned image would erase its neighbour's head); images are non-empty,
 * FWIMG_MAX_TOTAL bytes in all; no two overlap; no flash target may be
 * encrypted (flash encryption needs the stub's encrypted writes, which the
 * ROM path here does not do); a named target must agree with flash_files.
 * Against a product (fwimg_check_product): no image may touch the NVS
 * partition (it is per device), and an image at the partition table's
 * offset must be the product's table (same entries).
 *
 * ERRORS: 0 or a negative enum fwimg_error; err->msg is one line naming the
 * file and the key ("build/flasher_args.json: flash_files.0x10000: ...").
 * It never holds image bytes.
 *
 * A struct fwimg_set is immutable once built and reference counted, so the
 * daemon hands the same bytes to every port's worker without copying them:
 * fwimg_set_ref() adds a reference (thread-safe), fwimg_set_unref() drops
 * one and frees the set with the last.
 */
#ifndef ESPFAB_FWIMG_H
#define ESPFAB_FWIMG_H

#include <stddef.h>
#include <stdint.h>

#define FWIMG_SECTOR 0x1000u
#define FWIMG_MAX_TOTAL (16u << 20) /* the largest ESP32 flash a product image set fills */
#define FWIMG_MAX_IMAGES 32u
#define FWIMG_CHIP_MAX 16u

enum fwimg_error {
	FWIMG_OK = 0,
	FWIMG_EINPUT = -1,    /* malformed JSON, bad key or value (msg names it) */
	FWIMG_EIO = -2,       /* a file could not be read */
	FWIMG_ECONFLICT = -3, /* overlap, NVS overlap, table differs from the product's */
	FWIMG_ENOMEM = -4,
};

struct fwimg_err {
	int code;
	char msg[512];
};

struct fwimg {
	uint32_t offset;
	char *name;        /* the flash target ("app"), or the file when none names it */
	char *file;        /* as written in the JSON (relative to its folder) */
	uint8_t *data;
	size_t len;
	char sha256[65];   /* hex of data */
};

struct fwimg_set {
	char chip[FWIMG_CHIP_MAX]; /* extra_esptool_args.chip, lower case ("esp32s3") */
	struct fwimg *images;      /* n, sorted by offset */
	size_t n;
	size_t total;              /* bytes of all images */
	_Atomic int refs_;         /* private: see fwimg_set_ref() */
};

/* Reads an image for the parser: *data (malloc'd, the parser takes it) and
 * *len, or a negative errno. file is the JSON's string as written. */
typedef int (*fwimg_load_fn)(void *ctx, const char *file, uint8_t **data, size_t *len);

/* Pure: parse and check flasher_args.json text. source names it in messages.
 * Every image is read through load. On success *out is the caller's (one
 * reference). */
int fwimg_parse(const char *json, size_t len, const char *source, fwimg_load_fn load, void *ctx,
		struct fwimg_set **out, struct fwimg_err *err);

/* The same for a file: the images are read relative to its folder. */
int fwimg_load(const char *path, struct fwimg_set **out, struct fwimg_err *err);

/* An empty set to fill (the store's loader): images are added with
 * fwimg_set_add(), which takes data (malloc'd; freed by it on failure too) and
 * computes its SHA-256;
 * call fwimg_set_check() when done (sorts, checks alignment, sizes, overlaps). */
int fwimg_set_new(const char *chip, struct fwimg_set **out, struct fwimg_err *err);
int fwimg_set_add(struct fwimg_set *set, uint32_t offset, const char *name, const char *file, uint8_t *data,
		  size_t len, struct fwimg_err *err);
int fwimg_set_check(struct fwimg_set *set, const char *source, struct fwimg_err *err);

/* The set against a product: nvs_offset/nvs_size is its NVS partition,
 * table/table_len its binary partition table at table_offset. */
int fwimg_check_product(const struct fwimg_set *set, const char *source, const uint8_t *table, size_t table_len,
			uint32_t table_offset, uint32_t nvs_offset, uint32_t nvs_size, struct fwimg_err *err);

/* The image at offset, or NULL. */
const struct fwimg *fwimg_find(const struct fwimg_set *set, uint32_t offset);

/* "ESP32-S3", "esp32s3" and "esp32-s3" are one chip: 1 when a and b are. */
int fwimg_chip_equal(const char *a, const char *b);

struct fwimg_set *fwimg_set_ref(struct fwimg_set *set); /* returns set; NULL is fine */
void fwimg_set_unref(struct fwimg_set *set);             /* NULL is fine */

#endif
