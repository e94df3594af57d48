/* Mass-manufacturing batches: reading the two input CSVs the way the
 * reference does (blank lines dropped first, original line numbers kept for
 * messages). */
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
			if (mfg_grow((void **)&m, &mcap, nl + 1, sizeof(*m)))
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
int mfg_pool_add(char **pool, size_t *len, size_t *cap, const char *s, size_t n, size_t *off)
{
	if (mfg_grow((void **)pool, cap, *len + n + 1, 1))
		return MFG_ENOMEM;
	memcpy(*pool + *len, s, n);
	(*pool)[*len + n] = '\0';
	*off = *len;
	*len += n + 1;
	return 0;
}

static int arena_add(struct mfg_batch *b, const char *p, size_t n, size_t *off)
{
	return mfg_pool_add(&b->arena, &b->arena_len, &b->arena_cap, p, n, off);
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
		if (mfg_grow((void **)rows, cap, *nrows + 1, sizeof(**rows)) ||
		    mfg_grow((void **)&b->fields, &b->fields_cap, b->nfields + rec.nfields, sizeof(*b->fields))) {
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

int mfg_load_text(struct mfg_batch *b, const char *name, const char *text, size_t len, struct mfg_row **rows,
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

