/* part_find.c: lookups and the device-readback path (bytes read from flash
 * at the table offset, with the trailing 0xFF of a 0xC00/0x1000 read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "espfab/part.h"

#define READ_LEN 0x1000u /* one flash sector, as the station reads it */

static const char *two_ota = "nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\n"
			     "factory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n";

static const char *at_customize = "ble_data,0x40,1,0x21000,0x3000\nserver_cert,0x40,2,0x24000,0x2000\n"
				  "server_key,0x40,3,0x26000,0x2000\nserver_ca,0x40,4,0x28000,0x2000\n"
				  "client_cert,0x40,5,0x2a000,0x2000\nclient_key,0x40,6,0x2c000,0x2000\n"
				  "client_ca,0x40,7,0x2e000,0x2000\nmfg_nvs,data,nvs,0x31000,0x1C000,encrypted\n"
				  "fatfs,data,fat,0x70000,0x90000\n";

/* What flash holds at table_offset: the generated table, then 0xFF. */
static void flash_image(const char *csv, uint32_t table_offset, bool md5, uint8_t out[READ_LEN])
{
	struct part_opts o;
	struct part_table *t = NULL;
	struct part_err err;

	part_opts_init(&o);
	o.table_offset = table_offset;
	o.md5 = md5;
	assert_int_equal(part_csv_parse((const uint8_t *)csv, strlen(csv), &o, &t, &err), 0);
	assert_int_equal(part_table_verify(t, &o, &err), 0);
	memset(out, 0xFF, READ_LEN);
	assert_int_equal(part_bin_write(t, &o, out, &err), 0);
	part_table_free(t);
}

static void test_part_find_default_nvs_at_0x8000(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x8000, true, img);
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, PART_RB_REQUIRE_MD5, NULL, &e, &err), 0);
	assert_string_equal(e.name, "nvs");
	assert_int_equal(e.offset, 0x9000);
	assert_int_equal(e.size, 0x4000);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.pos, 0);
	/* a 0xC00 read works the same */
	assert_int_equal(part_locate(img, PART_TABLE_MAX_LEN, 0x8000, 0, NULL, &e, &err), 0);
	assert_int_equal(e.offset, 0x9000);
}

static void test_part_find_table_at_0x9000(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x9000, true, img);
	assert_int_equal(part_locate(img, sizeof(img), 0x9000, 0, NULL, &e, &err), 0);
	assert_int_equal(e.offset, 0xa000);
	assert_int_equal(e.size, 0x4000);
	/* the same bytes claimed to sit higher up fail the below-the-table rule */
	assert_int_equal(part_locate(img, sizeof(img), 0x10000, 0, NULL, &e, &err), PART_EVERIFY);
	assert_string_equal(err.msg, "Partition offset 0xa000 is below 0x11000");
	assert_int_equal(e.size, 0); /* out is cleared, not half-written */
	/* ...unless verification is skipped on purpose */
	assert_int_equal(part_locate(img, sizeof(img), 0x10000, PART_RB_NO_VERIFY, NULL, &e, &err), 0);
	assert_int_equal(e.offset, 0xa000);
}

static void test_part_find_secondary_table_at_0x20000(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_query q = {.label = "client_cert"};
	struct part_err err;

	(void)state;
	flash_image(at_customize, 0x20000, true, img);
	assert_int_equal(part_locate(img, sizeof(img), 0x20000, 0, NULL, &e, &err), 0);
	assert_string_equal(e.name, "mfg_nvs");
	assert_int_equal(e.offset, 0x31000);
	assert_int_equal(e.size, 0x1C000);
	assert_int_equal(e.flags, PART_FLAG_ENCRYPTED);
	assert_int_equal(part_locate(img, sizeof(img), 0x20000, 0, &q, &e, &err), 0);
	assert_int_equal(e.type, 0x40);
	assert_int_equal(e.subtype, 5);
	assert_int_equal(e.offset, 0x2a000);
	q.label = NULL;
	q.type = 0x40;
	q.subtype = 3;
	assert_int_equal(part_locate(img, sizeof(img), 0x20000, 0, &q, &e, &err), 0);
	assert_string_equal(e.name, "server_key");
	/* read as if it were the primary table at 0x8000: its entries are all above, so it verifies */
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), 0);
}

static void test_part_find_golden_at_customize(void **state)
{
	char path[512];
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;
	size_t n;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/golden/partition/072-seed-at-customize-user-types/expected.bin",
		 ESPFAB_SHARED_DIR);
	f = fopen(path, "rb");
	if (!f)
		skip();
	memset(img, 0xFF, sizeof(img));
	n = fread(img, 1, sizeof(img), f);
	fclose(f);
	assert_int_equal(n, PART_TABLE_MAX_LEN);
	assert_int_equal(part_locate(img, sizeof(img), 0x20000, PART_RB_REQUIRE_MD5, NULL, &e, &err), 0);
	assert_string_equal(e.name, "mfg_nvs");
	assert_int_equal(e.offset, 0x31000);
	assert_int_equal(e.size, 0x1C000);
}

static void test_part_find_bad_md5(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x8000, true, img);
	img[6 * 32 + 20] ^= 0x40; /* inside the digest */
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), PART_EMD5);
	assert_int_equal(err.pos, 6 * 32);
	assert_non_null(strstr(err.msg, "MD5 checksums don't match!"));
	flash_image(two_ota, 0x8000, true, img);
	img[8] ^= 0x01; /* nvs size changed: a flipped bit in an entry */
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), PART_EMD5);
}

static void test_part_find_missing_end_marker(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x8000, true, img);
	/* a read that stops right after the MD5 entry */
	assert_int_equal(part_locate(img, 7 * 32, 0x8000, 0, NULL, &e, &err), PART_ENOEND);
	/* the end marker replaced by garbage */
	memset(img + 7 * 32, 0x00, 32);
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), PART_EBINARY);
	assert_non_null(strstr(err.msg, "Invalid magic bytes"));
}

static void test_part_find_entries_stop_at_0xc00(void **state)
{
	uint8_t img[READ_LEN];
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err err;
	unsigned int n = 0;

	(void)state;
	/* 95 entries + MD5 fill 0xC00 exactly: no room for an end marker there */
	memset(img, 0xFF, sizeof(img));
	for (unsigned i = 0; i < 95; i++) {
		uint8_t *d = img + i * 32;
		uint32_t off = 0x9000 + i * 0x1000;
		memset(d, 0, 32);
		d[0] = 0xaa;
		d[1] = 0x50;
		d[2] = 1;
		d[3] = 0x81;
		d[4] = (uint8_t)off;
		d[5] = (uint8_t)(off >> 8);
		d[6] = (uint8_t)(off >> 16);
		d[9] = 0x10;
		snprintf((char *)d + 12, 16, "p%u", i);
	}
	memset(img + 95 * 32, 0xFF, 32);
	img[95 * 32] = img[95 * 32 + 1] = 0xeb;
	assert_int_equal(EVP_Digest(img, 95 * 32, img + 95 * 32 + 16, &n, EVP_md5(), NULL), 1);
	/* the reference's from_binary() reads on and finds the 0xFF row at 0xC00 */
	part_opts_init(&o);
	assert_int_equal(part_bin_parse(img, sizeof(img), &o, &t, &err), 0);
	assert_int_equal(t->count, 95);
	part_table_free(t);
	/* the bootloader reads 0xC00 bytes of entries at most */
	assert_int_equal(part_readback_parse(img, sizeof(img), &o, 0, &t, &err), PART_ENOEND);
	assert_null(t);
}

static void test_part_find_trailing_area_ignored(void **state)
{
	uint8_t img[READ_LEN];
	struct part_table *t = NULL;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x8000, true, img);
	/* a secure-boot v1 signature after 0xC00 is not part of the table */
	memset(img + PART_TABLE_MAX_LEN, 0x5A, READ_LEN - PART_TABLE_MAX_LEN);
	assert_int_equal(part_readback_parse(img, sizeof(img), NULL, 0, &t, &err), 0);
	assert_int_equal(t->count, 6);
	assert_true(t->has_md5);
	part_table_free(t);
	/* a read whose length is not a multiple of 32 is fine past the end marker */
	assert_int_equal(part_readback_parse(img, 0xC00 - 7, NULL, 0, &t, &err), 0);
	part_table_free(t);
}

static void test_part_find_erased_and_short(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	memset(img, 0xFF, sizeof(img));
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), PART_EEMPTY);
	assert_non_null(strstr(err.msg, "0x8000"));
	flash_image(two_ota, 0x8000, true, img);
	assert_int_equal(part_locate(img, 31, 0x8000, 0, NULL, &e, &err), PART_EBINARY);
	assert_int_equal(part_locate(NULL, 0, 0x8000, 0, NULL, &e, &err), PART_EINVAL);
}

static void test_part_find_md5_required_or_not(void **state)
{
	uint8_t img[READ_LEN];
	struct part_entry e;
	struct part_err err;

	(void)state;
	flash_image(two_ota, 0x8000, false, img);
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, NULL, &e, &err), 0);
	assert_int_equal(e.offset, 0x9000);
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, PART_RB_REQUIRE_MD5, NULL, &e, &err), PART_ENOMD5);
}

static void test_part_find_by_label_and_type(void **state)
{
	uint8_t img[READ_LEN];
	struct part_table *t = NULL;
	struct part_err err;
	const struct part_entry *p;
	const char *csv = "phy_init,data,phy,,0x1000\nstore,data,nvs,,0x6000\nnvs,data,nvs,,0x6000,readonly\n"
			  "factory,app,factory,,1M\n";
	struct part_entry e;
	struct part_query q = {.label = "nope"};

	(void)state;
	flash_image(csv, 0x8000, true, img);
	assert_int_equal(part_readback_parse(img, sizeof(img), NULL, 0, &t, &err), 0);
	/* the first data/nvs in table order, whatever its label */
	p = part_find_type(t, PART_TYPE_DATA, PART_SUBTYPE_DATA_NVS);
	assert_non_null(p);
	assert_string_equal(p->name, "store");
	p = part_find_label(t, "nvs");
	assert_non_null(p);
	assert_int_equal(p->offset, 0x10000);
	assert_int_equal(p->flags, PART_FLAG_READONLY);
	p = part_find_type(t, PART_TYPE_APP, -1);
	assert_string_equal(p->name, "factory");
	assert_null(part_find_label(t, "NVS"));
	assert_null(part_find_type(t, 0x40, -1));
	assert_null(part_find_label(NULL, "nvs"));
	part_table_free(t);
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, &q, &e, &err), PART_ENOTFOUND);
	assert_string_equal(err.msg, "no partition labelled 'nope' in the table at 0x8000");
	q.label = NULL;
	q.type = 0x40;
	q.subtype = -1;
	assert_int_equal(part_locate(img, sizeof(img), 0x8000, 0, &q, &e, &err), PART_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_find_default_nvs_at_0x8000),
		cmocka_unit_test(test_part_find_table_at_0x9000),
		cmocka_unit_test(test_part_find_secondary_table_at_0x20000),
		cmocka_unit_test(test_part_find_golden_at_customize),
		cmocka_unit_test(test_part_find_bad_md5),
		cmocka_unit_test(test_part_find_missing_end_marker),
		cmocka_unit_test(test_part_find_entries_stop_at_0xc00),
		cmocka_unit_test(test_part_find_trailing_area_ignored),
		cmocka_unit_test(test_part_find_erased_and_short),
		cmocka_unit_test(test_part_find_md5_required_or_not),
		cmocka_unit_test(test_part_find_by_label_and_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
