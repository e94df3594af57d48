/* part_names.c: keywords in the reference's dict order, and extra subtypes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "espfab/part.h"

static void test_part_names_builtin(void **state)
{
	(void)state;
	assert_string_equal(part_type_name(NULL, 0), "app");
	assert_string_equal(part_type_name(NULL, 3), "partition_table");
	assert_null(part_type_name(NULL, 0x40));
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_APP, 0x10), "ota_0");
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_APP, 0x1f), "ota_15");
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_APP, 0x31), "tee_1");
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_DATA, 0x02), "nvs");
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_DATA, 0x90), "tee_ota");
	assert_null(part_subtype_name(NULL, PART_TYPE_DATA, 0x99));
	assert_string_equal(part_subtype_name(NULL, PART_TYPE_BOOTLOADER, 2), "recovery");
	assert_null(part_subtype_name(NULL, 0x40, 0));
	assert_int_equal(part_subtype_value(NULL, PART_TYPE_DATA, "littlefs"), 0x83);
	assert_int_equal(part_subtype_value(NULL, PART_TYPE_DATA, "NVS"), -1); /* exact match */
	assert_int_equal(part_type_value(NULL, "data"), 1);
}

static void test_part_names_extra_added_and_repointed(void **state)
{
	struct part_names *n = part_names_new();
	struct part_err err;

	(void)state;
	assert_non_null(n);
	assert_int_equal(part_names_add_extra(n, "data,my_sub,0x40", &err), 0);
	assert_int_equal(part_names_add_extra(n, " app , my_app , 50 ", &err), 0); /* fields stripped, hex */
	assert_int_equal(part_subtype_value(n, PART_TYPE_DATA, "my_sub"), 0x40);
	assert_int_equal(part_subtype_value(n, PART_TYPE_APP, "my_app"), 0x50);
	assert_string_equal(part_subtype_name(n, PART_TYPE_DATA, 0x40), "my_sub");
	/* an existing name takes the new value in place */
	assert_int_equal(part_names_add_extra(n, "data,nvs,0x41", &err), 0);
	assert_int_equal(part_subtype_value(n, PART_TYPE_DATA, "nvs"), 0x41);
	assert_null(part_subtype_name(n, PART_TYPE_DATA, 0x02));
	/* built-ins untouched */
	assert_int_equal(part_subtype_value(NULL, PART_TYPE_DATA, "nvs"), 2);
	assert_int_equal(part_subtype_value(NULL, PART_TYPE_DATA, "my_sub"), -1);
	part_names_free(n);
	part_names_free(NULL);
}

static void test_part_names_extra_rejects(void **state)
{
	struct part_names *n = part_names_new();
	struct part_err err;

	(void)state;
	assert_int_equal(part_names_add_extra(n, "data,dup,0x02", &err), PART_EINVAL);
	assert_non_null(strstr(err.msg, "duplicate value"));
	assert_int_equal(part_names_add_extra(n, "foo,x,0x70", &err), PART_EINVAL);
	assert_non_null(strstr(err.msg, "Invalid partition type"));
	assert_int_equal(part_names_add_extra(n, "data,x", &err), PART_EINVAL);
	assert_int_equal(part_names_add_extra(n, "data,x,zz", &err), PART_EINVAL);
	assert_int_equal(part_names_add_extra(n, "data,x,0x100", &err), PART_EINVAL);
	assert_int_equal(part_names_add_extra(n, "Data,x,0x70", &err), PART_EINVAL); /* TYPES keys are exact */
	assert_int_equal(part_subtype_value(n, PART_TYPE_DATA, "x"), -1);
	part_names_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_names_builtin),
		cmocka_unit_test(test_part_names_extra_added_and_repointed),
		cmocka_unit_test(test_part_names_extra_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
