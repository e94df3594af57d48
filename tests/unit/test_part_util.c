/* part_util.c: Python's int() and str.strip() as the reference relies on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../nvsgen/part_priv.h"

static void test_part_util_pyint_base0(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(part_pyint("0x9000", 0, &v), 0);
	assert_int_equal(v, 0x9000);
	assert_int_equal(part_pyint("0X1F", 0, &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(part_pyint("  12\t", 0, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(part_pyint("-0x200000", 0, &v), 0);
	assert_int_equal(v, -0x200000);
	assert_int_equal(part_pyint("+0x10", 0, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(part_pyint("1_000", 0, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(part_pyint("0x_1f", 0, &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(part_pyint("0b101", 0, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(part_pyint("0o17", 0, &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(part_pyint("0_0", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(part_pyint("00", 0, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(part_pyint("0x009000", 0, &v), 0);
	assert_int_equal(v, 0x9000);
}

static void test_part_util_pyint_rejects(void **state)
{
	int64_t v = 77;

	(void)state;
	/* what int(x, 0) refuses with ValueError */
	assert_int_equal(part_pyint("010", 0, &v), -1);
	assert_int_equal(part_pyint("1__0", 0, &v), -1);
	assert_int_equal(part_pyint("_1", 0, &v), -1);
	assert_int_equal(part_pyint("1_", 0, &v), -1);
	assert_int_equal(part_pyint("0x", 0, &v), -1);
	assert_int_equal(part_pyint("", 0, &v), -1);
	assert_int_equal(part_pyint("- 5", 0, &v), -1);
	assert_int_equal(part_pyint("N/A", 0, &v), -1);
	assert_int_equal(part_pyint("12x", 0, &v), -1);
	assert_int_equal(part_pyint("5\x1f", 0, &v), -1); /* str.strip() whitespace, not int()'s */
	assert_int_equal(v, 77);
	assert_int_equal(part_pyint("\xc2\xa0" "5\x0b", 0, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(part_pyint("99999999999999999999", 0, &v), -2);
}

static void test_part_util_pyint_base16(void **state)
{
	int64_t v = 0;

	(void)state;
	/* int(x, 16) as --extra-partition-subtypes uses it */
	assert_int_equal(part_pyint("40", 16, &v), 0);
	assert_int_equal(v, 0x40);
	assert_int_equal(part_pyint("0x40", 16, &v), 0);
	assert_int_equal(v, 0x40);
	assert_int_equal(part_pyint("0b1", 16, &v), 0);
	assert_int_equal(v, 0xb1);
	assert_int_equal(part_pyint("0o7", 16, &v), -1);
	assert_int_equal(part_pyint("x40", 16, &v), -1);
}

static void test_part_util_strip_unicode(void **state)
{
	const char *s = "\xc2\xa0 nvs\xe3\x80\x80\r";
	size_t len = strlen(s);
	const char *p;

	(void)state;
	p = part_strip(s, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "nvs", 3);
	len = 0;
	part_strip("", &len);
	assert_int_equal(len, 0);
}

static void test_part_util_hex_negative(void **state)
{
	char b[24];

	(void)state;
	/* Python's '0x%x' % -4096 is '0x-1000' */
	assert_string_equal(part_hex(b, -0x1000), "-1000");
	assert_string_equal(part_hex(b, 0x9000), "9000");
	assert_string_equal(part_hex(b, INT64_MIN), "-8000000000000000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_part_util_pyint_base0),   cmocka_unit_test(test_part_util_pyint_rejects),
		cmocka_unit_test(test_part_util_pyint_base16),  cmocka_unit_test(test_part_util_strip_unicode),
		cmocka_unit_test(test_part_util_hex_negative),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
