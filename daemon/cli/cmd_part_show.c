/* espfab part show: a table with its free space and the flash it needs.
 * See cmd_part.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd_part.h"

static void fmt_size(uint64_t v, char *buf, size_t cap)
{
	if (v && v % 0x100000 == 0)
		snprintf(buf, cap, "%lluM", (unsigned long long)(v / 0x100000));
	else if (v && v % 0x400 == 0)
		snprintf(buf, cap, "%lluK", (unsigned long long)(v / 0x400));
	else
		snprintf(buf, cap, "0x%llx", (unsigned long long)v);
}

static const char *flags_text(uint32_t flags)
{
	switch (flags & (PART_FLAG_ENCRYPTED | PART_FLAG_READONLY)) {
	case PART_FLAG_ENCRYPTED: return "encrypted";
	case PART_FLAG_READONLY: return "readonly";
	case PART_FLAG_ENCRYPTED | PART_FLAG_READONLY: return "encrypted:readonly";
	default: return "";
	}
}

struct part_cli_gap {
	uint64_t start, size;
};

struct part_cli_range {
	uint64_t start, end;
};

static int cmp_off(const void *x, const void *y)
{
	const struct part_cli_range *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

/* Free ranges above the table sector up to flash_bytes, in offset order. */
static size_t free_gaps(const struct part_table *t, uint32_t table_offset, uint64_t flash_bytes, struct part_cli_gap **out)
{
	struct part_cli_range *r = calloc(t->count + 1, sizeof(*r));
	struct part_cli_gap *g = calloc(t->count + 1, sizeof(*g));
	uint64_t cursor = (uint64_t)table_offset + PART_TABLE_SECTOR;
	size_t n = 0;

	*out = NULL;
	if (!r || !g) {
		free(r);
		free(g);
		return 0;
	}
	for (size_t i = 0; i < t->count; i++) {
		r[i].start = t->entries[i].offset;
		r[i].end = (uint64_t)t->entries[i].offset + t->entries[i].size;
	}
	qsort(r, t->count, sizeof(*r), cmp_off);
	for (size_t i = 0; i < t->count; i++) {
		if (r[i].start > cursor && cursor < flash_bytes) {
			uint64_t end = r[i].start < flash_bytes ? r[i].start : flash_bytes;
			g[n].start = cursor;
			g[n++].size = end - cursor;
		}
		if (r[i].end > cursor)
			cursor = r[i].end;
	}
	if (cursor < flash_bytes) {
		g[n].start = cursor;
		g[n++].size = flash_bytes - cursor;
	}
	free(r);
	*out = g;
	return n;
}

static uint64_t flash_needed(uint64_t end)
{
	for (size_t i = 0; i < sizeof(part_cli_flash_sizes) / sizeof(part_cli_flash_sizes[0]); i++)
		if (part_cli_flash_size_bytes(part_cli_flash_sizes[i]) >= end)
			return part_cli_flash_size_bytes(part_cli_flash_sizes[i]);
	return 0; /* larger than any flash the reference knows */
}

static int show_json(const struct part_cli_args *a, const struct part_table *t, bool is_binary, uint64_t end,
		     uint64_t flash, const struct part_cli_gap *g, size_t ng)
{
	json_t *root = json_object(), *parts = json_array(), *gaps = json_array();
	uint64_t free_total = 0;
	char *text = NULL;
	int rc = 2;

	if (!root || !parts || !gaps)
		goto out;
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		const char *tn = part_type_name(a->opts.names, e->type);
		const char *sn = part_subtype_name(a->opts.names, e->type, e->subtype);
		json_t *flags = json_array();
		json_t *p = json_pack("{s:s, s:i, s:s?, s:i, s:s?, s:I, s:I, s:o}", "name", e->name, "type", (int)e->type,
				      "type_name", tn, "subtype", (int)e->subtype, "subtype_name", sn, "offset",
				      (json_int_t)e->offset, "size", (json_int_t)e->size, "flags", flags);
		if (!p || !flags)
			goto out;
		if (e->flags & PART_FLAG_ENCRYPTED)
			json_array_append_new(flags, json_string("encrypted"));
		if (e->flags & PART_FLAG_READONLY)
			json_array_append_new(flags, json_string("readonly"));
		if (e->line)
			json_object_set_new(p, "line", json_integer(e->line));
		json_array_append_new(parts, p);
	}
	for (size_t i = 0; i < ng; i++) {
		json_array_append_new(gaps, json_pack("{s:I, s:I}", "offset", (json_int_t)g[i].start, "size",
						      (json_int_t)g[i].size));
		free_total += g[i].size;
	}
	json_object_set_new(root, "file", json_string(a->input));
	json_object_set_new(root, "format", json_string(is_binary ? "binary" : "csv"));
	json_object_set_new(root, "table_offset", json_integer(a->opts.table_offset));
	if (is_binary)
		json_object_set_new(root, "md5", json_boolean(t->has_md5));
	json_object_set_new(root, "partitions", parts);
	parts = NULL;
	json_object_set_new(root, "flash_end", json_integer((json_int_t)end));
	json_object_set_new(root, "flash_size", flash ? json_integer((json_int_t)flash) : json_null());
	json_object_set_new(root, "free", gaps);
	gaps = NULL;
	json_object_set_new(root, "free_total", json_integer((json_int_t)free_total));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	printf("%s\n", text);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, PROG " show: out of memory\n");
	free(text);
	json_decref(gaps);
	json_decref(parts);
	json_decref(root);
	return rc;
}

int part_cli_show(struct part_cli_args *a)
{
	struct part_table *t = NULL;
	struct part_cli_gap *g = NULL;
	size_t ng;
	bool is_binary = false;
	uint64_t end, flash, free_total = 0;
	char sz[24];
	int rc;

	if (strcmp(a->input, "-") && access(a->input, R_OK) && access("show", F_OK) == 0) {
		/* the likely mix-up: a table file named "show" */
		fprintf(stderr, PROG " show: can't open '%s': %s (to convert a file named 'show', write ./show)\n",
			a->input, strerror(errno));
		return 2;
	}
	if ((rc = part_cli_load(a, &t, &is_binary)) != 0)
		return rc;
	end = part_table_flash_end(t);
	flash = a->flash_size ? part_cli_flash_size_bytes(a->flash_size) : flash_needed(end);
	ng = free_gaps(t, a->opts.table_offset, flash ? flash : end, &g);
	if (a->json) {
		rc = show_json(a, t, is_binary, end, flash, g, ng);
		goto out;
	}
	printf("%s: %s partition table, %zu partition%s, table at 0x%x%s\n", a->input, is_binary ? "binary" : "CSV",
	       t->count, t->count == 1 ? "" : "s", a->opts.table_offset,
	       is_binary ? (t->has_md5 ? ", MD5 ok" : ", no MD5 entry") : "");
	printf("%-16s  %-15s  %-10s  %-10s  %8s  %s\n", "Name", "Type", "SubType", "Offset", "Size", "Flags");
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		const char *tn = part_type_name(a->opts.names, e->type);
		const char *sn = part_subtype_name(a->opts.names, e->type, e->subtype);
		char tb[8], sb[8], ob[16];
		if (!tn) {
			snprintf(tb, sizeof(tb), "0x%02x", e->type);
			tn = tb;
		}
		if (!sn) {
			snprintf(sb, sizeof(sb), "0x%02x", e->subtype);
			sn = sb;
		}
		snprintf(ob, sizeof(ob), "0x%x", e->offset);
		fmt_size(e->size, sz, sizeof(sz));
		printf("%-16s  %-15s  %-10s  %-10s  %8s%s%s\n", e->name, tn, sn, ob, sz, e->flags ? "  " : "",
		       flags_text(e->flags));
	}
	for (size_t i = 0; i < ng; i++)
		free_total += g[i].size;
	fmt_size(end, sz, sizeof(sz));
	if (a->flash_size)
		printf("Flash: partitions end at 0x%llx (%s) in a %s flash (--flash-size)\n", (unsigned long long)end, sz,
		       a->flash_size);
	else if (flash)
		printf("Flash: partitions end at 0x%llx (%s); the smallest flash that fits is %lluMB\n",
		       (unsigned long long)end, sz, (unsigned long long)(flash >> 20));
	else
		printf("Flash: partitions end at 0x%llx (%s), beyond the largest flash size (128MB)\n",
		       (unsigned long long)end, sz);
	fmt_size(free_total, sz, sizeof(sz));
	printf("Free: %s in %zu range%s%s\n", sz, ng, ng == 1 ? "" : "s", ng ? ":" : "");
	for (size_t i = 0; i < ng; i++) {
		fmt_size(g[i].size, sz, sizeof(sz));
		printf("  0x%06llx-0x%06llx  %s\n", (unsigned long long)g[i].start,
		       (unsigned long long)(g[i].start + g[i].size - 1), sz);
	}
	rc = 0;
out:
	free(g);
	part_table_free(t);
	return rc;
}

