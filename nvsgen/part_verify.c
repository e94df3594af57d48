/* Validation: PartitionDefinition.verify() and PartitionTable.verify(),
 * flash_size() and verify_size_fits() of gen_esp32part.py 1.5. */
#include <stdlib.h>
#include <string.h>

#include "part_priv.h"

static int64_t data_sub(const struct part_opts *o, const char *name)
{
	return part_subtype_value(o->names, PART_TYPE_DATA, name);
}

static int is_primary(const struct part_opts *o, const struct part_entry *e)
{
	return (e->type == PART_TYPE_BOOTLOADER || e->type == PART_TYPE_PARTITION_TABLE) &&
	       (int64_t)e->subtype == part_subtype_value(o->names, e->type, "primary");
}

/* PartitionDefinition.verify(); errors read "Partition NAME invalid: ...". */
static int verify_one(const struct part_entry *e, const struct part_opts *o, struct part_err *err)
{
	uint32_t align = e->type == PART_TYPE_APP ? 0x10000u : 0x1000u;
	int type_kw, sub_kw;

	if (e->offset % align) {
		part_err_set(err, PART_EVERIFY, e->line, e->pos, "Partition %s invalid: Offset 0x%x is not aligned to 0x%x",
			     e->name, e->offset, align);
		return PART_EVERIFY;
	}
	if (e->type == PART_TYPE_APP) {
		/* secure boot v1 keeps its 68-byte signature at the end of a 64K
		 * block; v2 and no secure boot need the 4K erase size only */
		uint32_t size_align = o->secure == PART_SECURE_V1 ? 0x10000u : 0x1000u;
		if (e->size % size_align) {
			part_err_set(err, PART_EVERIFY, e->line, e->pos,
				     "Partition %s invalid: Size 0x%x is not aligned to 0x%x", e->name, e->size, size_align);
			return PART_EVERIFY;
		}
	}
	type_kw = part_type_value(o->names, e->name);
	if (type_kw >= 0 && (unsigned)type_kw != e->type)
		part_warn(o, e->line, e->pos,
			  "Partition has name '%s' which is a partition type, but does not match this partition's type "
			  "(0x%x). Mistake in partition table?",
			  e->name, e->type);
	sub_kw = part_subtype_value(o->names, e->type, e->name);
	if (part_names_is_any_subtype(o->names, e->name) && (sub_kw < 0 || (unsigned)sub_kw != e->subtype))
		part_warn(o, e->line, e->pos,
			  "Partition has name '%s' which is a partition subtype, but this partition has non-matching type "
			  "0x%x and subtype 0x%x. Mistake in partition table?",
			  e->name, e->type, e->subtype);
	if (e->type == PART_TYPE_DATA && (e->subtype == data_sub(o, "ota") || e->subtype == data_sub(o, "coredump")) &&
	    (e->flags & PART_FLAG_READONLY)) {
		part_err_set(err, PART_EVERIFY, e->line, e->pos,
			     "Partition %s invalid: '%s' partition of type %u and subtype %u is always read-write and "
			     "cannot be read-only",
			     e->name, e->name, e->type, e->subtype);
		return PART_EVERIFY;
	}
	if (e->type == PART_TYPE_DATA && e->subtype == data_sub(o, "nvs") && e->size < PART_NVS_RW_MIN_SIZE &&
	    !(e->flags & PART_FLAG_READONLY)) {
		part_err_set(err, PART_EVERIFY, e->line, e->pos,
			     "Partition %s invalid: '%s' partition of type %u and subtype %u of this size (0x%x) must be "
			     "flagged as 'readonly' (the size of read/write NVS has to be at least 0x%x)",
			     e->name, e->name, e->type, e->subtype, e->size, PART_NVS_RW_MIN_SIZE);
		return PART_EVERIFY;
	}
	return 0;
}

struct part_sorted {
	const struct part_entry *e;
	size_t idx;
};

static int cmp_offset(const void *a, const void *b)
{
	const struct part_sorted *x = a, *y = b;

	/* sorted(key=offset) is stable: ties keep table order */
	if (x->e->offset != y->e->offset)
		return x->e->offset < y->e->offset ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* "Only one otadata" and "otadata must be 8K", for data/ota and data/tee_ota. */
static int verify_otadata(const struct part_table *t, const struct part_opts *o, const char *sub, const char *what,
			  const char *subdesc, struct part_err *err)
{
	int64_t value = data_sub(o, sub);
	const struct part_entry *first = NULL;
	char row[128];

	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		if (e->type != PART_TYPE_DATA || e->subtype != value)
			continue;
		if (first) {
			part_err_set(err, PART_EVERIFY, e->line, e->pos,
				     "Found multiple %s partitions. Only one partition can be defined with type=\"data\"(1) "
				     "and subtype=%s. ('%s' and '%s')",
				     what, subdesc, first->name, e->name);
			return PART_EVERIFY;
		}
		first = e;
	}
	if (first && first->size != 0x2000) {
		part_csv_row(first, o->names, row, sizeof(row));
		part_err_set(err, PART_EVERIFY, first->line, first->pos, "%s partition must have size = 0x2000 (%s)", what,
			     row);
		return PART_EVERIFY;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct part_sorted *x = a, *y = b;
	int c = strcmp(x->e->name, y->e->name);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* "Partition names must be unique". Reported at the first entry (in table
 * order) whose name was used before it; sorting keeps this O(n log n). */
static int verify_names(const struct part_table *t, const struct part_opts *o, struct part_sorted *tmp,
			struct part_err *err)
{
	const struct part_entry *first = NULL, *dup = NULL;
	char ra[128], rb[128];

	for (size_t i = 0; i < t->count; i++) {
		tmp[i].e = &t->entries[i];
		tmp[i].idx = i;
	}
	if (t->count)
		qsort(tmp, t->count, sizeof(*tmp), cmp_name);
	for (size_t i = 1; i < t->count; i++) {
		if (strcmp(tmp[i].e->name, tmp[i - 1].e->name))
			continue;
		/* tmp[i] is the second use of its name when tmp[i-1] is the first */
		if ((i < 2 || strcmp(tmp[i - 2].e->name, tmp[i].e->name)) && (!dup || tmp[i].e < dup)) {
			first = tmp[i - 1].e;
			dup = tmp[i].e;
		}
	}
	if (!dup)
		return 0;
	part_csv_row(first, o->names, ra, sizeof(ra));
	part_csv_row(dup, o->names, rb, sizeof(rb));
	part_err_set(err, PART_EVERIFY, dup->line, dup->pos, "Partition names must be unique: %s and %s", ra, rb);
	return PART_EVERIFY;
}

int part_table_verify(const struct part_table *t, const struct part_opts *o, struct part_err *err)
{
	struct part_opts defaults;
	struct part_sorted *sorted = NULL;
	const struct part_entry *last = NULL;
	uint64_t table_end;
	int rc;

	part_err_clear(err);
	if (!o) {
		part_opts_init(&defaults);
		o = &defaults;
	}
	if (!t) {
		part_err_set(err, PART_EINVAL, 0, -1, "no table");
		return PART_EINVAL;
	}
	for (size_t i = 0; i < t->count; i++)
		if ((rc = verify_one(&t->entries[i], o, err)) != 0)
			return rc;
	if (t->count) {
		sorted = malloc(t->count * sizeof(*sorted));
		if (!sorted) {
			part_err_set(err, PART_ENOMEM, 0, -1, "out of memory");
			return PART_ENOMEM;
		}
	}
	if ((rc = verify_names(t, o, sorted, err)) != 0)
		goto out;
	for (size_t i = 0; i < t->count; i++) {
		sorted[i].e = &t->entries[i];
		sorted[i].idx = i;
	}
	if (t->count)
		qsort(sorted, t->count, sizeof(*sorted), cmp_offset);
	table_end = (uint64_t)o->table_offset + PART_TABLE_SECTOR;
	rc = PART_EVERIFY;
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *p = sorted[i].e;
		char h[24];
		if (p->offset < table_end && !is_primary(o, p)) {
			part_err_set(err, rc, p->line, p->pos, "Partition offset 0x%x is below 0x%llx", p->offset,
				     (unsigned long long)table_end);
			goto out;
		}
		if (last && (uint64_t)p->offset < (uint64_t)last->offset + last->size) {
			part_err_set(err, rc, p->line, p->pos, "Partition at 0x%x overlaps 0x%x-0x%s", p->offset,
				     last->offset, part_hex(h, (int64_t)last->offset + last->size - 1));
			goto out;
		}
		last = p;
	}
	if ((rc = verify_otadata(t, o, "ota", "otadata", "\"ota\"(0)", err)) != 0)
		goto out;
	if ((rc = verify_otadata(t, o, "tee_ota", "TEE otadata", "\"tee_ota\"(0x90)", err)) != 0)
		goto out;
	rc = 0;
out:
	free(sorted);
	return rc;
}

uint64_t part_table_flash_end(const struct part_table *t)
{
	const struct part_entry *last = NULL;

	if (!t)
		return 0;
	/* sorted(reverse=True)[0]: the highest offset, first in table order on a tie */
	for (size_t i = 0; i < t->count; i++)
		if (!last || t->entries[i].offset > last->offset)
			last = &t->entries[i];
	return last ? (uint64_t)last->offset + last->size : 0;
}

int part_table_check_flash_size(const struct part_table *t, uint64_t flash_bytes, struct part_err *err)
{
	uint64_t end = part_table_flash_end(t);
	const double mb = 1024.0 * 1024.0;

	part_err_clear(err);
	if (flash_bytes < end) {
		part_err_set(err, PART_EFLASH, 0, -1,
			     "Partitions tables occupies %.1fMB of flash (%llu bytes) which does not fit in configured "
			     "flash size %lluMB. Change the flash size in menuconfig under the 'Serial Flasher Config' menu.",
			     (double)end / mb, (unsigned long long)end, (unsigned long long)(flash_bytes / (1024 * 1024)));
		return PART_EFLASH;
	}
	return 0;
}
