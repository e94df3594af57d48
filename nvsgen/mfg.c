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

struct mfg_field {
	size_t off, len; /* into the batch's arena; NUL-terminated there */
};

struct mfg_row {
	size_t first, n; /* fields[first .. first+n) */
	unsigned line;   /* line in the original file */
};

struct mfg_config_row {
	size_t row;     /* index in config rows */
	int repeat_at;  /* field index of the first "REPEAT" (removed), or -1 */
	bool is_ns;     /* some field is "namespace" (the reference's `'namespace' in row`) */
	bool nvs_skips; /* its CSV line starts with '#': nvs_partition_gen drops it */
};

struct mfg_batch {
	char *arena;
	size_t arena_len, arena_cap;
	struct mfg_field *fields;
	size_t nfields, fields_cap;

	struct mfg_row *crows; /* config records */
	size_t ncrows, crows_cap;
	struct mfg_config_row *cfg;
	struct mfg_row *vrows; /* values records; [0] is the header */
	size_t nvrows, vrows_cap;

	char *names; /* stems and key file names, NUL-separated */
	size_t names_len, names_cap;
	size_t *stem_off, *key_off;
	size_t ndev;
	char *config_name, *values_name;
};

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

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
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

static const char *fld(const struct mfg_batch *b, const struct mfg_row *r, size_t k)
{
	return b->arena + b->fields[r->first + k].off;
}

static size_t fld_len(const struct mfg_batch *b, const struct mfg_row *r, size_t k)
{
	return b->fields[r->first + k].len;
}

static bool fld_is(const struct mfg_batch *b, const struct mfg_row *r, size_t k, const char *s)
{
	size_t n = strlen(s);
	return fld_len(b, r, k) == n && memcmp(fld(b, r, k), s, n) == 0;
}

static bool row_has(const struct mfg_batch *b, const struct mfg_row *r, const char *s)
{
	for (size_t k = 0; k < r->n; k++)
		if (fld_is(b, r, k, s))
			return true;
	return false;
}

/* Python's str.isspace() for one UTF-8 encoded character at p (n bytes left):
 * returns its length if it is whitespace, else 0. */
static size_t py_space_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t l;
	if (p[0] < 0x80)
		return (p[0] == ' ' || (p[0] >= 0x09 && p[0] <= 0x0D) || (p[0] >= 0x1C && p[0] <= 0x1F)) ? 1 : 0;
	if ((p[0] & 0xE0) == 0xC0 && n >= 2) {
		cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
		l = 2;
	} else if ((p[0] & 0xF0) == 0xE0 && n >= 3) {
		cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
		l = 3;
	} else {
		return 0;
	}
	if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return l;
	return 0;
}

/* strip_blank_lines(): the file read in text mode (universal newlines: CRLF
 * and a lone CR become LF) minus every line that is only whitespace. *map
 * gets, per output line, its line number in the original. */
static int normalise(const char *text, size_t len, char **out, size_t *out_len, unsigned **map, size_t *nlines)
{
	char *o = malloc(len + 1);
	unsigned *m = NULL;
	size_t ol = 0, nl = 0, mcap = 0, i = 0;
	unsigned line = 1;
	int rc = MFG_ENOMEM;

	if (!o)
		goto out;
	while (i < len) {
		size_t s = i, e;
		bool blank = true;
		/* one physical line: [s, e) then its terminator */
		while (i < len && text[i] != '\n' && text[i] != '\r')
			i++;
		e = i;
		if (i < len && text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			i += 2;
		else if (i < len)
			i++;
		for (size_t k = s; k < e && blank;) {
			size_t l = py_space_len((const unsigned char *)text + k, e - k);
			if (!l)
				blank = false;
			k += l;
		}
		if (!blank) {
			memcpy(o + ol, text + s, e - s);
			ol += e - s;
			if (e < len) /* the line had a terminator */
				o[ol++] = '\n';
			if (grow((void **)&m, &mcap, nl + 1, sizeof(*m)))
				goto out;
			m[nl++] = line;
		}
		line++;
	}
	o[ol] = '\0';
	*out = o;
	*out_len = ol;
	*map = m;
	*nlines = nl;
	o = NULL;
	m = NULL;
	rc = 0;
out:
	free(o);
	free(m);
	return rc;
}

static unsigned orig_line(const unsigned *map, size_t nlines, unsigned l)
{
	if (l >= 1 && l <= nlines)
		return map[l - 1];
	return l;
}

/* Append n bytes and a NUL to a string pool; *off gets where they start
 * (offsets, not pointers: the pool moves when it grows). */
static int pool_add(char **pool, size_t *len, size_t *cap, const char *s, size_t n, size_t *off)
{
	if (grow((void **)pool, cap, *len + n + 1, 1))
		return MFG_ENOMEM;
	memcpy(*pool + *len, s, n);
	(*pool)[*len + n] = '\0';
	*off = *len;
	*len += n + 1;
	return 0;
}

static int arena_add(struct mfg_batch *b, const char *p, size_t n, size_t *off)
{
	return pool_add(&b->arena, &b->arena_len, &b->arena_cap, p, n, off);
}

/* Parse a whole (normalised) file into rows. */
static int parse_rows(struct mfg_batch *b, const char *name, const char *text, size_t len, const unsigned *map,
		      size_t nlines, struct mfg_row **rows, size_t *nrows, size_t *cap, struct mfg_err *err)
{
	struct csv_reader *r = NULL;
	struct csv_record rec;
	struct csv_err cerr = {0};
	int rc;

	rc = csv_reader_new(&r, text, len, 0, 0, &cerr);
	if (rc) {
		rc = rc == CSV_ENOMEM ? mfg_fail(err, MFG_ENOMEM, 0, "out of memory")
				      : mfg_fail(err, MFG_EINPUT, orig_line(map, nlines, cerr.line), "%s:%u: %s", name,
					     orig_line(map, nlines, cerr.line), cerr.msg);
		goto out;
	}
	while ((rc = csv_reader_next(r, &rec, &cerr)) == 1) {
		struct mfg_row *row;
		if (grow((void **)rows, cap, *nrows + 1, sizeof(**rows)) ||
		    grow((void **)&b->fields, &b->fields_cap, b->nfields + rec.nfields, sizeof(*b->fields))) {
			rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
			goto out;
		}
		row = &(*rows)[(*nrows)++];
		row->first = b->nfields;
		row->n = rec.nfields;
		row->line = orig_line(map, nlines, rec.line);
		for (size_t k = 0; k < rec.nfields; k++) {
			struct mfg_field *f = &b->fields[b->nfields++];
			if (arena_add(b, rec.fields[k].ptr, rec.fields[k].len, &f->off)) {
				rc = mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
				goto out;
			}
			f->len = rec.fields[k].len;
		}
	}
	if (rc < 0) {
		rc = rc == CSV_ENOMEM ? mfg_fail(err, MFG_ENOMEM, 0, "out of memory")
				      : mfg_fail(err, MFG_EINPUT, orig_line(map, nlines, cerr.line), "%s:%u: %s", name,
					     orig_line(map, nlines, cerr.line), cerr.msg);
		goto out;
	}
	rc = 0;
out:
	csv_reader_free(r);
	return rc;
}

static int load_text(struct mfg_batch *b, const char *name, const char *text, size_t len, struct mfg_row **rows,
		     size_t *nrows, size_t *cap, struct mfg_err *err)
{
	char *norm = NULL;
	unsigned *map = NULL;
	size_t nlen = 0, nlines = 0;
	unsigned bad = 0;
	int rc;

	/* The reference opens both files as strict utf-8. */
	if (csv_utf8_check(text, len, &bad))
		return mfg_fail(err, MFG_EINPUT, bad, "%s:%u: not valid UTF-8", name, bad);
	if ((rc = normalise(text, len, &norm, &nlen, &map, &nlines)))
		return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
	if (nlen == 0)
		rc = mfg_fail(err, MFG_EINPUT, 0, "%s: file is empty (or holds only blank lines)", name);
	else
		rc = parse_rows(b, name, norm, nlen, map, nlines, rows, nrows, cap, err);
	free(norm);
	free(map);
	return rc;
}

static int names_add(struct mfg_batch *b, const char *s, size_t n, size_t *off)
{
	return pool_add(&b->names, &b->names_len, &b->names_cap, s, n, off);
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
static int check_config(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err)
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

static bool needs_quotes(const char *s, size_t n)
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

/* Apply REPEAT (set_repeat_value()): in every row after the first, walking
 * the header in order against the REPEAT keys in config order, a matching
 * column takes the first row's value, whatever the row held. */
static void apply_repeat(struct mfg_batch *b)
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

static int name_devices(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err)
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
		if (grow((void **)&stem, &cap, need, 1)) {
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
		if (grow((void **)&stem, &cap, need + 16, 1)) {
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
	if ((rc = load_text(b, p->config_name, config, config_len, &b->crows, &b->ncrows, &ccap, err)) ||
	    (rc = load_text(b, p->values_name, values, values_len, &b->vrows, &b->nvrows, &vcap, err)))
		goto out;
	/* verify_file_format(): the --fileid column must exist. */
	if (p->fileid && p->fileid[0] && !row_has(b, &b->vrows[0], p->fileid)) {
		rc = mfg_fail(err, MFG_EINPUT, b->vrows[0].line, "%s:%u: --fileid column '%.40s' is not in the header",
			  p->values_name, b->vrows[0].line, p->fileid);
		goto out;
	}
	if ((rc = check_config(b, p, err)))
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
	apply_repeat(b);
	/* A config row whose key starts with '#' is written to the device CSV
	 * unquoted, and nvs_partition_gen skips lines starting with '#'. */
	for (size_t i = 0; i < b->ncrows; i++) {
		const struct mfg_row *r = &b->crows[i];
		b->cfg[i].nvs_skips = r->n && fld_len(b, r, 0) && fld(b, r, 0)[0] == '#' &&
				      !needs_quotes(fld(b, r, 0), fld_len(b, r, 0));
	}
	if ((rc = name_devices(b, p, err)))
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

/* One device row as nvs_partition_gen will see it: the config row without
 * its REPEAT field, plus '' for a namespace or the device's value. */
struct out_row {
	const char *f[8];
	size_t len[8];
	size_t n;     /* fields to write to the CSV */
	size_t extra; /* fields beyond the first 8 (written from the config row) */
};

/* add_data_to_file(): the values are consumed in header order; for each
 * config key the cursor moves to the first (column, value) pair in which
 * the key appears as the column name or as the value. */
static int device_value(const struct mfg_batch *b, size_t dev, const struct mfg_row *cr, size_t *cursor,
			const char **v, size_t *vlen)
{
	const struct mfg_row *hdr = &b->vrows[0], *r = &b->vrows[dev + 1];
	const char *key = fld(b, cr, 0);
	size_t klen = fld_len(b, cr, 0);
	while (*cursor < hdr->n) {
		size_t k = *cursor;
		if ((fld_len(b, hdr, k) == klen && !memcmp(fld(b, hdr, k), key, klen)) ||
		    (fld_len(b, r, k) == klen && !memcmp(fld(b, r, k), key, klen))) {
			*v = fld(b, r, k);
			*vlen = fld_len(b, r, k);
			(*cursor)++;
			return 0;
		}
		(*cursor)++;
	}
	return -1; /* cannot happen after check_config(); IndexError in the reference */
}

static int csv_put(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
	if (grow((void **)buf, cap, *len + n + 1, 1))
		return MFG_ENOMEM;
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

static int csv_put_field(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
	if (!needs_quotes(s, n))
		return csv_put(buf, cap, len, s, n);
	if (csv_put(buf, cap, len, "\"", 1))
		return MFG_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (csv_put(buf, cap, len, s + i, 1) || (s[i] == '"' && csv_put(buf, cap, len, "\"", 1)))
			return MFG_ENOMEM;
	return csv_put(buf, cap, len, "\"", 1);
}

int mfg_batch_csv(const struct mfg_batch *b, size_t i, char **buf, size_t *cap, size_t *len, struct mfg_err *err)
{
	static const char header[] = "key,type,encoding,value\r\n";
	size_t cursor = 0;

	*len = 0;
	if (!b || i >= b->ndev)
		return mfg_fail(err, MFG_EINPUT, 0, "no device %zu", i);
	if (csv_put(buf, cap, len, header, sizeof(header) - 1))
		goto nomem;
	for (size_t c = 0; c < b->ncrows; c++) {
		const struct mfg_row *cr = &b->crows[c];
		const char *v = "";
		size_t vlen = 0, nout = 0;
		if (!b->cfg[c].is_ns && device_value(b, i, cr, &cursor, &v, &vlen))
			return mfg_fail(err, MFG_EINPUT, b->vrows[i + 1].line, "%s:%u: no value for key '%.40s'",
				    b->values_name, b->vrows[i + 1].line, fld(b, cr, 0));
		for (size_t k = 0; k < cr->n; k++) {
			if ((int)k == b->cfg[c].repeat_at)
				continue;
			if ((nout++ && csv_put(buf, cap, len, ",", 1)) ||
			    csv_put_field(buf, cap, len, fld(b, cr, k), fld_len(b, cr, k)))
				goto nomem;
		}
		if ((nout && csv_put(buf, cap, len, ",", 1)) || csv_put_field(buf, cap, len, v, vlen) ||
		    csv_put(buf, cap, len, "\r\n", 2))
			goto nomem;
	}
	(*buf)[*len] = '\0';
	return 0;
nomem:
	return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
}

int mfg_batch_image(const struct mfg_batch *b, size_t i, struct nvs_gen *g, const struct nvs_file_source *files,
		    const uint8_t *xts_key, uint8_t *img, size_t cap, size_t *img_len, struct mfg_err *err)
{
	struct nvs_err nerr;
	size_t cursor = 0;
	unsigned line;
	int rc;

	if (!b || i >= b->ndev)
		return mfg_fail(err, MFG_EINPUT, 0, "no device %zu", i);
	line = b->vrows[i + 1].line;
	nvs_gen_reset(g);
	for (size_t c = 0; c < b->ncrows; c++) {
		const struct mfg_row *cr = &b->crows[c];
		const char *f[4] = {NULL, NULL, NULL, NULL}, *v = "";
		size_t flen[4] = {0, 0, 0, 0}, vlen = 0, n = 0;

		if (!b->cfg[c].is_ns && device_value(b, i, cr, &cursor, &v, &vlen))
			return mfg_fail(err, MFG_EINPUT, line, "%s:%u: no value for key '%.40s'", b->values_name, line,
				    fld(b, cr, 0));
		if (b->cfg[c].nvs_skips)
			continue;
		/* csv.DictReader over the written row: key, type, encoding, value
		 * are its first four fields (extra ones ignored, missing ones None). */
		for (size_t k = 0; k < cr->n && n < 4; k++) {
			if ((int)k == b->cfg[c].repeat_at)
				continue;
			f[n] = fld(b, cr, k);
			flen[n] = fld_len(b, cr, k);
			n++;
		}
		if (n < 4) {
			f[n] = v;
			flen[n] = vlen;
			n++;
		}
		rc = nvs_gen_add_fields(g, f[0], flen[0], f[1], flen[1], f[2], flen[2], f[3], flen[3], files, &nerr);
		if (rc)
			return mfg_fail(err, rc == NVS_ENOMEM ? MFG_ENOMEM : rc == NVS_ESIZE ? MFG_ESIZE
								    : rc == NVS_EIO	 ? MFG_EIO
											 : MFG_EINPUT,
				    line, "%s:%u: %s", b->values_name, line, nerr.msg);
	}
	rc = nvs_gen_finish(g, xts_key, img, cap, img_len, &nerr);
	if (rc)
		return mfg_fail(err, rc == NVS_ENOMEM ? MFG_ENOMEM : rc == NVS_ESIZE ? MFG_ESIZE
							  : rc == NVS_ECRYPTO ? MFG_ECRYPTO : MFG_EINPUT,
			    line, "%s:%u: %s", b->values_name, line, nerr.msg);
	return 0;
}

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
