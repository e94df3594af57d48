/* Unit tests of pyint (common/pyint.c): Python's int(text, base) as the
 * reference tools call it. Each expectation is what CPython 3.11 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/pyint.h"

/* int(s, base) == want, as an int64. */
static void ok(const char *s, unsigned base, int64_t want)
{
	struct pyint v = {.neg = true, .mag = 12345};
	int64_t got = 0;

	if (pyint_parse_str(s, base, &v) != PYINT_OK)
		fail_msg("int(%s, %u) should be %lld", s, base, (long long)want);
	assert_int_equal(pyint_to_i64(&v, &got), PYINT_OK);
	if (got != want)
		fail_msg("int(%s, %u): got %lld, want %lld", s, base, (long long)got, (long long)want);
}

static void bad(const char *s, unsigned base, int want_rc)
{
	struct pyint v = {.neg = true, .mag = 12345};
	int rc = pyint_parse_str(s, base, &v);

	if (rc != want_rc)
		fail_msg("int(%s, %u): rc %d, want %d", s, base, rc, want_rc);
	/* nothing written on failure */
	assert_true(v.neg);
	assert_int_equal(v.mag, 12345);
}

static void test_pyint_base0_prefixes(void **state)
{
	(void)state;
	ok("0x6000", 0, 0x6000);
	ok("0X6000", 0, 0x6000);
	ok("0xfF", 0, 255);
	ok("0o17", 0, 15);
	ok("0O17", 0, 15);
	ok("0b101", 0, 5);
	ok("0B101", 0, 5);
	ok("24576", 0, 24576);
	bad("0x", 0, PYINT_ESYNTAX);
	bad("0o8", 0, PYINT_ESYNTAX);
	bad("0b2", 0, PYINT_ESYNTAX);
	bad("0xg", 0, PYINT_ESYNTAX);
	bad("0x6000K", 0, PYINT_ESYNTAX); /* golden 056-size-bad-literal */
	bad("x10", 0, PYINT_ESYNTAX);
}

static void test_pyint_explicit_bases(void **state)
{
	(void)state;
	ok("ff", 16, 255);
	ok("0x1f", 16, 31); /* the matching prefix is allowed with its base */
	ok("17", 8, 15);
	ok("0o17", 8, 15);
	ok("0b11", 2, 3);
	ok("010", 10, 10); /* leading zeros are fine when the base is given */
	ok("0x_1f", 16, 31);
	bad("0o17", 16, PYINT_ESYNTAX); /* 'o' is no hex digit */
	bad("0x10", 10, PYINT_ESYNTAX);
	bad("0b2", 2, PYINT_ESYNTAX);
	bad("12", 2, PYINT_ESYNTAX);
	bad("1", 36, PYINT_ESYNTAX); /* bases the references never use */
}

static void test_pyint_underscores(void **state)
{
	(void)state;
	ok("1_000_000", 10, 1000000);
	ok("0x_1f", 0, 31); /* one right after the prefix */
	ok("0_0", 0, 0);
	bad("_1", 10, PYINT_ESYNTAX);
	bad("1_", 10, PYINT_ESYNTAX);
	bad("1__0", 10, PYINT_ESYNTAX);
	bad("0x__1", 0, PYINT_ESYNTAX);
	bad("0x_", 0, PYINT_ESYNTAX);
	bad("+_1", 10, PYINT_ESYNTAX);
}

static void test_pyint_signs_and_spaces(void **state)
{
	struct pyint v;

	(void)state;
	ok(" 7 ", 10, 7);
	ok("\t\n\v\f\r+5\r\n", 10, 5);
	ok("-0x10", 0, -16);
	ok("+0b1", 0, 1);
	assert_int_equal(pyint_parse_str("-0", 10, &v), PYINT_OK);
	assert_true(v.neg);
	assert_int_equal(v.mag, 0);
	bad("- 1", 10, PYINT_ESYNTAX);
	bad("+-1", 10, PYINT_ESYNTAX);
	bad("--1", 10, PYINT_ESYNTAX);
	bad("1 2", 10, PYINT_ESYNTAX);
	bad("", 10, PYINT_ESYNTAX);
	bad("   ", 0, PYINT_ESYNTAX);
	bad("+", 10, PYINT_ESYNTAX);
	bad("\x1c" "9", 10, PYINT_ESYNTAX); /* str.strip() takes 0x1C, int() does not */
}

static void test_pyint_leading_zeros(void **state)
{
	(void)state;
	ok("007", 10, 7);
	ok("0", 0, 0);
	ok("00", 0, 0);
	ok("-000", 0, 0);
	bad("010", 0, PYINT_ESYNTAX); /* int('010', 0) is a ValueError */
	bad("0_7", 0, PYINT_ESYNTAX);
	bad("00x1", 0, PYINT_ESYNTAX);
}

static void test_pyint_overflow(void **state)
{
	struct pyint v;
	int64_t i;

	(void)state;
	assert_int_equal(pyint_parse_str("18446744073709551615", 10, &v), PYINT_OK);
	assert_true(v.mag == UINT64_MAX);
	assert_int_equal(pyint_to_i64(&v, &i), PYINT_ERANGE);
	bad("18446744073709551616", 10, PYINT_ERANGE);
	bad("0x1_0000_0000_0000_0000", 0, PYINT_ERANGE);
	/* bad syntax after the overflow is still bad syntax, as in Python */
	bad("18446744073709551616x", 10, PYINT_ESYNTAX);
	bad("184467440737095516160_", 10, PYINT_ESYNTAX);
	ok("9223372036854775807", 10, INT64_MAX);
	ok("-9223372036854775808", 10, INT64_MIN);
	assert_int_equal(pyint_parse_str("9223372036854775808", 10, &v), PYINT_OK);
	assert_int_equal(pyint_to_i64(&v, &i), PYINT_ERANGE);
	assert_int_equal(pyint_parse_str("-9223372036854775809", 10, &v), PYINT_OK);
	assert_int_equal(pyint_to_i64(&v, &i), PYINT_ERANGE);
}

/* int(str) reads Unicode digits and spaces; int(bytes) does not. */
static void test_pyint_unicode_str_not_bytes(void **state)
{
	static const char arabic12[] = "\xd9\xa1\xd9\xa2";        /* U+0661 U+0662 */
	static const char nbsp9[] = "\xc2\xa0" "9\xe3\x80\x80"; /* U+00A0 9 U+3000 */
	static const char fullwidth0x[] = "0x\xef\xbc\x91";       /* 0x, U+FF11 */
	struct pyint v;

	(void)state;
	ok(arabic12, 10, 12);
	ok(nbsp9, 0, 9);
	ok(fullwidth0x, 0, 1);
	assert_int_equal(pyint_parse((const uint8_t *)arabic12, 4, 10, PYINT_BYTES, &v), PYINT_ESYNTAX);
	assert_int_equal(pyint_parse((const uint8_t *)nbsp9, strlen(nbsp9), 10, PYINT_BYTES, &v), PYINT_ESYNTAX);
	bad("\xe2\x82\xac" "1", 10, PYINT_ESYNTAX); /* a euro sign is neither */
	bad("1\xff", 10, PYINT_ESYNTAX);            /* not UTF-8 */
}

/* Text longer than the local transform buffer goes through the heap. */
static void test_pyint_long_unicode_text(void **state)
{
	char s[600];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 200; i++) {
		memcpy(s + n, "\xc2\xa0", 2); /* 400 bytes of NBSP */
		n += 2;
	}
	memcpy(s + n, "\xd9\xa5", 3); /* U+0665 and the NUL */
	ok(s, 10, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyint_base0_prefixes),	   cmocka_unit_test(test_pyint_explicit_bases),
		cmocka_unit_test(test_pyint_underscores),	   cmocka_unit_test(test_pyint_signs_and_spaces),
		cmocka_unit_test(test_pyint_leading_zeros),	   cmocka_unit_test(test_pyint_overflow),
		cmocka_unit_test(test_pyint_unicode_str_not_bytes), cmocka_unit_test(test_pyint_long_unicode_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
