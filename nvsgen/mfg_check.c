/* Mass-manufacturing batches: the reference's checks of the config file
 * against the values file, REPEAT filling and device file names. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/csv.h"
#include "espfab/mfg.h"
#include "mfg_priv.h"

static int names_add(struct mfg_batch *b, const char *s, size_t n, size_t *off)
{
	return mfg_pool_add(&b->names, &b->names_len, &b->names_cap, s, n, off);
}

/* os.path.splitext() extension of a file name without '/': from the last
 * dot, unless only dots precede it. */
static const char *py_ext(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *p = name;
	if (!dot)
		return "";
	while (*p == '.')
		p++;
	return dot < p ? "" : dot;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Index of an earlier device with the same name (offsets into names), or
 * SIZE_MAX. Open addressing over a table of 2^k slots. */
static int find_duplicates(const struct mfg_batch *b, const size_t *offs, size_t n, size_t *dup_a, size_t *dup_b)
{
	size_t cap = 16, *slot;
	while (cap < n * 2)
		cap *= 2;
	slot = malloc(cap * sizeof(*slot));
	if (!slot)
		return MFG_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		slot[i] = SIZE_MAX;
	*dup_a = *dup_b = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		const char *s = b->names + offs[i];
		size_t h = (size_t)hash_str(s) & (cap - 1);
		while (slot[h] != SIZE_MAX && strcmp(b->names + offs[slot[h]], s) != 0)
			h = (h + 1) & (cap - 1);
		if (slot[h] != SIZE_MAX) {
			*dup_a = slot[h];
			*dup_b = i;
			break;
		}
		slot[h] = i;
	}
	free(slot);
	return 0;
}

/* verify_file_data_count(), verify_datatype_encoding(), get_keys() and
 * verify_keys_exist() of the reference, in its order. */
int mfg_check_config(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err)
{
	static const char *const types[] = {"file", "data", "namespace"};
	static const char *const encodings[] = {"string", "binary", "hex2bin", "u8",  "i8",    "u16",
						"u32",    "i32",    "u64",     "i64", "base64"};
	const struct mfg_row *hdr = &b->vrows[0];
	size_t vk = 0; /* position in the values header */

	b->cfg = calloc(b->ncrows ? b->ncrows : 1, sizeof(*b->cfg));
	if (!b->cfg)
		return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		struct mfg_config_row *c = &b->cfg[i];
		c->row = i;
		c->repeat_at = -1;
		for (size_t k = 0; k < r->n; k++)
			if (fld_is(b, r, k, "REPEAT")) {
				c->repeat_at = (int)k;
				break;
			}
		c->is_ns = row_has(b, r, "namespace");
	}
	/* A row may have other than 3 fields only if its key is tagged REPEAT
	 * on some row (the reference's keys_repeat list). */
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		bool repeat_key = false;
		if (r->n == 3)
			continue;
		for (size_t j = 0; j < b->ncrows && !repeat_key && r->n; j++)
			repeat_key = b->cfg[j].repeat_at >= 0 && b->crows[j].n &&
				     fld_len(b, &b->crows[j], 0) == fld_len(b, r, 0) &&
				     !memcmp(fld(b, &b->crows[j], 0), fld(b, r, 0), fld_len(b, r, 0));
		if (!repeat_key)
			return mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: %zu fields, expected key,type,encoding",
				    p->config_name, r->line, r->n);
	}
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		bool ok = false;
		if (r->n < 2)
			return mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: no type field", p->config_name, r->line);
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			ok = ok || fld_is(b, r, 1, types[t]);
		if (!ok)
			return mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: invalid type '%.40s' (file, data or namespace)",
				    p->config_name, r->line, fld(b, r, 1));
		if (b->cfg[i].is_ns)
			continue;
		ok = false;
		if (r->n < 3)
			return mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: no encoding field", p->config_name, r->line);
		for (size_t t = 0; t < sizeof(encodings) / sizeof(encodings[0]); t++)
			ok = ok || fld_is(b, r, 2, encodings[t]);
		if (!ok)
			return mfg_fail(err, MFG_EINPUT, r->line,
				    "%s:%u: invalid encoding '%.40s' (string, binary, hex2bin, u8, i8, u16, u32, i32, "
				    "u64, i64 or base64)",
				    p->config_name, r->line, fld(b, r, 2));
	}
	/* Config keys must appear in the values header, in the same order. */
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		bool found = false;
		if (b->cfg[i].is_ns)
			continue;
		/* next header column that is some config key */
		while (vk < hdr->n) {
			bool is_cfg_key = false;
			for (size_t j = 0; j < b->ncrows && !is_cfg_key; j++)
				is_cfg_key = !b->cfg[j].is_ns && fld_len(b, &b->crows[j], 0) == fld_len(b, hdr, vk) &&
					     !memcmp(fld(b, &b->crows[j], 0), fld(b, hdr, vk), fld_len(b, hdr, vk));
			if (is_cfg_key)
				break;
			vk++;
		}
		if (vk < hdr->n && fld_len(b, hdr, vk) == fld_len(b, r, 0) &&
		    !memcmp(fld(b, hdr, vk), fld(b, r, 0), fld_len(b, r, 0))) {
			found = true;
			vk++;
		}
		if (!found)
			return mfg_fail(err, MFG_EINPUT, r->line,
				    "%s:%u: key '%.40s' is not a column of %s (config keys must appear there, in the "
				    "same order)",
				    p->config_name, r->line, fld(b, r, 0), p->values_name);
	}
	return 0;
}

/* Apply REPEAT (set_repeat_value()): in every row after the first, walking
 * the header in order against the REPEAT keys in config order, a matching
 * column takes the first row's value, whatever the row held. */
void mfg_apply_repeat(struct mfg_batch *b)
{
	const struct mfg_row *hdr = &b->vrows[0];
	if (b->nvrows < 3)
		return;
	for (size_t d = 2; d < b->nvrows; d++) {
		size_t next = 0; /* next REPEAT config row to match */
		for (size_t k = 0; k < hdr->n; k++) {
			while (next < b->ncrows && b->cfg[next].repeat_at < 0)
				next++;
			if (next >= b->ncrows)
				break;
			if (b->crows[next].n && fld_len(b, &b->crows[next], 0) == fld_len(b, hdr, k) &&
			    !memcmp(fld(b, &b->crows[next], 0), fld(b, hdr, k), fld_len(b, hdr, k))) {
				b->fields[b->vrows[d].first + k] = b->fields[b->vrows[1].first + k];
				next++;
			}
		}
	}
}

int mfg_name_devices(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err)
{
	const struct mfg_row *hdr = &b->vrows[0];
	bool by_column = p->fileid && p->fileid[0];
	long long counter = 0, num = p->prefix_start;
	char *stem = NULL;
	size_t cap = 0, da, db;
	int rc = 0;

	b->ndev = b->nvrows - 1;
	b->stem_off = calloc(b->ndev ? b->ndev : 1, sizeof(size_t));
	b->key_off = calloc(b->ndev ? b->ndev : 1, sizeof(size_t));
	if (!b->stem_off || !b->key_off)
		return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
	for (size_t d = 0; d < b->ndev; d++) {
		const struct mfg_row *r = &b->vrows[d + 1];
		const char *id = NULL;
		size_t idlen = 0, need;
		char num_buf[48], cnt_buf[24];
		int nlen = 0;
		/* get_fileid_val(): the first (column, value) pair where either
		 * equals the --fileid text; numbers 1, 2, 3... without --fileid. */
		for (size_t k = 0; by_column && k < r->n && !id; k++)
			if (fld_is(b, hdr, k, p->fileid) || fld_is(b, r, k, p->fileid)) {
				id = fld(b, r, k);
				idlen = fld_len(b, r, k);
			}
		if (!id) {
			snprintf(cnt_buf, sizeof(cnt_buf), "%lld", ++counter);
			id = cnt_buf;
			idlen = strlen(cnt_buf);
		}
		if (memchr(id, '/', idlen) || memchr(id, '\0', idlen)) {
			rc = mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: file id '%.40s' (column '%s') holds '/' or NUL",
				  p->values_name, r->line, id, by_column ? p->fileid : "");
			goto out;
		}
		if (p->prefix_num) {
			if (d && num == LLONG_MAX) {
				rc = mfg_fail(err, MFG_EINPUT, r->line, "%s:%u: --prefix_num counter overflows", p->values_name,
					  r->line);
				goto out;
			}
			nlen = snprintf(num_buf, sizeof(num_buf), "%0*lld-", p->prefix_digits, d ? ++num : num);
		}
		need = strlen(p->prefix) + 1 + (size_t)nlen + idlen + 1;
		if (mfg_grow((void **)&stem, &cap, need, 1)) {
			rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
			goto out;
		}
		snprintf(stem, cap, "%s-%s", p->prefix, p->prefix_num ? num_buf : "");
		memcpy(stem + strlen(stem), id, idlen);
		stem[need - 1] = '\0';
		if (names_add(b, stem, need - 1, &b->stem_off[d])) {
			rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
			goto out;
		}
		/* generate_key() via set_target_filepath(): "keys-STEM" gets ".bin"
		 * when it has no extension, and is refused when its extension does
		 * not contain ".bin". */
		if (mfg_grow((void **)&stem, &cap, need + 16, 1)) {
			rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
			goto out;
		}
		memmove(stem + 5, stem, need);
		memcpy(stem, "keys-", 5);
		if (!*py_ext(stem))
			strcat(stem, ".bin");
		else if (p->keygen && !strstr(py_ext(stem), ".bin")) {
			rc = mfg_fail(err, MFG_EINPUT, r->line,
				  "%s:%u: key file name '%.60s' has an extension other than .bin (the reference refuses it)",
				  p->values_name, r->line, stem);
			goto out;
		}
		if (names_add(b, stem, strlen(stem), &b->key_off[d])) {
			rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
			goto out;
		}
	}
	/* The reference stops at the first name that already exists; refuse
	 * before anything is written. */
	if ((rc = find_duplicates(b, b->stem_off, b->ndev, &da, &db)) ||
	    (da == SIZE_MAX && p->keygen && (rc = find_duplicates(b, b->key_off, b->ndev, &da, &db)))) {
		rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
		goto out;
	}
	if (da != SIZE_MAX)
		rc = mfg_fail(err, MFG_EINPUT, b->vrows[db + 1].line, "%s:%u: device file name '%.60s' repeats line %u",
			  p->values_name, b->vrows[db + 1].line, b->names + b->stem_off[db], b->vrows[da + 1].line);
out:
	free(stem);
	return rc;
}

