/* part_csv.c: the reference's CSV syntax, its offset fill-in and its CSV text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/part.h"

static struct part_table *parse_o(const char *csv, const struct part_opts *o, struct part_err *err)
{
	struct part_table *t = (struct part_table *)1;
	int rc = part_csv_parse((const uint8_t *)csv, strlen(csv), o, &t, err);

	if (rc) {
		assert_null(t);
		assert_int_equal(err->code, rc);
		assert_true(err->msg[0] != '\0');
		assert_null(strchr(err->msg, '\n'));
		return NULL;
	}
	assert_int_equal(err->code, 0);
	return t;
}

static struct part_table *parse(const char *csv, struct part_err *err)
{
	return parse_o(csv, NULL, err);
}

static void test_part_csv_comments_blank_crlf_spaces(void **state)
{
	struct part_err err;
	struct part_table *t = parse("# comment\r\n\r\n  nvs ,  data ,  nvs , , 0x6000 \r\n   # indented\r\n"
				     "factory,app,factory,,1M\r\n",
				     &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->count, 2);
	assert_string_equal(t->entries[0].name, "nvs");
	assert_int_equal(t->entries[0].type, PART_TYPE_DATA);
	assert_int_equal(t->entries[0].subtype, PART_SUBTYPE_DATA_NVS);
	assert_int_equal(t->entries[0].offset, 0x9000);
	assert_int_equal(t->entries[0].size, 0x6000);
	assert_int_equal(t->entries[0].line, 3);
	assert_int_equal(t->entries[0].pos, -1);
	assert_int_equal(t->entries[1].offset, 0x10000);
	assert_int_equal(t->entries[1].line, 5);
	part_table_free(t);
}

static void test_part_csv_auto_offsets_aligned(void **state)
{
	struct part_err err;
	struct part_table *t = parse("nvs,data,nvs,,0x5000\nphy,data,phy,,4K\nfactory,app,factory,,1M\n"
				     "small,data,undefined,,100\nafter,data,spiffs,,0x3000\napp2,app,ota_0,,0x100000\n",
				     &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->entries[0].offset, 0x9000);
	assert_int_equal(t->entries[1].offset, 0xe000);
	assert_int_equal(t->entries[2].offset, 0x10000); /* app: 64K */
	assert_int_equal(t->entries[3].offset, 0x110000);
	assert_int_equal(t->entries[3].size, 100);
	assert_int_equal(t->entries[4].offset, 0x111000); /* data: 4K after 0x110064 */
	assert_int_equal(t->entries[5].offset, 0x120000);
	part_table_free(t);
}

static void test_part_csv_table_offset_moves_start(void **state)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t;

	(void)state;
	part_opts_init(&o);
	o.table_offset = 0x9000;
	t = parse_o("nvs,data,nvs,,0x6000\n", &o, &err);
	assert_non_null(t);
	assert_int_equal(t->entries[0].offset, 0xa000);
	part_table_free(t);
}

static void test_part_csv_size_formats(void **state)
{
	struct part_err err;
	struct part_table *t = parse("a,data,nvs,,24k\nb,data,fat,,0x10000\nc,data,spiffs,,131072\nd,data,fat,,1m\n"
				     "e,app,factory,,2M\ng,data,undefined,,0x1K\nh,data,fat,,1kk\ni,data,fat,,1_0K\n",
				     &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->entries[0].size, 24 * 1024);
	assert_int_equal(t->entries[1].size, 0x10000);
	assert_int_equal(t->entries[2].size, 131072);
	assert_int_equal(t->entries[3].size, 1024 * 1024);
	assert_int_equal(t->entries[4].size, 2 * 1024 * 1024);
	assert_int_equal(t->entries[5].size, 1024);
	assert_int_equal(t->entries[6].size, 1024 * 1024);
	assert_int_equal(t->entries[7].size, 10 * 1024);
	part_table_free(t);
}

static void test_part_csv_leading_zero_decimal_rejected(void **state)
{
	struct part_err err;

	(void)state;
	assert_null(parse("a,data,nvs,,010\n", &err));
	assert_int_equal(err.code, PART_ESYNTAX);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.msg, "Invalid field value 010");
}

static void test_part_csv_numeric_and_user_types(void **state)
{
	struct part_err err;
	struct part_table *t = parse("custom,0x40,0x00,,0x1000\nnumdata,1,2,,0x3000\nnumapp,0,0x10,,0x10000\n"
				     "typefe,0xfe,0xfe,,4K\nup,DATA,NVS,,0x3000\n",
				     &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->entries[0].type, 0x40);
	assert_int_equal(t->entries[0].subtype, 0);
	assert_int_equal(t->entries[1].type, PART_TYPE_DATA);
	assert_int_equal(t->entries[1].subtype, 2);
	assert_int_equal(t->entries[2].type, PART_TYPE_APP);
	assert_int_equal(t->entries[2].subtype, 0x10);
	assert_int_equal(t->entries[3].type, 0xfe);
	/* keywords are looked up lower-cased */
	assert_int_equal(t->entries[4].type, PART_TYPE_DATA);
	assert_int_equal(t->entries[4].subtype, PART_SUBTYPE_DATA_NVS);
	part_table_free(t);
}

static void test_part_csv_user_type_has_no_keywords(void **state)
{
	struct part_err err;

	(void)state;
	assert_null(parse("c,0x40,nvs,,0x1000\n", &err));
	assert_string_equal(err.msg, "Invalid field value nvs");
	assert_null(parse("c,0x100,0,,0x1000\n", &err));
	assert_non_null(strstr(err.msg, "does not fit in a byte"));
}

static void test_part_csv_flags(void **state)
{
	struct part_err err;
	struct part_table *t = parse("a,data,fat,,4K,encrypted\nb,data,fat,,4K,readonly\n"
				     "c,data,fat,,4K,encrypted:readonly\nd,data,fat,,4K,\ne,data,fat,,4K,encrypted:\n",
				     &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->entries[0].flags, PART_FLAG_ENCRYPTED);
	assert_int_equal(t->entries[1].flags, PART_FLAG_READONLY);
	assert_int_equal(t->entries[2].flags, PART_FLAG_ENCRYPTED | PART_FLAG_READONLY);
	assert_int_equal(t->entries[3].flags, 0);
	assert_int_equal(t->entries[4].flags, PART_FLAG_ENCRYPTED);
	part_table_free(t);
	/* flags are split on ':' but not stripped */
	assert_null(parse("a,data,fat,,4K,encrypted: readonly\n", &err));
	assert_string_equal(err.msg, "CSV flag column contains unknown flag ' readonly'");
	assert_null(parse("x,data,fat,,4K\na,data,fat,,4K,secret\n", &err));
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "CSV flag column contains unknown flag 'secret'");
}

static void test_part_csv_empty_fields(void **state)
{
	struct part_err err;
	struct part_table *t;

	(void)state;
	t = parse("u,data,,,4K\nv,0x40,,,4K\n", &err);
	assert_non_null(t);
	assert_int_equal(t->entries[0].subtype, 0x06); /* 'undefined', for any non-app type */
	assert_int_equal(t->entries[1].subtype, 0x06);
	part_table_free(t);
	assert_null(parse("\n\nf,app,,,1M\n", &err));
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "App partition cannot have an empty subtype");
	assert_null(parse("f,,factory,,1M\n", &err));
	assert_string_equal(err.msg, "Field 'type' can't be left empty.");
	assert_null(parse("f\n", &err));
	assert_string_equal(err.msg, "Field 'type' can't be left empty.");
	assert_null(parse("n,data,nvs,0x9000\n", &err));
	assert_string_equal(err.msg, "Size field can't be empty");
}

static void test_part_csv_unknown_keyword_lists_known(void **state)
{
	struct part_err err;

	(void)state;
	assert_null(parse("a,data,nosuch,,4K\n", &err));
	assert_string_equal(err.msg, "Value 'nosuch' is not valid. Known keywords: ota, phy, nvs, coredump, "
				     "nvs_keys, efuse, undefined, esphttpd, fat, spiffs, littlefs, tee_ota");
	assert_null(parse("a,foo,nvs,,4K\n", &err));
	assert_string_equal(err.msg, "Value 'foo' is not valid. Known keywords: bootloader, partition_table, app, data");
}

static const char *fake_env(void *user, const char *name)
{
	(void)user;
	if (!strcmp(name, "NAME"))
		return "mynvs";
	if (!strcmp(name, "SIZE"))
		return "0x6000";
	if (!strcmp(name, "DOLLAR"))
		return "$NAME";
	return NULL;
}

static void test_part_csv_env_vars(void **state)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t;

	(void)state;
	part_opts_init(&o);
	o.getenv = fake_env;
	t = parse_o("$NAME,data,nvs,,${SIZE}\nq$NOPE,data,fat,,4K\n", &o, &err);
	assert_non_null(t);
	assert_string_equal(t->entries[0].name, "mynvs");
	assert_int_equal(t->entries[0].size, 0x6000);
	assert_string_equal(t->entries[1].name, "q$NOPE"); /* unknown, not at the start: kept */
	part_table_free(t);
	/* unknown at the very start of a line */
	assert_null(parse_o("nvs,data,nvs,,0x6000\n$UNSET_X,data,fat,,4K\n", &o, &err));
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "unknown variable 'UNSET_X'");
	/* a substituted value is not expanded again; the check sees it */
	assert_null(parse_o("${DOLLAR}x,data,fat,,4K\n", &o, &err));
	assert_string_equal(err.msg, "unknown variable 'NAMEx'");
	/* without a lookup hook every variable is unset */
	assert_null(parse("$NAME,data,nvs,,0x6000\n", &err));
	assert_string_equal(err.msg, "unknown variable 'NAME'");
	/* an indented one is not at the start of the line: it stays */
	t = parse(" $NAME,data,nvs,,0x6000\n", &err);
	assert_non_null(t);
	assert_string_equal(t->entries[0].name, "$NAME");
	part_table_free(t);
}

static void test_part_csv_bom_and_utf16(void **state)
{
	static const uint8_t u16[] = {0xff, 0xfe, 'n', 0, 'v', 0, 's', 0, ',', 0, 'd', 0, 'a', 0, 't', 0, 'a', 0, ',', 0,
				      'n', 0, 'v', 0, 's', 0, ',', 0, ',', 0, '8', 0, 'K', 0, '\n', 0};
	struct part_err err;
	struct part_table *t = parse("\xef\xbb\xbfnvs,data,nvs,,0x6000\n", &err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->entries[0].name, "nvs");
	part_table_free(t);
	assert_int_equal(part_csv_parse(u16, sizeof(u16), NULL, &t, &err), 0);
	assert_int_equal(t->entries[0].size, 8192);
	assert_string_equal(t->entries[0].name, "nvs");
	part_table_free(t);
	assert_null(parse("nvs,data,nvs,,0x6000\n\xff\n", &err));
	assert_int_equal(err.line, 2);
}

static void test_part_csv_negative_size(void **state)
{
	struct part_err err;
	struct part_table *t = parse("nvs,data,nvs,,0x6000\nfactory,app,factory,,-0x200000\n", &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->entries[1].offset, 0x10000);
	assert_int_equal(t->entries[1].size, 0x200000 - 0x10000);
	part_table_free(t);
	assert_null(parse("nvs,data,nvs,,-0x1000\n", &err));
	assert_non_null(strstr(err.msg, "out of range"));
}

static void test_part_csv_overlap_in_file_order(void **state)
{
	struct part_err err;

	(void)state;
	assert_null(parse("a,data,nvs,0x9000,0x6000\nb,data,fat,0xe000,4K\n", &err));
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "Partitions overlap. Partition sets offset 0xe000. Previous partition ends 0xf000");
	assert_null(parse("a,data,nvs,0x8000,0x6000\n", &err));
	assert_string_equal(err.msg, "Partitions overlap. Partition sets offset 0x8000. But partition table occupies "
				     "the whole sector 0x8000. Use a free offset 0x9000 or higher.");
	/* an entry equal to the first one gets the first one's wording */
	assert_null(parse("a,data,nvs,0x9000,0x6000\na,data,nvs,0x9000,0x6000\n", &err));
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "Use a free offset 0xf000 or higher."));
	assert_null(parse("a,data,nvs,-0x1000,0x6000\n", &err));
	assert_non_null(strstr(err.msg, "sets offset 0x-1000."));
}

static void test_part_csv_bootloader_types(void **state)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t;
	const char *csv = "bootloader,bootloader,primary,N/A,N/A\npt,partition_table,primary,N/A,N/A\n"
			  "nvs,data,nvs,,0x6000\nrecovery,bootloader,recovery,N/A,N/A\n";

	(void)state;
	part_opts_init(&o);
	assert_null(parse_o(csv, &o, &err));
	assert_int_equal(err.line, 1);
	assert_string_equal(err.msg, "Primary bootloader offset is not defined. Please use --primary-bootloader-offset");
	o.has_primary_bootloader = true;
	o.primary_bootloader_offset = 0x1000;
	assert_null(parse_o(csv, &o, &err));
	assert_int_equal(err.line, 4);
	assert_string_equal(err.msg, "Recovery bootloader offset is not defined. Please use --recovery-bootloader-offset");
	o.has_recovery_bootloader = true;
	o.recovery_bootloader_offset = 0x200000;
	t = parse_o(csv, &o, &err);
	assert_non_null(t);
	assert_int_equal(t->entries[0].offset, 0x1000);
	assert_int_equal(t->entries[0].size, 0x7000); /* up to the table */
	assert_int_equal(t->entries[1].offset, 0x8000);
	assert_int_equal(t->entries[1].size, 0x1000);
	assert_int_equal(t->entries[2].offset, 0x9000); /* primaries take no part in the fill-in */
	assert_int_equal(t->entries[3].offset, 0x200000);
	assert_int_equal(t->entries[3].size, 0x7000);
	part_table_free(t);
	o.primary_bootloader_offset = 0x8000;
	assert_int_equal(part_opts_check(&o, &err), PART_EINVAL);
	assert_null(parse_o(csv, &o, &err));
	assert_non_null(strstr(err.msg, "Primary bootloader must be below partition table"));
}

static void test_part_csv_label_length(void **state)
{
	struct part_err err;
	struct part_table *t = parse("abcdefghijklmnop,data,nvs,,0x6000\n", &err);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t->entries[0].name, "abcdefghijklmnop");
	part_table_free(t);
	/* policy: the reference cuts a longer label silently; espfab refuses it */
	assert_null(parse("abcdefghijklmnopq,data,nvs,,0x6000\n", &err));
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "17 bytes"));
	/* bytes, not characters */
	assert_null(parse("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9,data,nvs,,0x6000\n", &err));
}

static void test_part_csv_line_breaks_like_splitlines(void **state)
{
	struct part_err err;
	struct part_table *t = parse("a,data,nvs,,0x6000\rb,data,fat,,4K\x0c"
				     "c,data,fat,,4K\xc2\x85"
				     "d,data,fat,,4K,bad",
				     &err);

	(void)state;
	assert_null(t);
	assert_int_equal(err.line, 4);
	t = parse("a,data,nvs,,0x6000\rb,data,fat,,4K\x0c"
		  "c,data,fat,,4K\n",
		  &err);
	assert_non_null(t);
	assert_int_equal(t->count, 3);
	part_table_free(t);
}

static void test_part_csv_extra_subtypes(void **state)
{
	struct part_opts o;
	struct part_err err;
	struct part_table *t;
	char *text = NULL;

	(void)state;
	part_opts_init(&o);
	assert_null(parse_o("c,data,my_sub,,4K\n", &o, &err));
	o.names = part_names_new();
	assert_int_equal(part_names_add_extra((struct part_names *)o.names, "data,my_sub,0x40", &err), 0);
	t = parse_o("c,data,my_sub,,4K\n", &o, &err);
	assert_non_null(t);
	assert_int_equal(t->entries[0].subtype, 0x40);
	assert_int_equal(part_csv_write(t, &o, &text, &err), 0);
	assert_non_null(strstr(text, "c,data,my_sub,0x9000,4K,\n"));
	free(text);
	part_table_free(t);
	part_names_free((struct part_names *)o.names);
	/* a long extra name still maps both ways (no fixed-size buffers) */
	{
		char spec[300], line[160];
		memset(line, 0, sizeof(line));
		memset(line, 'y', 150);
		snprintf(spec, sizeof(spec), "data,%s,0x41", line);
		o.names = part_names_new();
		assert_int_equal(part_names_add_extra((struct part_names *)o.names, spec, &err), 0);
		snprintf(spec, sizeof(spec), "c,data,%s,,4K\n", line);
		t = parse_o(spec, &o, &err);
		assert_non_null(t);
		assert_int_equal(t->entries[0].subtype, 0x41);
		assert_int_equal(part_csv_write(t, &o, &text, &err), 0);
		assert_non_null(strstr(text, line));
		assert_non_null(strstr(text, ",0x9000,4K,\n"));
		free(text);
		part_table_free(t);
		part_names_free((struct part_names *)o.names);
	}
}

static void test_part_csv_write_exact_text(void **state)
{
	struct part_err err;
	struct part_table *t = parse("nvs,data,nvs,,24K,readonly\ncustom,0x40,1,,4K,encrypted\nnumapp,app,0x10,,1M\n"
				     "weird,data,0x99,0x110000,0x1100\nlfs,data,littlefs,,1536K,encrypted:readonly\n",
				     &err);
	char *text = NULL;

	(void)state;
	assert_non_null(t);
	assert_int_equal(part_csv_write(t, NULL, &text, &err), 0);
	assert_string_equal(text, "# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n"
				  "nvs,data,nvs,0x9000,24K,readonly\n"
				  "custom,64,1,0xf000,4K,encrypted\n"
				  "numapp,app,ota_0,0x10000,1M,\n"
				  "weird,data,153,0x110000,0x1100,\n"
				  "lfs,data,littlefs,0x112000,1536K,encrypted:readonly\n");
	free(text);
	part_table_free(t);
}

static void test_part_csv_empty_input(void **state)
{
	struct part_err err;
	struct part_table *t = parse("# only a comment\n\n", &err);

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->count, 0);
	part_table_free(t);
	assert_int_equal(part_csv_parse(NULL, 0, NULL, &t, &err), 0);
	assert_int_equal(t->count, 0);
	part_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_csv_comments_blank_crlf_spaces),
		cmocka_unit_test(test_part_csv_auto_offsets_aligned),
		cmocka_unit_test(test_part_csv_table_offset_moves_start),
		cmocka_unit_test(test_part_csv_size_formats),
		cmocka_unit_test(test_part_csv_leading_zero_decimal_rejected),
		cmocka_unit_test(test_part_csv_numeric_and_user_types),
		cmocka_unit_test(test_part_csv_user_type_has_no_keywords),
		cmocka_unit_test(test_part_csv_flags),
		cmocka_unit_test(test_part_csv_empty_fields),
		cmocka_unit_test(test_part_csv_unknown_keyword_lists_known),
		cmocka_unit_test(test_part_csv_env_vars),
		cmocka_unit_test(test_part_csv_bom_and_utf16),
		cmocka_unit_test(test_part_csv_negative_size),
		cmocka_unit_test(test_part_csv_overlap_in_file_order),
		cmocka_unit_test(test_part_csv_bootloader_types),
		cmocka_unit_test(test_part_csv_label_length),
		cmocka_unit_test(test_part_csv_line_breaks_like_splitlines),
		cmocka_unit_test(test_part_csv_extra_subtypes),
		cmocka_unit_test(test_part_csv_write_exact_text),
		cmocka_unit_test(test_part_csv_empty_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
