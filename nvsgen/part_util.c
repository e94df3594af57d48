/* Shared helpers of the partition-table module: errors, warnings, Python's
 * int() and str.strip() as the reference relies on them, options, tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_priv.h"

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

void part_err_clear(struct part_err *err)
{
	if (!err)
		return;
	err->code = PART_OK;
	err->line = 0;
	err->pos = -1;
	err->msg[0] = '\0';
}

void part_err_set(struct part_err *err, int code, unsigned line, long pos, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	err->line = line;
	err->pos = pos;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	one_line(err->msg);
}

void part_warn(const struct part_opts *o, unsigned line, long pos, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!o || !o->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	one_line(text);
	o->warn(o->warn_user, line, pos, text);
}

void part_opts_init(struct part_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->table_offset = PART_TABLE_OFFSET_DEFAULT;
	o->md5 = true;
	o->secure = PART_SECURE_NONE;
}

int part_opts_check(const struct part_opts *o, struct part_err *err)
{
	/* main(): "Primary bootloader must be below partition table". */
	if (o->has_primary_bootloader && o->primary_bootloader_offset >= o->table_offset) {
		part_err_set(err, PART_EINVAL, 0, -1,
			     "Unsupported configuration. Primary bootloader must be below partition table. "
			     "Check --primary-bootloader-offset=%#x and --offset=%#x",
			     o->primary_bootloader_offset, o->table_offset);
		return PART_EINVAL;
	}
	return 0;
}

/* str.isspace() for the code point starting at s (UTF-8); returns its byte
 * length when it is whitespace, else 0. */
static size_t space_at(const unsigned char *s, size_t avail, int for_int)
{
	/* int() skips Py_UNICODE_ISSPACE but not 0x1C-0x1F, which str.strip() removes */
	if (avail >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0D) || s[0] == 0x20 || (!for_int && s[0] >= 0x1C && s[0] <= 0x1F)))
		return 1;
	if (avail >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
		return 2;
	if (avail >= 3 && s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* U+1680 */
		return 3;
	if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
		return 3;
	if (avail >= 3 && s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) /* U+205F */
		return 3;
	if (avail >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

/* Length of the whitespace code point ending at s[len-1], or 0. */
static size_t space_before(const unsigned char *s, size_t len, int for_int)
{
	for (size_t k = 1; k <= 3 && k <= len; k++) {
		size_t n = space_at(s + len - k, k, for_int);
		if (n == k)
			return k;
	}
	return 0;
}

static const char *strip(const char *s, size_t *len, int for_int)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = *len, k;

	while (n && (k = space_at(p, n, for_int)) != 0) {
		p += k;
		n -= k;
	}
	while (n && (k = space_before(p, n, for_int)) != 0)
		n -= k;
	*len = n;
	return (const char *)p;
}

const char *part_strip(const char *s, size_t *len)
{
	return strip(s, len, 0);
}

const char *part_hex(char buf[24], int64_t v)
{
	if (v < 0)
		snprintf(buf, 24, "-%llx", (unsigned long long)(-(v + 1)) + 1ULL);
	else
		snprintf(buf, 24, "%llx", (unsigned long long)v);
	return buf;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

int part_pyint(const char *s, int base, int64_t *out)
{
	size_t len = strlen(s), i = 0;
	const char *p = strip(s, &len, 1);
	int neg = 0, prefixed = 0, base0 = base == 0, nonzero = 0, last_us;
	uint64_t v = 0, limit;
	size_t ndigits = 0, first;

	if (i < len && (p[i] == '+' || p[i] == '-')) {
		neg = p[i] == '-';
		i++;
	}
	if (i + 1 < len && p[i] == '0') {
		char c = p[i + 1];
		int pb = 0;
		if (c == 'x' || c == 'X')
			pb = 16;
		else if (base0 && (c == 'o' || c == 'O'))
			pb = 8;
		else if (base0 && (c == 'b' || c == 'B'))
			pb = 2;
		if (pb) {
			base = pb;
			i += 2;
			prefixed = 1;
		}
	}
	if (base == 0)
		base = 10;
	/* Python allows one underscore right after a base prefix, else only
	 * single underscores between digits. */
	last_us = !prefixed;
	if (prefixed && i < len && p[i] == '_') {
		i++;
		last_us = 1;
	}
	first = i;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		int d;
		if (p[i] == '_') {
			if (last_us)
				return -1;
			last_us = 1;
			continue;
		}
		d = digit_value(p[i]);
		if (d >= base)
			return -1;
		last_us = 0;
		ndigits++;
		nonzero |= d != 0;
		if (v > (limit - (uint64_t)d) / (uint64_t)base)
			return -2;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (!ndigits || last_us)
		return -1;
	/* int('010', 0) is a ValueError: base-0 decimals have no leading zeros
	 * (but '00' and '0_0' are fine). */
	if (base0 && !prefixed && p[first] == '0' && nonzero)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

const char *part_strerror(int code)
{
	switch (code) {
	case PART_OK: return "ok";
	case PART_EINVAL: return "invalid argument";
	case PART_ENOMEM: return "out of memory";
	case PART_ESYNTAX: return "bad CSV line";
	case PART_EBINARY: return "malformed binary table";
	case PART_EMD5: return "MD5 mismatch";
	case PART_ENOEND: return "no end-of-table marker";
	case PART_EVERIFY: return "table fails validation";
	case PART_ETOOBIG: return "table too long";
	case PART_EFLASH: return "does not fit in flash";
	case PART_ENOTFOUND: return "partition not found";
	case PART_EEMPTY: return "no partition table (erased flash)";
	case PART_ENOMD5: return "no MD5 entry";
	}
	return "unknown error";
}

struct part_table *part_table_alloc(void)
{
	return calloc(1, sizeof(struct part_table));
}

struct part_entry *part_table_push(struct part_table *t)
{
	struct part_entry *e;

	/* Capacity is implicit: 8, then doubled whenever count reaches a power of two. */
	if (t->count == 0 || (t->count >= 8 && (t->count & (t->count - 1)) == 0)) {
		size_t cap = t->count ? t->count * 2 : 8;
		struct part_entry *n = realloc(t->entries, cap * sizeof(*n));
		if (!n)
			return NULL;
		t->entries = n;
	}
	e = &t->entries[t->count++];
	memset(e, 0, sizeof(*e));
	e->pos = -1;
	return e;
}

void part_table_free(struct part_table *t)
{
	if (!t)
		return;
	free(t->entries);
	free(t);
}
