/* CSV partition tables, writing: PartitionTable.to_csv() of
 * gen_esp32part.py 1.5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "part_csv_int.h"

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
	if (part_buf_add(&b, head, sizeof(head) - 1))
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
		if (part_buf_add(&b, text, need) || part_buf_addc(&b, '\n'))
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
