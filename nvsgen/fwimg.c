/* Firmware image sets from ESP-IDF's flasher_args.json. See fwimg.h. */
#include "espfab/err.h"
#include "espfab/fwimg.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "espfab/fsu.h"
#include "espfab/nvs.h"
#include "espfab/part.h"

ERR_DEFINE_FAIL(static, fail, fwimg_err)

static void set_free(struct fwimg_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->images[i].name);
		free(set->images[i].file);
		free(set->images[i].data);
	}
	free(set->images);
	free(set);
}

struct fwimg_set *fwimg_set_ref(struct fwimg_set *set)
{
	if (set)
		atomic_fetch_add(&set->refs_, 1);
	return set;
}

void fwimg_set_unref(struct fwimg_set *set)
{
	if (set && atomic_fetch_sub(&set->refs_, 1) == 1)
		set_free(set);
}

int fwimg_chip_equal(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-' || *a == '_')
			a++;
		while (*b == '-' || *b == '_')
			b++;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		if (!*a)
			return 1;
		a++;
		b++;
	}
}

int fwimg_set_new(const char *chip, struct fwimg_set **out, struct fwimg_err *err)
{
	struct fwimg_set *set;
	size_t i;

	*out = NULL;
	if (!chip || strlen(chip) >= FWIMG_CHIP_MAX)
		return fail(err, FWIMG_EINPUT, "chip name must be shorter than %u characters", FWIMG_CHIP_MAX);
	set = calloc(1, sizeof(*set));
	if (!set)
		return fail(err, FWIMG_ENOMEM, "out of memory");
	for (i = 0; chip[i]; i++)
		set->chip[i] = (char)tolower((unsigned char)chip[i]);
	atomic_init(&set->refs_, 1);
	*out = set;
	return 0;
}

int fwimg_set_add(struct fwimg_set *set, uint32_t offset, const char *name, const char *file, uint8_t *data,
		  size_t len, struct fwimg_err *err)
{
	struct fwimg *img;
	uint8_t md[32];
	int rc = 0;

	if (set->n >= FWIMG_MAX_IMAGES) {
		rc = fail(err, FWIMG_EINPUT, "more than %u images", FWIMG_MAX_IMAGES);
		goto out;
	}
	if (!set->n || !(set->n & (set->n - 1))) { /* grow at 1, 2, 4, ... */
		struct fwimg *im = realloc(set->images, (set->n ? set->n * 2 : 1) * sizeof(*im));
		if (!im) {
			rc = fail(err, FWIMG_ENOMEM, "out of memory");
			goto out;
		}
		set->images = im;
	}
	img = &set->images[set->n];
	memset(img, 0, sizeof(*img));
	img->name = strdup(name);
	img->file = strdup(file);
	if (!img->name || !img->file || !EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL)) {
		free(img->name);
		free(img->file);
		rc = fail(err, FWIMG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		snprintf(img->sha256 + 2 * i, 3, "%02x", md[i]);
	img->offset = offset;
	img->data = data;
	img->len = len;
	data = NULL;
	set->n++;
out:
	free(data);
	return rc;
}

static int by_offset(const void *a, const void *b)
{
	const struct fwimg *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int fwimg_set_check(struct fwimg_set *set, const char *source, struct fwimg_err *err)
{
	uint64_t total = 0;

	if (!set->n)
		return fail(err, FWIMG_EINPUT, "%s: flash_files: no images", source);
	qsort(set->images, set->n, sizeof(*set->images), by_offset);
	for (size_t i = 0; i < set->n; i++) {
		const struct fwimg *im = &set->images[i];
		if (im->offset % FWIMG_SECTOR)
			return fail(err, FWIMG_EINPUT,
				    "%s: flash_files.0x%x (%s): offset is not a multiple of 4 KiB (a flash sector)",
				    source, im->offset, im->file);
		if (!im->len)
			return fail(err, FWIMG_EINPUT, "%s: flash_files.0x%x: %s is empty", source, im->offset,
				    im->file);
		total += im->len;
		if (total > FWIMG_MAX_TOTAL || (uint64_t)im->offset + im->len > 0x100000000ull)
			return fail(err, FWIMG_EINPUT, "%s: flash_files.0x%x: %s: images exceed %u MiB", source,
				    im->offset, im->file, FWIMG_MAX_TOTAL >> 20);
		if (i && (uint64_t)set->images[i - 1].offset + set->images[i - 1].len > im->offset) {
			const struct fwimg *p = &set->images[i - 1];
			return fail(err, FWIMG_ECONFLICT,
				    "%s: flash_files.0x%x: %s (0x%x..0x%llx) overlaps %s (0x%x..0x%llx)", source,
				    im->offset, im->file, im->offset, (unsigned long long)im->offset + im->len,
				    p->file, p->offset, (unsigned long long)p->offset + p->len);
		}
	}
	set->total = (size_t)total;
	return 0;
}

const struct fwimg *fwimg_find(const struct fwimg_set *set, uint32_t offset)
{
	for (size_t i = 0; set && i < set->n; i++)
		if (set->images[i].offset == offset)
			return &set->images[i];
	return NULL;
}

/* ESP-IDF writes offsets as "0x10000"; a decimal one is taken too. The whole
 * string must be the number. */
static int parse_offset(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "encrypted": ESP-IDF writes the strings "true"/"false". */
static int parse_bool(json_t *v, int *out)
{
	const char *s = json_string_value(v);

	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (s && !strcmp(s, "true")) {
		*out = 1;
		return 0;
	}
	if (s && !strcmp(s, "false")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static int is_target(json_t *v)
{
	return json_is_object(v) && (json_object_get(v, "offset") || json_object_get(v, "file"));
}

/* esptool's write_flash rewrites the flash mode and size bytes of the image
 * header at the bootloader's offset (bytes 2 and 3) with flasher_args.json's
 * settings. espfab writes images as they are, so it refuses a set where that
 * rewrite would change them: an ESP-IDF build always agrees with itself.
 * Frequency is left alone (its code differs per chip); "keep" and "detect"
 * (decided at flashing time) are not checked. */
static int check_flash_settings(const struct fwimg_set *set, json_t *fs, const char *source, struct fwimg_err *err)
{
	static const char *const modes[] = {"qio", "qout", "dio", "dout"};
	static const char *const sizes[] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB"};
	const struct fwimg *boot = NULL;
	const char *mode, *size;

	if (!fs)
		return 0;
	if (!json_is_object(fs))
		return fail(err, FWIMG_EINPUT, "%s: flash_settings: must be an object", source);
	for (size_t i = 0; i < set->n && !boot; i++)
		if (set->images[i].name && !strcmp(set->images[i].name, "bootloader"))
			boot = &set->images[i];
	/* Not an image header: esptool leaves it alone too. */
	if (!boot || boot->len < 24 || boot->data[0] != 0xE9)
		return 0;
	mode = json_string_value(json_object_get(fs, "flash_mode"));
	size = json_string_value(json_object_get(fs, "flash_size"));
	if (mode && strcmp(mode, "keep")) {
		size_t m = 0;
		while (m < 4 && strcmp(modes[m], mode))
			m++;
		if (m == 4)
			return fail(err, FWIMG_EINPUT, "%s: flash_settings.flash_mode: '%.20s' is not qio, qout, dio or dout",
				    source, mode);
		if (boot->data[2] != m)
			return fail(err, FWIMG_ECONFLICT,
				    "%s: flash_settings.flash_mode is %s but %.100s's header says %s: esptool would "
				    "rewrite it, espfab writes images as they are",
				    source, mode, boot->file, boot->data[2] < 4 ? modes[boot->data[2]] : "unknown");
	}
	if (size && strcmp(size, "keep") && strcmp(size, "detect")) {
		size_t z = 0;
		while (z < 8 && strcmp(sizes[z], size))
			z++;
		if (z == 8)
			return fail(err, FWIMG_EINPUT, "%s: flash_settings.flash_size: '%.20s' is not a flash size like 4MB",
				    source, size);
		if ((boot->data[3] >> 4) != z)
			return fail(err, FWIMG_ECONFLICT,
				    "%s: flash_settings.flash_size is %s but %.100s's header says %s: esptool would "
				    "rewrite it, espfab writes images as they are",
				    source, size, boot->file, (boot->data[3] >> 4) < 8 ? sizes[boot->data[3] >> 4] : "unknown");
	}
	return 0;
}

/* One flash_files entry: "offset": "file", the file read through load.
 * *loaded counts the bytes read so far (the whole set is bounded). */
static int add_flash_file(struct fwimg_set *set, const char *source, const char *key, json_t *v, fwimg_load_fn load,
			  void *ctx, uint64_t *loaded, struct fwimg_err *err)
{
	uint32_t off;
	uint8_t *data = NULL;
	size_t dlen = 0;
	const char *file = json_string_value(v);
	if (parse_offset(key, &off))
		return fail(err, FWIMG_EINPUT, "%s: flash_files: key '%.40s' is not a flash offset", source, key);
	if (!file || !*file)
		return fail(err, FWIMG_EINPUT, "%s: flash_files.%.40s: must be a file name", source, key);
	int e = load(ctx, file, &data, &dlen);
	if (e)
		return fail(err, FWIMG_EIO, "%s: flash_files.%.40s: %.100s: %s", source, key, file, strerror(-e));
	/* Stop reading as soon as the set is too large, not after. */
	*loaded += dlen;
	if (*loaded > FWIMG_MAX_TOTAL) {
		free(data);
		return fail(err, FWIMG_EINPUT, "%s: flash_files.%.40s: %.100s: images exceed %u MiB", source, key,
			    file, FWIMG_MAX_TOTAL >> 20);
	}
	return fwimg_set_add(set, off, file, file, data, dlen, err);
}

/* The flash targets: their names, and the encryption flag. A target names
 * an image flash_files already holds. */
static int name_target(struct fwimg_set *set, const char *source, const char *key, json_t *v, struct fwimg_err *err)
{
	json_t *o = json_object_get(v, "offset"), *f = json_object_get(v, "file");
	json_t *enc = json_object_get(v, "encrypted");
	uint32_t off;
	int encrypted = 0;
	struct fwimg *im = NULL;
	if (!is_target(v))
		return 0;
	if (parse_offset(json_string_value(o), &off))
		return fail(err, FWIMG_EINPUT, "%s: %.40s.offset: %s", source, key,
			    o ? "must be a flash offset string like \"0x10000\"" : "missing");
	if (!json_is_string(f))
		return fail(err, FWIMG_EINPUT, "%s: %.40s.file: %s", source, key,
			    f ? "must be a file name" : "missing");
	if (enc && parse_bool(enc, &encrypted))
		return fail(err, FWIMG_EINPUT, "%s: %.40s.encrypted: must be \"true\" or \"false\"", source, key);
	if (encrypted)
		return fail(err, FWIMG_EINPUT,
			    "%s: %.40s.encrypted: flash encryption is not supported (images are written in "
			    "plain text by the ROM loader)",
			    source, key);
	for (size_t i = 0; i < set->n && !im; i++)
		if (set->images[i].offset == off)
			im = &set->images[i];
	if (!im || strcmp(im->file, json_string_value(f)))
		return fail(err, FWIMG_EINPUT, "%s: %.40s: 0x%x %.100s is not in flash_files", source, key, off,
			    json_string_value(f));
	char *name = strdup(key);
	if (!name)
		return fail(err, FWIMG_ENOMEM, "out of memory");
	free(im->name);
	im->name = name;
	return 0;
}

int fwimg_parse(const char *json, size_t len, const char *source, fwimg_load_fn load, void *ctx,
		struct fwimg_set **out, struct fwimg_err *err)
{
	json_t *root = NULL, *files, *extra, *chip, *v;
	json_error_t jerr;
	struct fwimg_set *set = NULL;
	const char *key;
	uint64_t loaded = 0;
	int rc;

	*out = NULL;
	if (!source)
		source = "flasher_args.json";
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = fail(err, FWIMG_EINPUT, "%s:%d: %s", source, jerr.line, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = fail(err, FWIMG_EINPUT, "%s: not a JSON object", source);
		goto out;
	}
	extra = json_object_get(root, "extra_esptool_args");
	chip = json_object_get(extra, "chip");
	if (!json_is_object(extra)) {
		rc = fail(err, FWIMG_EINPUT, "%s: extra_esptool_args: %s", source,
			  extra ? "must be an object" : "missing (it names the chip)");
		goto out;
	}
	if (!json_is_string(chip) || !json_string_length(chip) || json_string_length(chip) >= FWIMG_CHIP_MAX) {
		rc = fail(err, FWIMG_EINPUT, "%s: extra_esptool_args.chip: %s", source,
			  chip ? "must be a chip name like \"esp32s3\"" : "missing");
		goto out;
	}
	rc = fwimg_set_new(json_string_value(chip), &set, err);
	if (rc)
		goto out;
	files = json_object_get(root, "flash_files");
	if (!json_is_object(files)) {
		rc = fail(err, FWIMG_EINPUT, "%s: flash_files: %s", source, files ? "must be an object" : "missing");
		goto out;
	}
	json_object_foreach(files, key, v) {
		if ((rc = add_flash_file(set, source, key, v, load, ctx, &loaded, err)))
			goto out;
	}
	json_object_foreach(root, key, v) {
		if ((rc = name_target(set, source, key, v, err)))
			goto out;
	}
	rc = check_flash_settings(set, json_object_get(root, "flash_settings"), source, err);
	if (!rc)
		rc = fwimg_set_check(set, source, err);
	if (rc)
		goto out;
	*out = set;
	set = NULL;
out:
	fwimg_set_unref(set);
	json_decref(root);
	return rc;
}

struct dir_loader {
	const char *dir; /* with a trailing '/', or "" */
};

static int load_rel(void *ctx, const char *file, uint8_t **data, size_t *len)
{
	const struct dir_loader *dl = ctx;
	char path[4096];
	int n;

	n = file[0] == '/' ? snprintf(path, sizeof(path), "%s", file)
			   : snprintf(path, sizeof(path), "%s%s", dl->dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return fsu_read_file(path, FWIMG_MAX_TOTAL, data, len);
}

int fwimg_load(const char *path, struct fwimg_set **out, struct fwimg_err *err)
{
	uint8_t *json = NULL;
	size_t len = 0;
	char *dir = NULL;
	const char *slash = strrchr(path, '/');
	struct dir_loader dl = {""};
	int rc, e;

	*out = NULL;
	/* flasher_args.json is a few KiB; 1 MiB is plenty. */
	e = fsu_read_file(path, 1u << 20, &json, &len);
	if (e) {
		rc = fail(err, FWIMG_EIO, "%s: %s", path, strerror(-e));
		goto out;
	}
	if (slash) {
		dir = strndup(path, (size_t)(slash - path) + 1);
		if (!dir) {
			rc = fail(err, FWIMG_ENOMEM, "out of memory");
			goto out;
		}
		dl.dir = dir;
	}
	rc = fwimg_parse((const char *)json, len, path, load_rel, &dl, out, err);
out:
	free(dir);
	free(json);
	return rc;
}

/* Equal tables: the same entries (names, types, offsets, sizes, flags);
 * the padding and the MD5 entry may differ. */
static int same_table(const struct part_table *a, const struct part_table *b)
{
	if (a->count != b->count)
		return 0;
	for (size_t i = 0; i < a->count; i++) {
		const struct part_entry *x = &a->entries[i], *y = &b->entries[i];
		if (strcmp(x->name, y->name) || x->type != y->type || x->subtype != y->subtype ||
		    x->offset != y->offset || x->size != y->size || x->flags != y->flags)
			return 0;
	}
	return 1;
}

static void summary(const struct part_table *t, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < t->count && n + 1 < cap; i++) {
		const struct part_entry *e = &t->entries[i];
		int w = snprintf(buf + n, cap - n, "%s%s %u/%u 0x%x+0x%x", i ? "; " : "", e->name, e->type, e->subtype,
				 e->offset, e->size);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int fwimg_check_product(const struct fwimg_set *set, const char *source, const uint8_t *table, size_t table_len,
			uint32_t table_offset, uint32_t nvs_offset, uint32_t nvs_size, struct fwimg_err *err)
{
	struct part_table *fw = NULL, *prod = NULL;
	struct part_opts po;
	struct part_err pe;
	const struct fwimg *ti;
	int rc = 0;

	if (!source)
		source = "firmware";
	for (size_t i = 0; i < set->n; i++) {
		const struct fwimg *im = &set->images[i];
		if ((uint64_t)im->offset < (uint64_t)nvs_offset + nvs_size &&
		    (uint64_t)im->offset + im->len > nvs_offset) {
			rc = fail(err, FWIMG_ECONFLICT,
				  "%s: flash_files.0x%x: %s (0x%x..0x%llx) overlaps the NVS partition "
				  "(0x%x..0x%llx), which is written per device",
				  source, im->offset, im->file, im->offset, (unsigned long long)im->offset + im->len,
				  nvs_offset, (unsigned long long)nvs_offset + nvs_size);
			goto out;
		}
	}
	ti = fwimg_find(set, table_offset);
	if (!ti)
		goto out;
	part_opts_init(&po);
	po.table_offset = table_offset;
	if (part_bin_parse(ti->data, ti->len, &po, &fw, &pe)) {
		rc = fail(err, FWIMG_ECONFLICT, "%s: flash_files.0x%x: %s is not a partition table: %s", source,
			  ti->offset, ti->file, pe.msg);
		goto out;
	}
	if (part_bin_parse(table, table_len, &po, &prod, &pe)) {
		rc = fail(err, FWIMG_EINPUT, "the product's partition table is unreadable: %s", pe.msg);
		goto out;
	}
	if (!same_table(fw, prod)) {
		char a[200], b[200];
		summary(fw, a, sizeof(a));
		summary(prod, b, sizeof(b));
		rc = fail(err, FWIMG_ECONFLICT, "%s: flash_files.0x%x: %s differs from the product's table; image: [%s]; "
			  "product: [%s]",
			  source, ti->offset, ti->file, a, b);
		goto out;
	}
out:
	part_table_free(prod);
	part_table_free(fw);
	return rc;
}
