/* CSV partition tables: reading (PartitionTable.from_csv and
 * PartitionDefinition.from_csv of gen_esp32part.py 1.5) and writing
 * (to_csv). Lines are handled as (pointer, length) so that a NUL in a
 * comment is as harmless as it is to the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_priv.h"

struct span {
	const char *p;
	size_t len;
};

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t n)
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

static int buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
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
	return buf_add(b, u, n);
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

/* get_encoding() + bytes.decode(): the UTF-8 BOM is dropped, UTF-16 (and
 * UTF-32 BE) text with a BOM is converted to UTF-8. Like the reference, a
 * UTF-32 LE BOM is taken for UTF-16 LE (its BOM check comes first). *out is
 * either text (no copy) or *owned. */
static int decode(const uint8_t *text, size_t len, struct span *out, char **owned, struct part_err *err)
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
	if (!b.p && buf_add(&b, "", 0)) {
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

/* str.splitlines() separators: returns the separator's length at s, or 0. */
static size_t line_break(const char *s, size_t avail)
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

static int is_word(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* os.path.expandvars() (POSIX): $name with name \w+ (ASCII) or ${...};
 * unknown variables stay as written; a substituted value is not rescanned. */
static int expand_vars(struct span line, const struct part_opts *o, struct buf *b)
{
	size_t i = 0;

	b->len = 0;
	if (buf_add(b, "", 0))
		return -1;
	while (i < line.len) {
		size_t j, name_start, name_len;
		char name[256];
		const char *val = NULL;

		if (line.p[i] != '$') {
			if (buf_addc(b, line.p[i++]))
				return -1;
			continue;
		}
		j = i + 1;
		if (j < line.len && is_word(line.p[j])) {
			name_start = j;
			while (j < line.len && is_word(line.p[j]))
				j++;
			name_len = j - name_start;
		} else if (j < line.len && line.p[j] == '{') {
			const char *close = memchr(line.p + j, '}', line.len - j);
			if (!close) {
				if (buf_addc(b, line.p[i++]))
					return -1;
				continue;
			}
			name_start = j + 1;
			name_len = (size_t)(close - (line.p + name_start));
			j = (size_t)(close - line.p) + 1;
		} else {
			if (buf_addc(b, line.p[i++]))
				return -1;
			continue;
		}
		if (o->getenv && name_len < sizeof(name) && !memchr(line.p + name_start, '\0', name_len)) {
			memcpy(name, line.p + name_start, name_len);
			name[name_len] = '\0';
			if (!strchr(name, '='))
				val = o->getenv(o->getenv_user, name);
		}
		if (val ? buf_add(b, val, strlen(val)) : buf_add(b, line.p + i, j - i))
			return -1;
		i = j;
	}
	return 0;
}

/* A row as parsed, before offsets are filled in (Python ints, None). */
struct raw {
	char name[PART_NAME_MAX + 1];
	int64_t type, subtype, offset, size;
	int has_offset;
	uint32_t flags;
	unsigned line;
};

struct rows {
	struct raw *r;
	size_t n, cap;
};

static void kw_list(char *out, size_t cap, const struct part_kw *kw, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < cap; i++) {
		int w = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", kw[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* parse_int(): int(v, 0) with k/m suffixes (case-insensitive; the reference
 * strips one from the right and recurses, so "1kk" is 1 MiB and an error
 * names what is left once every suffix is gone) and a case-insensitive
 * keyword lookup when int() fails. */
static int parse_int(const char *v, const struct part_kw *kw, size_t nkw, int64_t *out, unsigned line,
		     struct part_err *err)
{
	char *work = strdup(v), known[200];
	size_t len = strlen(v), k;
	int64_t value = 0;
	int rc = PART_ENOMEM;
	int nk = 0, nm = 0;

	if (!work) {
		part_err_set(err, rc, line, -1, "out of memory");
		goto out;
	}
	for (; len && strchr("kKmM", work[len - 1]); len--)
		*(work[len - 1] == 'k' || work[len - 1] == 'K' ? &nk : &nm) += 1;
	work[len] = '\0';
	rc = PART_ESYNTAX;
	switch (part_pyint(work, 0, &value)) {
	case 0:
		break;
	case -2:
		part_err_set(err, rc, line, -1, "Value %s is too large", v);
		goto out;
	default:
		if (nkw == 0) {
			part_err_set(err, rc, line, -1, "Invalid field value %s", work);
			goto out;
		}
		for (char *c = work; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		for (k = 0; k < nkw && strcmp(kw[k].name, work); k++)
			;
		if (k == nkw) {
			memcpy(work, v, len); /* the message quotes the text, not its lower case */
			kw_list(known, sizeof(known), kw, nkw);
			part_err_set(err, rc, line, -1, "Value '%s' is not valid. Known keywords: %s", work, known);
			goto out;
		}
		value = kw[k].value;
		break;
	}
	for (int i = 0; i < nk + nm; i++) {
		int64_t mult = i < nk ? 1024 : 1024 * 1024;
		if (value > INT64_MAX / mult || value < INT64_MIN / mult) {
			part_err_set(err, rc, line, -1, "Value %s is too large", v);
			goto out;
		}
		value *= mult;
	}
	*out = value;
	rc = 0;
out:
	free(work);
	return rc;
}

/* The subtype keyword's value for a type, or -1 (SUBTYPES[t][name]). */
static int64_t sub_kw(const struct part_opts *o, int64_t type, const char *name)
{
	if (type < 0 || type > 0xFF)
		return -1;
	return part_subtype_value(o->names, (unsigned)type, name);
}

/* PartitionDefinition.from_csv() on a stripped, non-comment line. fields
 * are NUL-terminated copies; a NUL inside a used field is refused. */
static int parse_line(const char *line, size_t len, unsigned line_no, const struct part_opts *o, struct raw *r,
		      struct part_err *err)
{
	char *copy = NULL, *f[6] = {0};
	size_t nf = 0;
	const struct part_kw *kw;
	size_t nkw;
	int rc = PART_ENOMEM;
	char *p;

	memset(r, 0, sizeof(*r));
	r->line = line_no;
	/* line + ',,,,' gives at least five fields; a sixth exists whenever the
	 * type is not empty, which is checked first, like the reference. */
	copy = malloc(len + 5);
	if (!copy) {
		part_err_set(err, rc, line_no, -1, "out of memory");
		goto out;
	}
	memcpy(copy, line, len);
	memcpy(copy + len, ",,,,", 5);
	len += 4;
	p = copy;
	while (nf < 6) {
		char *comma = memchr(p, ',', len - (size_t)(p - copy));
		size_t flen = comma ? (size_t)(comma - p) : len - (size_t)(p - copy);
		const char *s = part_strip(p, &flen);
		if (memchr(s, '\0', flen)) {
			rc = PART_ESYNTAX;
			static const char *const what[] = {"name", "type", "subtype", "offset", "size", "flags"};
			part_err_set(err, rc, line_no, -1, "the %s field contains a NUL character (UTF-32 or binary data?)",
				     what[nf]);
			goto out;
		}
		memmove(p, s, flen);
		p[flen] = '\0';
		f[nf++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	rc = PART_ESYNTAX;
	/* parse_type */
	if (!f[1][0]) {
		part_err_set(err, rc, line_no, -1, "Field 'type' can't be left empty.");
		goto out;
	}
	nkw = part_names_types(o->names, &kw);
	if ((rc = parse_int(f[1], kw, nkw, &r->type, line_no, err)) != 0)
		goto out;
	/* parse_subtype */
	rc = PART_ESYNTAX;
	if (!f[2][0]) {
		if (r->type == PART_TYPE_APP) {
			part_err_set(err, rc, line_no, -1, "App partition cannot have an empty subtype");
			goto out;
		}
		r->subtype = sub_kw(o, PART_TYPE_DATA, "undefined");
	} else {
		nkw = (r->type >= 0 && r->type <= 0xFF) ? part_names_subtypes(o->names, (unsigned)r->type, &kw) : 0;
		if ((rc = parse_int(f[2], kw, nkw, &r->subtype, line_no, err)) != 0)
			goto out;
	}
	rc = PART_ESYNTAX;
	/* parse_address */
	r->has_offset = 1;
	if (r->type == PART_TYPE_BOOTLOADER && r->subtype == sub_kw(o, r->type, "primary")) {
		if (!o->has_primary_bootloader) {
			part_err_set(err, rc, line_no, -1,
				     "Primary bootloader offset is not defined. Please use --primary-bootloader-offset");
			goto out;
		}
		r->offset = o->primary_bootloader_offset;
	} else if (r->type == PART_TYPE_BOOTLOADER && r->subtype == sub_kw(o, r->type, "recovery")) {
		if (!o->has_recovery_bootloader) {
			part_err_set(err, rc, line_no, -1,
				     "Recovery bootloader offset is not defined. Please use --recovery-bootloader-offset");
			goto out;
		}
		r->offset = o->recovery_bootloader_offset;
	} else if (r->type == PART_TYPE_PARTITION_TABLE && r->subtype == sub_kw(o, r->type, "primary")) {
		r->offset = o->table_offset;
	} else if (!f[3][0]) {
		r->has_offset = 0;
	} else if ((rc = parse_int(f[3], NULL, 0, &r->offset, line_no, err)) != 0) {
		goto out;
	}
	rc = PART_ESYNTAX;
	/* parse_size: the bootloader spans up to the table, the table one sector */
	if (r->type == PART_TYPE_BOOTLOADER) {
		if (!o->has_primary_bootloader) {
			part_err_set(err, rc, line_no, -1,
				     "Primary bootloader offset is not defined. Please use --primary-bootloader-offset");
			goto out;
		}
		r->size = (int64_t)o->table_offset - (int64_t)o->primary_bootloader_offset;
	} else if (r->type == PART_TYPE_PARTITION_TABLE) {
		r->size = PART_TABLE_SECTOR;
	} else if (!f[4][0]) {
		part_err_set(err, rc, line_no, -1, "Size field can't be empty");
		goto out;
	} else if ((rc = parse_int(f[4], NULL, 0, &r->size, line_no, err)) != 0) {
		goto out;
	}
	rc = PART_ESYNTAX;
	/* flags: split on ':' without stripping, as the reference does */
	for (char *fl = f[5], *next; fl; fl = next) {
		next = strchr(fl, ':');
		if (next)
			*next++ = '\0';
		if (!strcmp(fl, "encrypted")) {
			r->flags |= PART_FLAG_ENCRYPTED;
		} else if (!strcmp(fl, "readonly")) {
			r->flags |= PART_FLAG_READONLY;
		} else if (fl[0]) {
			part_err_set(err, rc, line_no, -1, "CSV flag column contains unknown flag '%s'", fl);
			goto out;
		}
	}
	/* Past the reference's own checks: what struct.pack('<2sBBLL16sL') would
	 * choke on (a traceback there), and the label policy (the reference cuts
	 * a long label to 16 bytes silently; espfab refuses it). */
	if (r->type < 0 || r->type > 0xFF) {
		part_err_set(err, rc, line_no, -1, "Partition type %lld does not fit in a byte", (long long)r->type);
		goto out;
	}
	if (r->subtype < 0 || r->subtype > 0xFF) {
		part_err_set(err, rc, line_no, -1, "Partition subtype %lld does not fit in a byte",
			     (long long)r->subtype);
		goto out;
	}
	if (strlen(f[0]) > PART_NAME_MAX) {
		part_err_set(err, rc, line_no, -1,
			     "Partition name '%s' is %zu bytes long; a label holds at most %u bytes", f[0], strlen(f[0]),
			     PART_NAME_MAX);
		goto out;
	}
	memcpy(r->name, f[0], strlen(f[0]) + 1);
	rc = 0;
out:
	free(copy);
	return rc;
}

static int rows_push(struct rows *rs, const struct raw *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct raw *n = realloc(rs->r, cap * sizeof(*n));
		if (!n)
			return -1;
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
	return 0;
}

static int raw_eq(const struct raw *a, const struct raw *b)
{
	/* PartitionDefinition.__eq__: name, type, subtype, offset, size */
	return !strcmp(a->name, b->name) && a->type == b->type && a->subtype == b->subtype &&
	       a->has_offset == b->has_offset && (!a->has_offset || a->offset == b->offset) && a->size == b->size;
}

static int64_t align_of(int64_t type)
{
	return type == PART_TYPE_APP ? 0x10000 : 0x1000;
}

/* The "fix up missing offsets & negative sizes" pass, with its overlap
 * check in file order against the previous partition's end. */
static int fixup(struct rows *rs, const struct part_opts *o, struct part_err *err)
{
	int64_t last_end = (int64_t)o->table_offset + PART_TABLE_SECTOR;
	char h1[24], h2[24];

	for (size_t i = 0; i < rs->n; i++) {
		struct raw *e = &rs->r[i];
		if ((e->type == PART_TYPE_BOOTLOADER && e->subtype == sub_kw(o, e->type, "primary")) ||
		    (e->type == PART_TYPE_PARTITION_TABLE && e->subtype == sub_kw(o, e->type, "primary")))
			continue; /* they take no part in restoring missing offsets */
		if (e->has_offset && e->offset < last_end) {
			if (raw_eq(e, &rs->r[0]))
				part_err_set(err, PART_ESYNTAX, e->line, -1,
					     "Partitions overlap. Partition sets offset 0x%s. But partition table occupies "
					     "the whole sector 0x%x. Use a free offset 0x%s or higher.",
					     part_hex(h1, e->offset), o->table_offset, part_hex(h2, last_end));
			else
				part_err_set(err, PART_ESYNTAX, e->line, -1,
					     "Partitions overlap. Partition sets offset 0x%s. Previous partition ends 0x%s",
					     part_hex(h1, e->offset), part_hex(h2, last_end));
			return PART_ESYNTAX;
		}
		/* Python ints do not overflow; keep ours far from int64 limits so
		 * the arithmetic below cannot either. */
		if (e->offset > INT64_MAX / 4 || e->offset < -(INT64_MAX / 4) || e->size > INT64_MAX / 4 ||
		    e->size < -(INT64_MAX / 4)) {
			part_err_set(err, PART_ESYNTAX, e->line, -1, "Partition %s: offset or size out of range", e->name);
			return PART_ESYNTAX;
		}
		if (!e->has_offset) {
			int64_t pad = align_of(e->type);
			if (last_end % pad != 0)
				last_end += pad - (last_end % pad);
			e->offset = last_end;
			e->has_offset = 1;
		}
		if (e->size < 0)
			e->size = -e->size - e->offset;
		last_end = e->offset + e->size;
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct raw *e = &rs->r[i];
		if (e->offset < 0 || e->offset > 0xFFFFFFFFLL) {
			part_err_set(err, PART_ESYNTAX, e->line, -1,
				     "Partition %s: offset 0x%s is out of range (0-0xffffffff)", e->name, part_hex(h1, e->offset));
			return PART_ESYNTAX;
		}
		if (e->size < 0 || e->size > 0xFFFFFFFFLL) {
			part_err_set(err, PART_ESYNTAX, e->line, -1,
				     "Partition %s: size 0x%s is out of range (0-0xffffffff)", e->name, part_hex(h1, e->size));
			return PART_ESYNTAX;
		}
	}
	return 0;
}

int part_csv_parse(const uint8_t *text, size_t len, const struct part_opts *o, struct part_table **out,
		   struct part_err *err)
{
	struct part_opts defaults;
	struct span all;
	char *owned = NULL;
	struct buf line = {0};
	struct rows rs = {0};
	struct part_table *t = NULL;
	unsigned line_no = 0;
	int rc;

	if (out)
		*out = NULL;
	part_err_clear(err);
	if (!o) {
		part_opts_init(&defaults);
		o = &defaults;
	}
	if (!out || (!text && len)) {
		part_err_set(err, PART_EINVAL, 0, -1, "no input or output");
		return PART_EINVAL;
	}
	if ((rc = part_opts_check(o, err)) != 0)
		return rc;
	if ((rc = decode(text ? text : (const uint8_t *)"", len, &all, &owned, err)) != 0)
		return rc;
	for (size_t i = 0; i < all.len;) {
		struct span raw_line = {all.p + i, 0};
		size_t br = 0, slen;
		const char *s;
		struct raw r;

		while (i < all.len && (br = line_break(all.p + i, all.len - i)) == 0)
			i++;
		raw_line.len = (size_t)(all.p + i - raw_line.p);
		i += br;
		line_no++;
		rc = PART_ENOMEM;
		if (expand_vars(raw_line, o, &line)) {
			part_err_set(err, rc, line_no, -1, "out of memory");
			goto out;
		}
		/* The reference's check runs on the expanded line before strip():
		 * only a $NAME left at the very start is an error. */
		rc = PART_ESYNTAX;
		if (line.len >= 2 && line.p[0] == '$' && ((line.p[1] >= 'A' && line.p[1] <= 'Z') ||
							  (line.p[1] >= 'a' && line.p[1] <= 'z') || line.p[1] == '_')) {
			size_t n = 1;
			while (n < line.len && is_word(line.p[n]))
				n++;
			part_err_set(err, rc, line_no, -1, "unknown variable '%.*s'", (int)(n - 1), line.p + 1);
			goto out;
		}
		slen = line.len;
		s = part_strip(line.p, &slen);
		if (slen == 0 || s[0] == '#')
			continue;
		if ((rc = parse_line(s, slen, line_no, o, &r, err)) != 0)
			goto out;
		if (rows_push(&rs, &r)) {
			rc = PART_ENOMEM;
			part_err_set(err, rc, line_no, -1, "out of memory");
			goto out;
		}
	}
	if ((rc = fixup(&rs, o, err)) != 0)
		goto out;
	rc = PART_ENOMEM;
	t = part_table_alloc();
	if (!t) {
		part_err_set(err, rc, 0, -1, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < rs.n; i++) {
		struct part_entry *e = part_table_push(t);
		if (!e) {
			part_err_set(err, rc, 0, -1, "out of memory");
			goto out;
		}
		memcpy(e->name, rs.r[i].name, sizeof(e->name));
		e->type = (uint8_t)rs.r[i].type;
		e->subtype = (uint8_t)rs.r[i].subtype;
		e->offset = (uint32_t)rs.r[i].offset;
		e->size = (uint32_t)rs.r[i].size;
		e->flags = rs.r[i].flags;
		e->line = rs.r[i].line;
	}
	*out = t;
	t = NULL;
	rc = 0;
out:
	part_table_free(t);
	free(rs.r);
	free(line.p);
	free(owned);
	return rc;
}

/* PartitionDefinition.to_csv(): sizes as M or K when they divide evenly. */
size_t part_csv_row(const struct part_entry *e, const struct part_names *n, char *buf, size_t cap)
{
	const char *tn = part_type_name(n, e->type);
	const char *sn = part_subtype_name(n, e->type, e->subtype);
	char tbuf[8], sbuf[8], size[16];
	const char *flags;
	int w;

	if (!tn) {
		snprintf(tbuf, sizeof(tbuf), "%u", e->type);
		tn = tbuf;
	}
	if (!sn) {
		snprintf(sbuf, sizeof(sbuf), "%u", e->subtype);
		sn = sbuf;
	}
	if (e->size % 0x100000 == 0)
		snprintf(size, sizeof(size), "%uM", e->size / 0x100000);
	else if (e->size % 0x400 == 0)
		snprintf(size, sizeof(size), "%uK", e->size / 0x400);
	else
		snprintf(size, sizeof(size), "0x%x", e->size);
	switch (e->flags & (PART_FLAG_ENCRYPTED | PART_FLAG_READONLY)) {
	case PART_FLAG_ENCRYPTED: flags = "encrypted"; break;
	case PART_FLAG_READONLY: flags = "readonly"; break;
	case PART_FLAG_ENCRYPTED | PART_FLAG_READONLY: flags = "encrypted:readonly"; break;
	default: flags = ""; break;
	}
	w = snprintf(buf, cap, "%s,%s,%s,0x%x,%s,%s", e->name, tn, sn, e->offset, size, flags);
	return w < 0 ? 0 : (size_t)w;
}

int part_csv_write(const struct part_table *t, const struct part_opts *o, char **out, struct part_err *err)
{
	static const char head[] = "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n";
	struct buf b = {0};
	char row[128], *big = NULL;
	int rc = PART_ENOMEM;

	if (out)
		*out = NULL;
	part_err_clear(err);
	if (!t || !out) {
		part_err_set(err, PART_EINVAL, 0, -1, "no table or output");
		return PART_EINVAL;
	}
	if (buf_add(&b, head, sizeof(head) - 1))
		goto out;
	for (size_t i = 0; i < t->count; i++) {
		size_t need = part_csv_row(&t->entries[i], o ? o->names : NULL, row, sizeof(row));
		const char *text = row;
		if (need >= sizeof(row)) {
			/* an --extra-partition-subtypes name can be long */
			free(big);
			big = malloc(need + 1);
			if (!big)
				goto out;
			part_csv_row(&t->entries[i], o ? o->names : NULL, big, need + 1);
			text = big;
		}
		if (buf_add(&b, text, need) || buf_addc(&b, '\n'))
			goto out;
	}
	*out = b.p;
	b.p = NULL;
	rc = 0;
out:
	if (rc)
		part_err_set(err, rc, 0, -1, "out of memory");
	free(big);
	free(b.p);
	return rc;
}
