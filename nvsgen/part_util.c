/* Shared helpers of the partition-table module: errors, warnings, Python's
 * int() and str.strip() as the reference relies on them, options, tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/err.h"
#include "espfab/pyint.h"
#include "espfab/pystr.h"
#include "part_priv.h"

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
	err_vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void part_warn(const struct part_opts *o, unsigned line, long pos, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (!o || !o->warn)
		return;
	va_start(ap, fmt);
	err_vformat(text, sizeof(text), fmt, ap);
	va_end(ap);
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

const char *part_strip(const char *s, size_t *len)
{
	const uint8_t *p = (const uint8_t *)s;

	pystr_strip(&p, len, PYSTR_SPACE_STRIP);
	return (const char *)p;
}

const char *part_hex(char buf[24], int64_t v)
{
	if (v < 0)
		snprintf(buf, 24, "-%llx", (unsigned long long)(-(v + 1)) + 1ULL);
	else
		snprintf(buf, 24, "%llx", (unsigned long long)v);
	return buf;
}

int part_pyint(const char *s, int base, int64_t *out)
{
	struct pyint v;
	int rc = pyint_parse_str(s, (unsigned)base, &v);

	if (rc == PYINT_OK)
		rc = pyint_to_i64(&v, out);
	return rc == PYINT_ERANGE ? -2 : rc ? -1 : 0;
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
