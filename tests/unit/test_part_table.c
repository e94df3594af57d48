/* part_table.c: picking the parser by content, as the reference's from_file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "espfab/part.h"

static void test_part_table_detects_binary_and_csv(void **state)
{
	const char *csv = "nvs,data,nvs,,0x6000\n";
	uint8_t bin[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_err err;
	bool is_bin = true;

	(void)state;
	assert_int_equal(part_table_parse((const uint8_t *)csv, strlen(csv), NULL, &t, &is_bin, &err), 0);
	assert_false(is_bin);
	assert_int_equal(part_bin_write(t, NULL, bin, &err), 0);
	part_table_free(t);
	assert_int_equal(part_table_parse(bin, sizeof(bin), NULL, &t, &is_bin, &err), 0);
	assert_true(is_bin);
	assert_int_equal(t->count, 1);
	assert_int_equal(t->entries[0].offset, 0x9000);
	part_table_free(t);
}

static void test_part_table_entryless_binary_is_explained(void **state)
{
	uint8_t bin[PART_TABLE_MAX_LEN];
	struct part_table *t = NULL;
	struct part_err err;
	bool is_bin = true;

	(void)state;
	assert_int_equal(part_csv_parse((const uint8_t *)"", 0, NULL, &t, &err), 0);
	assert_int_equal(part_bin_write(t, NULL, bin, &err), 0);
	part_table_free(t);
	assert_int_equal(bin[0], 0xeb);
	/* the reference reads it as text (it only knows AA 50) and fails */
	assert_int_equal(part_table_parse(bin, sizeof(bin), NULL, &t, &is_bin, &err), PART_ESYNTAX);
	assert_false(is_bin);
	assert_null(t);
	assert_non_null(strstr(err.msg, "no entries"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_table_detects_binary_and_csv),
		cmocka_unit_test(test_part_table_entryless_binary_is_explained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
