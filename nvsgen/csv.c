/* CSV reader: a byte-level re-statement of CPython 3.11's Modules/_csv.c state
 * machine (dialect "excel", strict=False) fed the way nvs_partition_gen.py
 * feeds it: one physical line at a time from a text-mode file, so "\r\n" and
 * a lone "\r" both reach the parser as "\n" (universal newlines). */
#include "espfab/err.h"
#include "espfab/csv.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

enum csv_state {
	CSV_ST_START_RECORD,
	CSV_ST_START_FIELD,
	CSV_ST_IN_FIELD,
	CSV_ST_IN_QUOTED_FIELD,
	CSV_ST_QUOTE_IN_QUOTED_FIELD,
	CSV_ST_EAT_CRNL,
};

struct csv_reader {
	const char *text;
	size_t len;
	size_t pos;    /* next unread byte */
	unsigned line; /* physical lines consumed so far */
	unsigned flags;
	size_t field_limit;

	char *buf; /* every field of the current record, each NUL-terminated */
	size_t buf_len, buf_cap;
	size_t *starts; /* offset of each field in buf */
	size_t nfields, fields_cap;
	struct csv_field *fields;
	size_t fields_out_cap;

	size_t field_start; /* offset in buf of the field being built */
	size_t field_chars; /* its length in characters (for the limit) */
	enum csv_state state;
};

__attribute__((format(printf, 4, 5))) static int csv_fail(struct csv_err *err, int code, unsigned line, const char *fmt, ...)
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

int csv_utf8_check(const char *text, size_t len, unsigned *bad_line)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			/* Universal newlines: "\r\n" is one line end, a lone "\r" another. */
			if (c == '\n' || (c == '\r' && !(i + 1 < len && s[i + 1] == '\n')))
				line++;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
			min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			goto bad;
		}
		if (len - i - 1 < n)
			goto bad;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto bad;
		i += n + 1;
	}
	return 0;
bad:
	if (bad_line)
		*bad_line = line;
	return CSV_EINPUT;
}

int csv_reader_new(struct csv_reader **out, const char *text, size_t len, unsigned flags, size_t field_limit,
		   struct csv_err *err)
{
	struct csv_reader *r;
	unsigned bad_line = 0;

	*out = NULL;
	if (flags & CSV_UTF8) {
		if (csv_utf8_check(text, len, &bad_line) < 0)
			return csv_fail(err, CSV_EINPUT, bad_line, "invalid UTF-8");
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return csv_fail(err, CSV_ENOMEM, 0, "out of memory");
	r->text = text;
	r->len = len;
	r->flags = flags;
	r->field_limit = field_limit ? field_limit : CSV_FIELD_LIMIT_DEFAULT;
	r->state = CSV_ST_START_RECORD;
	if ((flags & CSV_SKIP_BOM) && len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		r->pos = 3;
	*out = r;
	return 0;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	/* Field copies may hold secrets (device keys, passwords). */
	if (r->buf)
		OPENSSL_cleanse(r->buf, r->buf_cap);
	free(r->buf);
	free(r->starts);
	free(r->fields);
	free(r);
}

/* Grow the field buffer; the old copy is wiped, not just released. */
static int csv_grow(struct csv_reader *r)
{
	size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
	char *nb = malloc(cap);

	if (!nb)
		return -1;
	if (r->buf) {
		memcpy(nb, r->buf, r->buf_len);
		OPENSSL_cleanse(r->buf, r->buf_cap);
		free(r->buf);
	}
	r->buf = nb;
	r->buf_cap = cap;
	return 0;
}

static int csv_add_byte(struct csv_reader *r, char c, struct csv_err *err)
{
	/* Python counts the limit in characters: UTF-8 continuation bytes are free. */
	if (((unsigned char)c & 0xC0) != 0x80) {
		if (r->field_chars >= r->field_limit)
			return csv_fail(err, CSV_EINPUT, r->line, "field larger than field limit (%zu)",
					r->field_limit);
		r->field_chars++;
	}
	if (r->buf_len + 2 > r->buf_cap && csv_grow(r) < 0)
		return csv_fail(err, CSV_ENOMEM, r->line, "out of memory");
	r->buf[r->buf_len++] = c;
	return 0;
}

static int csv_save_field(struct csv_reader *r, struct csv_err *err)
{
	if (r->buf_len + 1 > r->buf_cap && csv_grow(r) < 0)
		return csv_fail(err, CSV_ENOMEM, r->line, "out of memory");
	r->buf[r->buf_len++] = '\0';
	if (r->nfields == r->fields_cap) {
		size_t cap = r->fields_cap ? r->fields_cap * 2 : 8;
		size_t *ns = realloc(r->starts, cap * sizeof(*ns));
		if (!ns)
			return csv_fail(err, CSV_ENOMEM, r->line, "out of memory");
		r->starts = ns;
		r->fields_cap = cap;
	}
	r->starts[r->nfields++] = r->field_start;
	r->field_start = r->buf_len;
	r->field_chars = 0;
	return 0;
}

/* The end-of-line sentinel of _csv.c, distinct from every byte. */
#define CSV_EOL (-1)

static int csv_process(struct csv_reader *r, int c, struct csv_err *err)
{
	int rc = 0;

	switch (r->state) {
	case CSV_ST_START_RECORD:
		if (c == CSV_EOL)
			break; /* blank line: an empty record */
		if (c == '\n') {
			r->state = CSV_ST_EAT_CRNL;
			break;
		}
		r->state = CSV_ST_START_FIELD;
		/* fall through */
	case CSV_ST_START_FIELD:
		if (c == '\n' || c == CSV_EOL) {
			rc = csv_save_field(r, err);
			r->state = c == CSV_EOL ? CSV_ST_START_RECORD : CSV_ST_EAT_CRNL;
		} else if (c == '"') {
			r->state = CSV_ST_IN_QUOTED_FIELD;
		} else if (c == ',') {
			rc = csv_save_field(r, err);
		} else {
			rc = csv_add_byte(r, (char)c, err);
			r->state = CSV_ST_IN_FIELD;
		}
		break;
	case CSV_ST_IN_FIELD:
		if (c == '\n' || c == CSV_EOL) {
			rc = csv_save_field(r, err);
			r->state = c == CSV_EOL ? CSV_ST_START_RECORD : CSV_ST_EAT_CRNL;
		} else if (c == ',') {
			rc = csv_save_field(r, err);
			r->state = CSV_ST_START_FIELD;
		} else {
			rc = csv_add_byte(r, (char)c, err);
		}
		break;
	case CSV_ST_IN_QUOTED_FIELD:
		if (c == CSV_EOL)
			break; /* the record continues on the next line */
		if (c == '"')
			r->state = CSV_ST_QUOTE_IN_QUOTED_FIELD;
		else
			rc = csv_add_byte(r, (char)c, err);
		break;
	case CSV_ST_QUOTE_IN_QUOTED_FIELD:
		if (c == '"') {
			rc = csv_add_byte(r, '"', err);
			r->state = CSV_ST_IN_QUOTED_FIELD;
		} else if (c == ',') {
			rc = csv_save_field(r, err);
			r->state = CSV_ST_START_FIELD;
		} else if (c == '\n' || c == CSV_EOL) {
			rc = csv_save_field(r, err);
			r->state = c == CSV_EOL ? CSV_ST_START_RECORD : CSV_ST_EAT_CRNL;
		} else {
			/* strict=False: `"ab"cd` reads as `abcd`. */
			rc = csv_add_byte(r, (char)c, err);
			r->state = CSV_ST_IN_FIELD;
		}
		break;
	case CSV_ST_EAT_CRNL:
		/* Only the line's own "\n" can precede EOL: lines are split on it. */
		if (c == CSV_EOL)
			r->state = CSV_ST_START_RECORD;
		break;
	}
	return rc;
}

static int csv_emit(struct csv_reader *r, struct csv_record *rec, unsigned first_line, struct csv_err *err)
{
	if (r->nfields > r->fields_out_cap) {
		struct csv_field *nf = realloc(r->fields, r->nfields * sizeof(*nf));
		if (!nf)
			return csv_fail(err, CSV_ENOMEM, first_line, "out of memory");
		r->fields = nf;
		r->fields_out_cap = r->nfields;
	}
	for (size_t i = 0; i < r->nfields; i++) {
		size_t end = i + 1 < r->nfields ? r->starts[i + 1] : r->buf_len;
		r->fields[i].ptr = r->buf + r->starts[i];
		r->fields[i].len = end - r->starts[i] - 1;
	}
	rec->nfields = r->nfields;
	rec->fields = r->fields;
	rec->line = first_line;
	rec->end_line = r->line;
	return 1;
}

int csv_reader_next(struct csv_reader *r, struct csv_record *rec, struct csv_err *err)
{
	for (;;) {
		unsigned first_line = 0;
		int rc;

		r->buf_len = 0;
		r->nfields = 0;
		r->field_start = 0;
		r->field_chars = 0;
		r->state = CSV_ST_START_RECORD;
		for (;;) {
			if (r->pos >= r->len) {
				/* End of input inside a quoted field: strict=False keeps
				 * what was read as the last field. */
				if (r->state == CSV_ST_IN_QUOTED_FIELD || r->buf_len != r->field_start) {
					rc = csv_save_field(r, err);
					if (rc < 0)
						return rc;
					return csv_emit(r, rec, first_line, err);
				}
				return 0;
			}
			r->line++;
			if ((r->flags & CSV_SKIP_HASH_LINES) && r->text[r->pos] == '#') {
				while (r->pos < r->len && r->text[r->pos] != '\n' && r->text[r->pos] != '\r')
					r->pos++;
				if (r->pos < r->len && r->text[r->pos++] == '\r' && r->pos < r->len && r->text[r->pos] == '\n')
					r->pos++;
				continue;
			}
			if (!first_line)
				first_line = r->line;
			while (r->pos < r->len) {
				char c = r->text[r->pos++];
				if (c == '\r') {
					if (r->pos < r->len && r->text[r->pos] == '\n')
						r->pos++;
					c = '\n';
				}
				rc = csv_process(r, (unsigned char)c, err);
				if (rc < 0)
					return rc;
				if (c == '\n')
					break;
			}
			rc = csv_process(r, CSV_EOL, err);
			if (rc < 0)
				return rc;
			if (r->state == CSV_ST_START_RECORD)
				break;
		}
		if (r->nfields == 0 && (r->flags & CSV_SKIP_BLANK))
			continue;
		return csv_emit(r, rec, first_line, err);
	}
}

long csv_record_find(const struct csv_record *rec, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = rec->nfields; i-- > 0;)
		if (rec->fields[i].len == n && !memcmp(rec->fields[i].ptr, name, n))
			return (long)i;
	return -1;
}
