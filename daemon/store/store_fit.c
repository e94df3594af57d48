/* Value checks against nvs_partition_gen 0.2.0's rules (see
 * ../shared/golden/README.md): integers go through Python int() in base 10
 * (spaces around, a sign, '_' between digits), strings are limited in UTF-8
 * bytes including the NUL (4000; 1984 in V1), hex2bin needs an even number
 * of hex digits after stripping, base64 needs correct padding. */
#include <ctype.h>
#include <espfab/nvs.h>
#include <espfab/pyint.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "store_fit.h"

#define STRING_MAX_V2 4000u  /* bytes including the NUL */
#define BLOB_MAX_V1 1984u    /* one page's data entries */
#define BLOB_MAX_V2 508000u  /* the generator's multipage blob limit */

static int fit_int(const char *enc, const uint8_t *v, size_t len, char *why, size_t wl)
{
	static const struct {
		const char *name;
		int is_signed, bits;
	} t[] = {{"u8", 0, 8},  {"i8", 1, 8},   {"u16", 0, 16}, {"i16", 1, 16},
		 {"u32", 0, 32}, {"i32", 1, 32}, {"u64", 0, 64}, {"i64", 1, 64}};
	struct pyint p;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(enc, t[i].name))
			continue;
		/* The generator's own reading (nvs_parse_int10: int(str)). */
		int rc = pyint_parse(v, len, 10, 0, &p);
		if (rc == PYINT_ENOMEM)
			return STORE_ENOMEM;
		if (rc == PYINT_ESYNTAX) {
			snprintf(why, wl, "not a base-10 integer");
			return STORE_EINPUT;
		}
		uint64_t lim_pos = t[i].is_signed ? (UINT64_C(1) << (t[i].bits - 1)) - 1
				 : t[i].bits == 64 ? UINT64_MAX : (UINT64_C(1) << t[i].bits) - 1;
		uint64_t lim_neg = t[i].is_signed ? UINT64_C(1) << (t[i].bits - 1) : 0;
		if (rc == PYINT_ERANGE || (p.neg && p.mag > lim_neg) || (!p.neg && p.mag > lim_pos)) {
			snprintf(why, wl, "out of range for %s", enc);
			return STORE_EINPUT;
		}
		return 0;
	}
	return 1; /* not an integer encoding */
}

static int b64char(uint8_t c)
{
	return isalnum(c) || c == '+' || c == '/';
}

int store_fit_value(const struct store_field *f, int nvs_version, const uint8_t *v, size_t len, char *why,
		    size_t wl)
{
	const char *enc = f->encoding;
	size_t blob_max = nvs_version == 1 ? BLOB_MAX_V1 : BLOB_MAX_V2;
	int rc;

	if (memchr(v, '\0', len) && strcmp(f->type, "file")) {
		snprintf(why, wl, "contains a NUL byte");
		return STORE_EINPUT;
	}
	if (!strcmp(f->type, "data") && (rc = fit_int(enc, v, len, why, wl)) <= 0)
		return rc;
	if (!strcmp(enc, "string")) {
		size_t max = nvs_version == 1 ? BLOB_MAX_V1 : STRING_MAX_V2;
		if (len + 1 > max) {
			snprintf(why, wl, "string of %zu bytes is over the %zu-byte limit (with its NUL)", len, max);
			return STORE_EINPUT;
		}
		return 0;
	}
	if (!strcmp(enc, "hex2bin") && !strcmp(f->type, "data")) {
		size_t i = 0, end = len;
		while (i < end && isspace(v[i]))
			i++;
		while (end > i && isspace(v[end - 1]))
			end--;
		if ((end - i) % 2) {
			snprintf(why, wl, "hex2bin needs an even number of hex digits");
			return STORE_EINPUT;
		}
		for (size_t k = i; k < end; k++)
			if (!isxdigit(v[k])) {
				snprintf(why, wl, "hex2bin value has a non-hex character");
				return STORE_EINPUT;
			}
		if ((end - i) / 2 > blob_max) {
			snprintf(why, wl, "blob of %zu bytes is over the %zu-byte limit", (end - i) / 2, blob_max);
			return STORE_EINPUT;
		}
		return 0;
	}
	if (!strcmp(enc, "base64") && !strcmp(f->type, "data")) {
		/* binascii.a2b_base64 (non-strict) skips characters outside the
		 * alphabet; what is left must be whole quads, '=' only at the end. */
		size_t n = 0, pad = 0;
		for (size_t k = 0; k < len; k++) {
			if (v[k] == '=') {
				pad++;
				continue;
			}
			if (!b64char(v[k]))
				continue;
			if (pad) {
				snprintf(why, wl, "base64 padding in the middle");
				return STORE_EINPUT;
			}
			n++;
		}
		if (n % 4 == 1 || (n % 4 && pad < 4 - n % 4)) {
			snprintf(why, wl, "base64 has incorrect padding");
			return STORE_EINPUT;
		}
		if (n / 4 * 3 > blob_max) {
			snprintf(why, wl, "blob is over the %zu-byte limit", blob_max);
			return STORE_EINPUT;
		}
		return 0;
	}
	if (len > blob_max) {
		snprintf(why, wl, "value of %zu bytes is over the %zu-byte limit", len, blob_max);
		return STORE_EINPUT;
	}
	return 0;
}

int store_nvs_image(const struct store_product *p, const uint8_t *const *values, const size_t *lens,
		    const uint8_t *xts_key, uint8_t *buf, size_t cap, size_t *out_len, char *why, size_t wl)
{
	struct nvs_gen *g = NULL;
	struct nvs_err ne = {0};
	const char *ns = NULL;
	int rc = STORE_EINPUT;

	/* The row order is mfg_gen's per-device CSV: the config's rows in file
	 * order, each data/file row with this record's value. */
	if (nvs_gen_new(&g, p->part_size, p->nvs_version == 1 ? NVS_VERSION_1 : NVS_VERSION_2, &ne)) {
		snprintf(why, wl, "NVS generator: %s", ne.msg);
		goto out;
	}
	for (size_t f = 0; f < p->n_fields; f++) {
		const struct store_field *fd = &p->fields[f];
		if (!strcmp(fd->type, "namespace")) {
			if (nvs_gen_add_row(g, fd->key, "namespace", "", "", 0, &ne))
				goto gen_fail;
			ns = fd->key;
			continue;
		}
		/* Stored templates always start with their namespace row; this
		 * only guards a template built by hand. */
		if (!ns || strcmp(ns, fd->namespace_)) {
			if (nvs_gen_add_row(g, fd->namespace_, "namespace", "", "", 0, &ne))
				goto gen_fail;
			ns = fd->namespace_;
		}
		if (nvs_gen_add_row(g, fd->key, fd->type, fd->encoding, (const char *)values[f], lens[f], &ne))
			goto gen_fail;
	}
	if (nvs_gen_finish(g, xts_key, buf, cap, out_len, &ne))
		goto gen_fail;
	rc = 0;
	goto out;
gen_fail:
	/* The generator's messages name the key, never the value. */
	snprintf(why, wl, "does not fit NVS: %s", ne.msg);
out:
	nvs_gen_free(g);
	return rc;
}

int store_fit_record(const struct store_product *p, const uint8_t *const *values, const size_t *lens, char *why,
		     size_t wl)
{
	size_t len = 0;
	int rc;
	/* The real generator at the product's partition size: the only way to
	 * know the whole record fits (pages, blob chunks, namespaces). */
	uint8_t *img = malloc(p->part_size);
	if (!img) {
		snprintf(why, wl, "out of memory");
		return STORE_ENOMEM;
	}
	rc = store_nvs_image(p, values, lens, NULL, img, p->part_size, &len, why, wl);
	OPENSSL_cleanse(img, p->part_size);
	free(img);
	return rc;
}
