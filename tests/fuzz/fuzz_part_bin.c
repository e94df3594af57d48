/* libFuzzer: the binary partition-table parser and the device read-back
 * path (part_readback_parse, part_locate), with an encode/decode oracle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, const struct part_err *err)
{
	if (rc && (err->code != rc || !err->msg[0] || strchr(err->msg, '\n')))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t offsets[] = {0x8000, 0x9000, 0x20000, 0x0};
	struct part_opts o;
	struct part_err err;
	struct part_table *t = NULL, *back = NULL;
	struct part_entry e;
	struct part_query q = {.label = "nvs"};
	uint8_t bin[PART_TABLE_MAX_LEN];
	char *text = NULL;
	bool is_bin;
	int rc;

	part_opts_init(&o);
	o.table_offset = offsets[size % 4];
	o.md5 = size % 3 != 0;
	rc = part_bin_parse(data, size, &o, &t, &err);
	check_err(rc, &err);
	if (rc == 0) {
		check_err(part_table_verify(t, &o, &err), &err);
		check_err(part_csv_write(t, &o, &text, &err), &err);
		if (part_bin_write(t, &o, bin, &err) == 0) {
			if (part_bin_parse(bin, sizeof(bin), &o, &back, &err))
				abort();
			if (back->count != t->count)
				abort();
			for (size_t i = 0; i < t->count; i++)
				if (strcmp(back->entries[i].name, t->entries[i].name) ||
				    back->entries[i].offset != t->entries[i].offset ||
				    back->entries[i].size != t->entries[i].size ||
				    back->entries[i].flags != t->entries[i].flags)
					abort();
		}
	}
	part_table_free(back);
	part_table_free(t);
	t = NULL;
	free(text);
	rc = part_readback_parse(data, size, &o, (unsigned)(size & 3), &t, &err);
	check_err(rc, &err);
	part_table_free(t);
	check_err(part_locate(data, size, o.table_offset, 0, NULL, &e, &err), &err);
	check_err(part_locate(data, size, o.table_offset, PART_RB_NO_VERIFY, &q, &e, &err), &err);
	t = NULL;
	check_err(part_table_parse(data, size, &o, &t, &is_bin, &err), &err);
	part_table_free(t);
	return 0;
}
