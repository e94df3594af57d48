/* Lookup, and the device-readback path: the bytes the station reads back
 * from a device at its table offset, checked the way the bootloader and the
 * reference check them, then searched for the partition to write. */
#include <string.h>

#include "part_priv.h"

const struct part_entry *part_find_label(const struct part_table *t, const char *label)
{
	if (!t || !label)
		return NULL;
	for (size_t i = 0; i < t->count; i++)
		if (!strcmp(t->entries[i].name, label))
			return &t->entries[i];
	return NULL;
}

const struct part_entry *part_find_type(const struct part_table *t, unsigned type, int subtype)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->count; i++)
		if (t->entries[i].type == type && (subtype < 0 || t->entries[i].subtype == (unsigned)subtype))
			return &t->entries[i];
	return NULL;
}

void part_query_nvs(struct part_query *q)
{
	q->label = NULL;
	q->type = PART_TYPE_DATA;
	q->subtype = PART_SUBTYPE_DATA_NVS;
}

int part_readback_parse(const uint8_t *buf, size_t len, const struct part_opts *o, unsigned rb_flags,
			struct part_table **out, struct part_err *err)
{
	struct part_opts defaults;
	struct part_table *t = NULL;
	size_t n;
	int rc;

	if (out)
		*out = NULL;
	part_err_clear(err);
	if (!o) {
		part_opts_init(&defaults);
		o = &defaults;
	}
	if (!out || !buf) {
		part_err_set(err, PART_EINVAL, 0, -1, "no input or output");
		return PART_EINVAL;
	}
	if (len < PART_ENTRY_LEN) {
		part_err_set(err, PART_EBINARY, 0, 0, "read-back of the table at 0x%x is %zu bytes; an entry is 32",
			     o->table_offset, len);
		return PART_EBINARY;
	}
	n = 0;
	while (n < PART_ENTRY_LEN && buf[n] == 0xFF)
		n++;
	if (n == PART_ENTRY_LEN) {
		part_err_set(err, PART_EEMPTY, 0, 0, "no partition table at 0x%x: the flash there is erased",
			     o->table_offset);
		return PART_EEMPTY;
	}
	/* The bootloader reads at most 0xC00 bytes of entries; whatever a
	 * 0x1000 read has after that (0xFF, a signature) is not the table's. */
	n = len < PART_TABLE_MAX_LEN ? len : PART_TABLE_MAX_LEN;
	if ((rc = part_bin_parse_md5(buf, n, o, &t, err)) != 0)
		goto out;
	if ((rb_flags & PART_RB_REQUIRE_MD5) && !t->has_md5) {
		rc = PART_ENOMD5;
		part_err_set(err, rc, 0, (long)(t->count * PART_ENTRY_LEN),
			     "the partition table at 0x%x has no MD5 entry", o->table_offset);
		goto out;
	}
	if (!(rb_flags & PART_RB_NO_VERIFY) && (rc = part_table_verify(t, o, err)) != 0)
		goto out;
	*out = t;
	t = NULL;
	rc = 0;
out:
	part_table_free(t);
	return rc;
}

int part_locate(const uint8_t *buf, size_t len, uint32_t table_offset, unsigned rb_flags,
		const struct part_query *q, struct part_entry *out, struct part_err *err)
{
	struct part_opts o;
	struct part_query nvs;
	struct part_table *t = NULL;
	const struct part_entry *e;
	int rc;

	part_err_clear(err);
	if (!out) {
		part_err_set(err, PART_EINVAL, 0, -1, "no output");
		return PART_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->pos = -1;
	if (!q) {
		part_query_nvs(&nvs);
		q = &nvs;
	}
	part_opts_init(&o);
	o.table_offset = table_offset;
	if ((rc = part_readback_parse(buf, len, &o, rb_flags, &t, err)) != 0)
		goto out;
	e = q->label ? part_find_label(t, q->label) : part_find_type(t, q->type, q->subtype);
	if (!e) {
		rc = PART_ENOTFOUND;
		if (q->label)
			part_err_set(err, rc, 0, -1, "no partition labelled '%s' in the table at 0x%x", q->label,
				     table_offset);
		else if (q->subtype < 0)
			part_err_set(err, rc, 0, -1, "no partition of type 0x%x in the table at 0x%x", q->type,
				     table_offset);
		else
			part_err_set(err, rc, 0, -1, "no partition of type 0x%x subtype 0x%x in the table at 0x%x",
				     q->type, (unsigned)q->subtype, table_offset);
		goto out;
	}
	*out = *e;
	rc = 0;
out:
	part_table_free(t);
	return rc;
}
