/* CSV partition tables, text level: the bytes decoded as the reference's
 * open() decodes them, split into lines as str.splitlines() does, and
 * $VARIABLES expanded as os.path.expandvars() does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_csv_int.h"

int part_buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int part_buf_addc(struct buf *b, char c)
{
	return part_buf_add(b, &c, 1);
}

static int buf_add_cp(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return part_buf_add(b, u, n);
}

/* Length of the strict UTF-8 sequence at s (Python's codec: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return avail >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

static unsigned line_of(const uint8_t *text, size_t pos)
{
	unsigned line = 1;

	for (size_t i = 0; i < pos; i++)
		if (text[i] == '\n')
			line++;
	return line;
}

/* get_encoding() + bytes.part_csv_decode(): the UTF-8 BOM is dropped, UTF-16 (and
 * UTF-32 BE) text with a BOM is converted to UTF-8. Like the reference, a
 * UTF-32 LE BOM is taken for UTF-16 LE (its BOM check comes first). *out is
 * either text (no copy) or *owned. */
int part_csv_decode(const uint8_t *text, size_t len, struct span *out, char **owned, struct part_err *err)
{
	struct buf b = {0};
	unsigned unit = 0;
	int be = 0, rc;

	*owned = NULL;
	if (len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF) {
		text += 3;
		len -= 3;
	} else if (len >= 2 && text[0] == 0xFF && text[1] == 0xFE) {
		unit = 2;
	} else if (len >= 2 && text[0] == 0xFE && text[1] == 0xFF) {
		unit = 2;
		be = 1;
	} else if (len >= 4 && text[0] == 0 && text[1] == 0 && text[2] == 0xFE && text[3] == 0xFF) {
		unit = 4;
		be = 1;
	}
	if (!unit) {
		for (size_t i = 0; i < len;) {
			size_t n = utf8_seq(text + i, len - i);
			if (!n) {
				part_err_set(err, PART_ESYNTAX, line_of(text, i), -1,
					     "'utf-8' codec can't decode byte 0x%02x in position %zu", text[i], i);
				return PART_ESYNTAX;
			}
			i += n;
		}
		out->p = (const char *)text;
		out->len = len;
		return 0;
	}
	rc = PART_ESYNTAX;
	for (size_t i = unit; i < len; i += unit) {
		uint32_t cp;
		if (len - i < unit) {
			part_err_set(err, rc, 0, -1, "'utf-%u' codec can't decode: truncated data at byte %zu", unit * 8, i);
			goto out;
		}
		if (unit == 4) {
			cp = (uint32_t)text[i] << 24 | (uint32_t)text[i + 1] << 16 | (uint32_t)text[i + 2] << 8 | text[i + 3];
		} else {
			cp = be ? (uint32_t)text[i] << 8 | text[i + 1] : (uint32_t)text[i + 1] << 8 | text[i];
			if (cp >= 0xD800 && cp <= 0xDBFF && len - i >= 4) {
				uint32_t lo = be ? (uint32_t)text[i + 2] << 8 | text[i + 3]
						 : (uint32_t)text[i + 3] << 8 | text[i + 2];
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					i += 2;
				}
			}
		}
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
			part_err_set(err, rc, 0, -1, "'utf-%u' codec can't decode code point 0x%x at byte %zu", unit * 8,
				     cp, i);
			goto out;
		}
		if (buf_add_cp(&b, cp)) {
			rc = PART_ENOMEM;
			part_err_set(err, rc, 0, -1, "out of memory");
			goto out;
		}
	}
	if (!b.p && part_buf_add(&b, "", 0)) {
		rc = PART_ENOMEM;
		part_err_set(err, rc, 0, -1, "out of memory");
		goto out;
	}
	*owned = b.p;
	out->p = b.p;
	out->len = b.len;
	b.p = NULL;
	rc = 0;
out:
	free(b.p);
	return rc;
}

size_t part_line_break(const char *s, size_t avail)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] == '\r')
		return avail >= 2 && u[1] == '\n' ? 2 : 1;
	if (u[0] == '\n' || u[0] == 0x0B || u[0] == 0x0C || (u[0] >= 0x1C && u[0] <= 0x1E))
		return 1;
	if (avail >= 2 && u[0] == 0xC2 && u[1] == 0x85)
		return 2;
	if (avail >= 3 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9))
		return 3;
	return 0;
}

int part_is_word(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* os.path.expandvars() (POSIX): $name with name \w+ (ASCII) or ${...};
 * unknown variables stay as written; a substituted value is not rescanned. */
int part_expand_vars(struct span line, const struct part_opts *o, struct buf *b)
{
	size_t i = 0;

	b->len = 0;
	if (part_buf_add(b, "", 0))
		return -1;
	while (i < line.len) {
		size_t j, name_start, name_len;
		char name[256];
		const char *val = NULL;

		if (line.p[i] != '$') {
			if (part_buf_addc(b, line.p[i++]))
				return -1;
			continue;
		}
		j = i + 1;
		if (j < line.len && part_is_word(line.p[j])) {
			name_start = j;
			while (j < line.len && part_is_word(line.p[j]))
				j++;
			name_len = j - name_start;
		} else if (j < line.len && line.p[j] == '{') {
			const char *close = memchr(line.p + j, '}', line.len - j);
			if (!close) {
				if (part_buf_addc(b, line.p[i++]))
					return -1;
				continue;
			}
			name_start = j + 1;
			name_len = (size_t)(close - (line.p + name_start));
			j = (size_t)(close - line.p) + 1;
		} else {
			if (part_buf_addc(b, line.p[i++]))
				return -1;
			continue;
		}
		if (o->getenv && name_len < sizeof(name) && !memchr(line.p + name_start, '\0', name_len)) {
			memcpy(name, line.p + name_start, name_len);
			name[name_len] = '\0';
			if (!strchr(name, '='))
				val = o->getenv(o->getenv_user, name);
		}
		if (val ? part_buf_add(b, val, strlen(val)) : part_buf_add(b, line.p + i, j - i))
			return -1;
		i = j;
	}
	return 0;
}

