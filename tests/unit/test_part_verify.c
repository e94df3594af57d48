/* part_verify.c: every rule of the reference's verify(), flash_size() and
 * verify_size_fits(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "espfab/part.h"

struct warnings {
	int n;
	char text[4][256];
};

static void collect(void *user, unsigned line, long pos, const char *text)
{
	struct warnings *w = user;

	(void)line;
	(void)pos;
	if (w->n < 4)
		snprintf(w->text[w->n], sizeof(w->text[0]), "%s", text);
	w->n++;
}

/* Parse a CSV (must parse) and verify it with o; returns verify's result. */
static int check(const char *csv, const struct part_opts *o, struct part_err *err)
{
	struct part_table *t = NULL;
	int rc;

	assert_int_equal(part_csv_parse((const uint8_t *)csv, strlen(csv), o, &t, err), 0);
	rc = part_table_verify(t, o, err);
	if (rc) {
		assert_int_equal(err->code, rc);
		assert_null(strchr(err->msg, '\n'));
	}
	part_table_free(t);
	return rc;
}

static void entry(struct part_entry *e, const char *name, unsigned type, unsigned sub, uint32_t off, uint32_t size)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->type = (uint8_t)type;
	e->subtype = (uint8_t)sub;
	e->offset = off;
	e->size = size;
	e->pos = -1;
}

static void test_part_verify_good_table(void **state)
{
	struct part_err err;
	struct part_opts o;
	struct warnings w = {0};

	(void)state;
	part_opts_init(&o);
	o.warn = collect;
	o.warn_user = &w;
	assert_int_equal(check("nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\n"
			       "factory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n",
			       &o, &err),
			 0);
	assert_int_equal(w.n, 0);
}

static void test_part_verify_offset_alignment(void **state)
{
	struct part_err err;

	(void)state;
	assert_int_equal(check("nvs,data,nvs,,0x6000\nfactory,app,factory,0x11000,1M\n", NULL, &err), PART_EVERIFY);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "Partition factory invalid: Offset 0x11000 is not aligned to 0x10000");
	assert_int_equal(check("nvs,data,nvs,0x9100,0x6000\n", NULL, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition nvs invalid: Offset 0x9100 is not aligned to 0x1000");
	/* user types align like data */
	assert_int_equal(check("u,0x40,0,0x9800,0x1000\n", NULL, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition u invalid: Offset 0x9800 is not aligned to 0x1000");
}

static void test_part_verify_app_size_and_secure(void **state)
{
	struct part_opts o;
	struct part_err err;

	(void)state;
	part_opts_init(&o);
	assert_int_equal(check("factory,app,factory,,0x10100\n", &o, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition factory invalid: Size 0x10100 is not aligned to 0x1000");
	assert_int_equal(check("factory,app,factory,,0x11000\n", &o, &err), 0);
	o.secure = PART_SECURE_V1;
	assert_int_equal(check("factory,app,factory,,0x11000\n", &o, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition factory invalid: Size 0x11000 is not aligned to 0x10000");
	o.secure = PART_SECURE_V2;
	assert_int_equal(check("factory,app,factory,,0x11000\n", &o, &err), 0);
	/* data sizes are free */
	assert_int_equal(check("d,data,fat,,100\n", NULL, &err), 0);
}

static void test_part_verify_readonly_rules(void **state)
{
	struct part_err err;

	(void)state;
	assert_int_equal(check("otadata,data,ota,,0x2000,readonly\n", NULL, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition otadata invalid: 'otadata' partition of type 1 and subtype 0 is always "
				     "read-write and cannot be read-only");
	assert_int_equal(check("cd,data,coredump,,64K,readonly\n", NULL, &err), PART_EVERIFY);
	assert_int_equal(check("nvs,data,nvs,,0x2000\n", NULL, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition nvs invalid: 'nvs' partition of type 1 and subtype 2 of this size "
				     "(0x2000) must be flagged as 'readonly' (the size of read/write NVS has to be at "
				     "least 0x3000)");
	assert_int_equal(check("nvs,data,nvs,,0x1000,readonly\n", NULL, &err), 0);
	assert_int_equal(check("nvs,data,nvs,,0x3000\n", NULL, &err), 0);
}

static void test_part_verify_duplicate_names(void **state)
{
	struct part_err err;

	(void)state;
	assert_int_equal(check("nvs,data,nvs,0x9000,24K\n\nnvs,data,fat,0xf000,24K\nx,data,fat,,4K\n", NULL, &err),
			 PART_EVERIFY);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "Partition names must be unique: nvs,data,nvs,0x9000,24K, and nvs,data,fat,0xf000,24K,");
}

static void test_part_verify_below_table_and_overlap_sorted(void **state)
{
	struct part_entry e[3];
	struct part_table t = {.count = 2, .entries = e};
	struct part_opts o;
	struct part_err err;

	(void)state;
	part_opts_init(&o);
	/* binary tables skip the CSV pass, so verify() is what catches these */
	entry(&e[0], "nvs", 1, 2, 0x9000, 0x6000);
	entry(&e[1], "low", 1, 0x81, 0x7000, 0x1000);
	assert_int_equal(part_table_verify(&t, &o, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition offset 0x7000 is below 0x9000");
	o.table_offset = 0x20000;
	entry(&e[1], "fat", 1, 0x81, 0x21000, 0x1000);
	assert_int_equal(part_table_verify(&t, &o, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition offset 0x9000 is below 0x21000");
	o.table_offset = 0x8000;
	entry(&e[0], "b", 1, 0x81, 0x20000, 0x10000);
	entry(&e[1], "a", 1, 0x81, 0x10000, 0x10001);
	assert_int_equal(part_table_verify(&t, &o, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition at 0x20000 overlaps 0x10000-0x20000");
	e[1].size = 0x10000;
	assert_int_equal(part_table_verify(&t, &o, &err), 0);
	/* the primary bootloader and table entries may sit below the table */
	entry(&e[2], "bl", PART_TYPE_BOOTLOADER, 0, 0x1000, 0x7000);
	t.count = 3;
	assert_int_equal(part_table_verify(&t, &o, &err), 0);
	entry(&e[2], "blota", PART_TYPE_BOOTLOADER, 1, 0x1000, 0x7000);
	assert_int_equal(part_table_verify(&t, &o, &err), PART_EVERIFY);
}

static void test_part_verify_otadata(void **state)
{
	struct part_err err;

	(void)state;
	assert_int_equal(check("ota1,data,ota,,8K\nota2,data,ota,,8K\n", NULL, &err), PART_EVERIFY);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "Found multiple otadata partitions. Only one partition can be defined with "
					"type=\"data\"(1) and subtype=\"ota\"(0)."));
	assert_int_equal(check("otadata,data,ota,,12K\n", NULL, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "otadata partition must have size = 0x2000 (otadata,data,ota,0x9000,12K,)");
	assert_int_equal(check("t1,data,tee_ota,,8K\nt2,data,tee_ota,,8K\n", NULL, &err), PART_EVERIFY);
	assert_non_null(strstr(err.msg, "Found multiple TEE otadata partitions"));
	assert_int_equal(check("t1,data,tee_ota,,4K\n", NULL, &err), PART_EVERIFY);
	assert_non_null(strstr(err.msg, "TEE otadata partition must have size = 0x2000"));
}

static void test_part_verify_keyword_name_warnings(void **state)
{
	struct part_opts o;
	struct part_err err;
	struct warnings w = {0};

	(void)state;
	part_opts_init(&o);
	o.warn = collect;
	o.warn_user = &w;
	assert_int_equal(check("app,data,nvs,,0x6000\nnvs,data,fat,,0x6000\nfactory,app,factory,,1M\n", &o, &err), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.text[0], "Partition has name 'app' which is a partition type, but does not match this "
				       "partition's type (0x1). Mistake in partition table?");
	assert_string_equal(w.text[1], "Partition has name 'nvs' which is a partition subtype, but this partition has "
				       "non-matching type 0x1 and subtype 0x81. Mistake in partition table?");
}

static void test_part_verify_flash_end_and_size(void **state)
{
	struct part_entry e[2];
	struct part_table t = {.count = 2, .entries = e};
	struct part_err err;
	struct part_table *two = NULL;
	const char *csv = "nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\n"
			  "factory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n";

	(void)state;
	/* flash_size() is the end of the partition with the highest offset */
	entry(&e[0], "big", 1, 0x81, 0x9000, 0x100000);
	entry(&e[1], "late", 1, 0x81, 0x20000, 0x1000);
	assert_int_equal(part_table_flash_end(&t), 0x21000);
	t.count = 0;
	assert_int_equal(part_table_flash_end(&t), 0);
	assert_int_equal(part_csv_parse((const uint8_t *)csv, strlen(csv), NULL, &two, &err), 0);
	assert_int_equal(part_table_flash_end(two), 0x310000);
	assert_int_equal(part_table_check_flash_size(two, 4u << 20, &err), 0);
	assert_int_equal(part_table_check_flash_size(two, 0x310000, &err), 0);
	assert_int_equal(part_table_check_flash_size(two, 2u << 20, &err), PART_EFLASH);
	assert_string_equal(err.msg, "Partitions tables occupies 3.1MB of flash (3211264 bytes) which does not fit in "
				     "configured flash size 2MB. Change the flash size in menuconfig under the 'Serial "
				     "Flasher Config' menu.");
	part_table_free(two);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_verify_good_table),
		cmocka_unit_test(test_part_verify_offset_alignment),
		cmocka_unit_test(test_part_verify_app_size_and_secure),
		cmocka_unit_test(test_part_verify_readonly_rules),
		cmocka_unit_test(test_part_verify_duplicate_names),
		cmocka_unit_test(test_part_verify_below_table_and_overlap_sorted),
		cmocka_unit_test(test_part_verify_otadata),
		cmocka_unit_test(test_part_verify_keyword_name_warnings),
		cmocka_unit_test(test_part_verify_flash_end_and_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
