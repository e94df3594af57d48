/* Mass-manufacturing batches, pure layer (see espfab/mfg.h).
 *
 * The reference (mfg_gen.py, esp-idf v6.0.2) works in passes over files:
 * it copies both inputs without blank lines (*_tmp.csv), checks them, fills
 * REPEAT columns into values_tmp_created.csv, writes one intermediate CSV per
 * device with csv.writer and runs nvs_partition_gen on it. This file does the
 * same transformations in memory; the comments name the reference function
 * whose behaviour each step reproduces.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/err.h"
#include "espfab/csv.h"
#include "espfab/mfg.h"
#include "espfab/pyint.h"
#include "mfg_priv.h"

int mfg_fail(struct mfg_err *err, int code, unsigned line, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->line = line;
		va_start(ap, fmt);
		err_vformat(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int mfg_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *n;
	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return MFG_ENOMEM;
		ncap *= 2;
	}
	/* Not realloc: the value arena holds device secrets, and realloc may
	 * leave the old block unwiped in the heap. Move and wipe instead. */
	n = malloc(ncap * elem);
	if (!n)
		return MFG_ENOMEM;
	if (*arr) {
		memcpy(n, *arr, *cap * elem);
		OPENSSL_cleanse(*arr, *cap * elem);
		free(*arr);
	}
	*arr = n;
	*cap = ncap;
	return 0;
}

bool mfg_needs_quotes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return true;
	return false;
}

/* Python int(s) in base 10 (argparse type=int), within long long. */
int mfg_parse_int(const char *s, long long *out)
{
	struct pyint v;

	if (pyint_parse_str(s, 10, &v) || v.mag > (unsigned long long)LLONG_MAX)
		return -1;
	*out = v.neg ? -(long long)v.mag : (long long)v.mag;
	return 0;
}

int mfg_batch_new(struct mfg_batch **out, const char *config, size_t config_len, const char *values,
		  size_t values_len, const struct mfg_batch_params *p, struct mfg_err *err)
{
	struct mfg_batch *b = NULL;
	size_t ccap = 0, vcap = 0;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!p || !p->prefix || !p->config_name || !p->values_name)
		return mfg_fail(err, MFG_EINPUT, 0, "mfg_batch_new: missing parameters");
	if (strchr(p->prefix, '/'))
		return mfg_fail(err, MFG_EINPUT, 0, "prefix '%.60s' holds '/': it names files in out/csv and out/bin",
			    p->prefix);
	if (p->prefix_num && p->prefix_digits < 0)
		return mfg_fail(err, MFG_EINPUT, 0, "--prefix_num: the number of digits cannot be negative");
	b = calloc(1, sizeof(*b));
	if (!b)
		return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
	b->config_name = strdup(p->config_name);
	b->values_name = strdup(p->values_name);
	if (!b->config_name || !b->values_name) {
		rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((rc = mfg_load_text(b, p->config_name, config, config_len, &b->crows, &b->ncrows, &ccap, err)) ||
	    (rc = mfg_load_text(b, p->values_name, values, values_len, &b->vrows, &b->nvrows, &vcap, err)))
		goto out;
	/* verify_file_format(): the --fileid column must exist. */
	if (p->fileid && p->fileid[0] && !row_has(b, &b->vrows[0], p->fileid)) {
		rc = mfg_fail(err, MFG_EINPUT, b->vrows[0].line, "%s:%u: --fileid column '%.40s' is not in the header",
			  p->values_name, b->vrows[0].line, p->fileid);
		goto out;
	}
	if ((rc = mfg_check_config(b, p, err)))
		goto out;
	/* verify_values_exist(): every row as wide as the header. */
	for (size_t i = 1; i < b->nvrows; i++)
		if (b->vrows[i].n != b->vrows[0].n) {
			rc = mfg_fail(err, MFG_EINPUT, b->vrows[i].line, "%s:%u: %zu values for %zu columns", p->values_name,
				  b->vrows[i].line, b->vrows[i].n, b->vrows[0].n);
			goto out;
		}
	/* set_repeat_value() reads a first data row unconditionally. */
	for (size_t i = 0; i < b->ncrows; i++)
		if (b->cfg[i].repeat_at >= 0 && b->nvrows < 2) {
			rc = mfg_fail(err, MFG_EINPUT, b->crows[i].line,
				  "%s:%u: REPEAT needs a first device row in %s, which has none", p->config_name,
				  b->crows[i].line, p->values_name);
			goto out;
		}
	mfg_apply_repeat(b);
	/* A config row whose key starts with '#' is written to the device CSV
	 * unquoted, and nvs_partition_gen skips lines starting with '#'. */
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		b->cfg[i].nvs_skips = r->n && fld_len(b, r, 0) && fld(b, r, 0)[0] == '#' &&
				      !mfg_needs_quotes(fld(b, r, 0), fld_len(b, r, 0));
	}
	if ((rc = mfg_name_devices(b, p, err)))
		goto out;
	*out = b;
	b = NULL;
	rc = 0;
out:
	mfg_batch_free(b);
	return rc;
}

void mfg_batch_free(struct mfg_batch *b)
{
	if (!b)
		return;
	/* values are secrets in general */
	if (b->arena)
		OPENSSL_cleanse(b->arena, b->arena_cap);
	free(b->arena);
	free(b->fields);
	free(b->crows);
	free(b->cfg);
	free(b->vrows);
	free(b->names);
	free(b->stem_off);
	free(b->key_off);
	free(b->config_name);
	free(b->values_name);
	free(b);
}

size_t mfg_batch_count(const struct mfg_batch *b) { return b ? b->ndev : 0; }

const char *mfg_batch_stem(const struct mfg_batch *b, size_t i)
{
	return b && i < b->ndev ? b->names + b->stem_off[i] : NULL;
}

const char *mfg_batch_keyfile(const struct mfg_batch *b, size_t i)
{
	return b && i < b->ndev ? b->names + b->key_off[i] : NULL;
}

unsigned mfg_batch_line(const struct mfg_batch *b, size_t i) { return b && i < b->ndev ? b->vrows[i + 1].line : 0; }


/* check_size(): int(size, 0), a multiple of 4096, at least one page. */
int mfg_parse_size(const char *text, uint32_t *size, struct mfg_err *err)
{
	int64_t v;
	if (nvs_parse_size(text, &v))
		return mfg_fail(err, MFG_ESIZE, 0, "size '%.40s' is not a number (write it like 0x6000 or 24576)", text);
	if (v < 0)
		return mfg_fail(err, MFG_ESIZE, 0, "size '%.40s' is negative", text);
	if (v % NVS_PAGE_SIZE)
		return mfg_fail(err, MFG_ESIZE, 0, "size %.40s is not a multiple of 4096", text);
	if (v < NVS_PAGE_SIZE)
		return mfg_fail(err, MFG_ESIZE, 0,
			    "size %.40s is too small: read/write NVS needs 0x3000 bytes, read-only NVS 0x1000", text);
	if (v > 0xFFFFF000ll)
		return mfg_fail(err, MFG_ESIZE, 0, "size %.40s is larger than 4 GiB", text);
	*size = (uint32_t)v;
	return 0;
}
