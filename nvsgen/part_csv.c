/* CSV partition tables: reading (PartitionTable.from_csv and
 * PartitionDefinition.from_csv of gen_esp32part.py 1.5) and writing
 * (to_csv, in part_csv_write.c). Lines are handled as (pointer, length) so
 * that a NUL in a comment is as harmless as it is to the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_csv_int.h"

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

/* The six fields of line + ',,,,' (at least five exist; a sixth whenever
 * the type is not empty, which is checked first, like the reference),
 * stripped and NUL-terminated in place in copy. */
static int split_fields(char *copy, size_t len, unsigned line_no, char *f[6], struct part_err *err)
{
	size_t nf = 0;
	char *p = copy;

	while (nf < 6) {
		char *comma = memchr(p, ',', len - (size_t)(p - copy));
		size_t flen = comma ? (size_t)(comma - p) : len - (size_t)(p - copy);
		const char *s = part_strip(p, &flen);
		if (memchr(s, '\0', flen)) {
			static const char *const what[] = {"name", "type", "subtype", "offset", "size", "flags"};
			part_err_set(err, PART_ESYNTAX, line_no, -1,
				     "the %s field contains a NUL character (UTF-32 or binary data?)", what[nf]);
			return PART_ESYNTAX;
		}
		memmove(p, s, flen);
		p[flen] = '\0';
		f[nf++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

/* parse_type and parse_subtype. */
static int parse_kind(char *const f[6], unsigned line_no, const struct part_opts *o, struct raw *r,
		      struct part_err *err)
{
	const struct part_kw *kw;
	size_t nkw;
	int rc;

	if (!f[1][0]) {
		part_err_set(err, PART_ESYNTAX, line_no, -1, "Field 'type' can't be left empty.");
		return PART_ESYNTAX;
	}
	nkw = part_names_types(o->names, &kw);
	if ((rc = parse_int(f[1], kw, nkw, &r->type, line_no, err)) != 0)
		return rc;
	if (!f[2][0]) {
		if (r->type == PART_TYPE_APP) {
			part_err_set(err, PART_ESYNTAX, line_no, -1, "App partition cannot have an empty subtype");
			return PART_ESYNTAX;
		}
		r->subtype = sub_kw(o, PART_TYPE_DATA, "undefined");
		return 0;
	}
	nkw = (r->type >= 0 && r->type <= 0xFF) ? part_names_subtypes(o->names, (unsigned)r->type, &kw) : 0;
	return parse_int(f[2], kw, nkw, &r->subtype, line_no, err);
}

/* parse_address and parse_size: the bootloaders and the table have fixed
 * places (the bootloader spans up to the table, the table one sector). */
static int parse_place(char *const f[6], unsigned line_no, const struct part_opts *o, struct raw *r,
		       struct part_err *err)
{
	int rc;

	r->has_offset = 1;
	if (r->type == PART_TYPE_BOOTLOADER && r->subtype == sub_kw(o, r->type, "primary")) {
		if (!o->has_primary_bootloader) {
			part_err_set(err, PART_ESYNTAX, line_no, -1,
				     "Primary bootloader offset is not defined. Please use --primary-bootloader-offset");
			return PART_ESYNTAX;
		}
		r->offset = o->primary_bootloader_offset;
	} else if (r->type == PART_TYPE_BOOTLOADER && r->subtype == sub_kw(o, r->type, "recovery")) {
		if (!o->has_recovery_bootloader) {
			part_err_set(err, PART_ESYNTAX, line_no, -1,
				     "Recovery bootloader offset is not defined. Please use --recovery-bootloader-offset");
			return PART_ESYNTAX;
		}
		r->offset = o->recovery_bootloader_offset;
	} else if (r->type == PART_TYPE_PARTITION_TABLE && r->subtype == sub_kw(o, r->type, "primary")) {
		r->offset = o->table_offset;
	} else if (!f[3][0]) {
		r->has_offset = 0;
	} else if ((rc = parse_int(f[3], NULL, 0, &r->offset, line_no, err)) != 0) {
		return rc;
	}
	if (r->type == PART_TYPE_BOOTLOADER) {
		if (!o->has_primary_bootloader) {
			part_err_set(err, PART_ESYNTAX, line_no, -1,
				     "Primary bootloader offset is not defined. Please use --primary-bootloader-offset");
			return PART_ESYNTAX;
		}
		r->size = (int64_t)o->table_offset - (int64_t)o->primary_bootloader_offset;
	} else if (r->type == PART_TYPE_PARTITION_TABLE) {
		r->size = PART_TABLE_SECTOR;
	} else if (!f[4][0]) {
		part_err_set(err, PART_ESYNTAX, line_no, -1, "Size field can't be empty");
		return PART_ESYNTAX;
	} else if ((rc = parse_int(f[4], NULL, 0, &r->size, line_no, err)) != 0) {
		return rc;
	}
	return 0;
}

/* flags: split on ':' without stripping, as the reference does. Then what
 * is past the reference's own checks: what struct.pack('<2sBBLL16sL') would
 * choke on (a traceback there), and the label policy (the reference cuts a
 * long label to 16 bytes silently; espfab refuses it). */
static int parse_flags_name(char *const f[6], unsigned line_no, struct raw *r, struct part_err *err)
{
	for (char *fl = f[5], *next; fl; fl = next) {
		next = strchr(fl, ':');
		if (next)
			*next++ = '\0';
		if (!strcmp(fl, "encrypted")) {
			r->flags |= PART_FLAG_ENCRYPTED;
		} else if (!strcmp(fl, "readonly")) {
			r->flags |= PART_FLAG_READONLY;
		} else if (fl[0]) {
			part_err_set(err, PART_ESYNTAX, line_no, -1, "CSV flag column contains unknown flag '%s'", fl);
			return PART_ESYNTAX;
		}
	}
	if (r->type < 0 || r->type > 0xFF) {
		part_err_set(err, PART_ESYNTAX, line_no, -1, "Partition type %lld does not fit in a byte",
			     (long long)r->type);
		return PART_ESYNTAX;
	}
	if (r->subtype < 0 || r->subtype > 0xFF) {
		part_err_set(err, PART_ESYNTAX, line_no, -1, "Partition subtype %lld does not fit in a byte",
			     (long long)r->subtype);
		return PART_ESYNTAX;
	}
	if (strlen(f[0]) > PART_NAME_MAX) {
		part_err_set(err, PART_ESYNTAX, line_no, -1,
			     "Partition name '%s' is %zu bytes long; a label holds at most %u bytes", f[0], strlen(f[0]),
			     PART_NAME_MAX);
		return PART_ESYNTAX;
	}
	memcpy(r->name, f[0], strlen(f[0]) + 1);
	return 0;
}

/* PartitionDefinition.from_csv() on a stripped, non-comment line. fields
 * are NUL-terminated copies; a NUL inside a used field is refused. */
static int parse_line(const char *line, size_t len, unsigned line_no, const struct part_opts *o, struct raw *r,
		      struct part_err *err)
{
	char *copy = NULL, *f[6] = {0};
	int rc = PART_ENOMEM;

	memset(r, 0, sizeof(*r));
	r->line = line_no;
	copy = malloc(len + 5);
	if (!copy) {
		part_err_set(err, rc, line_no, -1, "out of memory");
		goto out;
	}
	memcpy(copy, line, len);
	memcpy(copy + len, ",,,,", 5);
	if ((rc = split_fields(copy, len + 4, line_no, f, err)) || (rc = parse_kind(f, line_no, o, r, err)) ||
	    (rc = parse_place(f, line_no, o, r, err)) || (rc = parse_flags_name(f, line_no, r, err)))
		goto out;
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
	if ((rc = part_csv_decode(text ? text : (const uint8_t *)"", len, &all, &owned, err)) != 0)
		return rc;
	for (size_t i = 0; i < all.len;) {
		struct span raw_line = {all.p + i, 0};
		size_t br = 0, slen;
		const char *s;
		struct raw r;

		while (i < all.len && (br = part_line_break(all.p + i, all.len - i)) == 0)
			i++;
		raw_line.len = (size_t)(all.p + i - raw_line.p);
		i += br;
		line_no++;
		rc = PART_ENOMEM;
		if (part_expand_vars(raw_line, o, &line)) {
			part_err_set(err, rc, line_no, -1, "out of memory");
			goto out;
		}
		/* The reference's check runs on the expanded line before strip():
		 * only a $NAME left at the very start is an error. */
		rc = PART_ESYNTAX;
		if (line.len >= 2 && line.p[0] == '$' && ((line.p[1] >= 'A' && line.p[1] <= 'Z') ||
							  (line.p[1] >= 'a' && line.p[1] <= 'z') || line.p[1] == '_')) {
			size_t n = 1;
			while (n < line.len && part_is_word(line.p[n]))
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
