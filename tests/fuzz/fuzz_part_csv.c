/* libFuzzer: the CSV partition-table parser, then verify / binary / CSV
 * output, with a round-trip oracle: a table that parses and encodes must
 * decode to the same entries, and its CSV text must parse back to them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/part.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fake_env(void *user, const char *name)
{
	(void)user;
	return !strcmp(name, "NVS") ? "nvs" : !strcmp(name, "EMPTY") ? "" : NULL;
}

static void ignore(void *user, unsigned line, long pos, const char *text)
{
	(void)user;
	(void)line;
	(void)pos;
	if (!text || strchr(text, '\n'))
		abort();
}

static int simple_names(const struct part_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		for (const char *c = t->entries[i].name; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
				return 0;
	return 1;
}

static void same_entries(const struct part_table *a, const struct part_table *b)
{
	if (a->count != b->count)
		abort();
	for (size_t i = 0; i < a->count; i++) {
		const struct part_entry *x = &a->entries[i], *y = &b->entries[i];
		if (strcmp(x->name, y->name) || x->type != y->type || x->subtype != y->subtype || x->offset != y->offset ||
		    x->size != y->size || x->flags != y->flags)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t = NULL, *back = NULL, *again = NULL;
	struct part_names *names = NULL;
	uint8_t bin[PART_TABLE_MAX_LEN];
	char *text = NULL;
	uint8_t knobs;

	if (size < 1)
		return 0;
	knobs = data[0];
	data++;
	size--;
	part_opts_init(&o);
	o.getenv = fake_env;
	o.warn = ignore;
	o.table_offset = (knobs & 3) == 0 ? 0x8000 : (knobs & 3) == 1 ? 0x9000 : (knobs & 3) == 2 ? 0x20000 : 0x10000;
	o.md5 = !(knobs & 4);
	o.secure = (knobs & 0x18) == 0x08 ? PART_SECURE_V1 : (knobs & 0x18) == 0x10 ? PART_SECURE_V2 : PART_SECURE_NONE;
	if (knobs & 0x20) {
		o.has_primary_bootloader = true;
		o.primary_bootloader_offset = 0x1000;
		o.has_recovery_bootloader = true;
		o.recovery_bootloader_offset = 0x300000;
	}
	if (knobs & 0x40) {
		names = part_names_new();
		if (!names || part_names_add_extra(names, "data,my_sub,0x40", &err) ||
		    part_names_add_extra(names, "app,my_app,0x50", &err))
			abort();
		o.names = names;
	}
	if (part_csv_parse(data, size, &o, &t, &err)) {
		if (t || err.code == 0 || !err.msg[0] || strchr(err.msg, '\n'))
			abort();
		goto out;
	}
	(void)part_table_flash_end(t);
	(void)part_table_check_flash_size(t, 4u << 20, &err);
	if (part_table_verify(t, &o, &err) && (err.code == 0 || !err.msg[0]))
		abort();
	if (part_bin_write(t, &o, bin, &err))
		goto out;
	if (part_bin_parse(bin, sizeof(bin), &o, &back, &err))
		abort(); /* what we wrote must read back */
	same_entries(t, back);
	if (part_csv_write(back, &o, &text, &err))
		abort();
	if (simple_names(back) && part_table_verify(t, &o, &err) == 0) {
		if (part_csv_parse((const uint8_t *)text, strlen(text), &o, &again, &err))
			abort();
		same_entries(back, again);
	}
out:
	free(text);
	part_table_free(again);
	part_table_free(back);
	part_table_free(t);
	part_names_free(names);
	return 0;
}
