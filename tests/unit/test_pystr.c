/* Unit tests of pystr (common/pystr.c): Python's whitespace and digit rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/pystr.h"

static void strip_to(const char *in, enum pystr_space kind, const char *want)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t n = strlen(in);

	pystr_strip(&s, &n, kind);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(s, want, n);
}

/* The three kinds differ on 0x1C-0x1F and on non-ASCII spaces. */
static void test_pystr_strip_kinds(void **state)
{
	(void)state;
	strip_to(" \t\n\v\f\rx\r ", PYSTR_SPACE_BYTES, "x");
	strip_to("\x1c" "x" "\x1f", PYSTR_SPACE_STRIP, "x");
	strip_to("\x1c" "x" "\x1f", PYSTR_SPACE_INT, "\x1c" "x" "\x1f");
	strip_to("\xc2\xa0" "x" "\xe3\x80\x80", PYSTR_SPACE_STRIP, "x");
	strip_to("\xc2\xa0" "x" "\xe3\x80\x80", PYSTR_SPACE_INT, "x");
	strip_to("\xc2\xa0" "x", PYSTR_SPACE_BYTES, "\xc2\xa0" "x");
	strip_to("\xe2\x80\x8b" "x", PYSTR_SPACE_STRIP, "\xe2\x80\x8b" "x"); /* U+200B is not a space */
	strip_to("\xe2\x80\x8a" "x" "\xe2\x81\x9f", PYSTR_SPACE_STRIP, "x"); /* U+200A, U+205F */
	strip_to("   ", PYSTR_SPACE_STRIP, "");
}

static void test_pystr_digits(void **state)
{
	(void)state;
	assert_int_equal(pystr_digit(0x661), 1);
	assert_int_equal(pystr_digit(0xFF19), 9);
	assert_int_equal(pystr_digit(0x1FBF0), 0);
	assert_int_equal(pystr_digit(0x1FBFA), -1);
	assert_int_equal(pystr_digit('5'), -1); /* ASCII is the caller's */
	assert_int_equal(pystr_digit(0x2160), -1); /* Roman numeral: Nl, not Nd */
}

static void test_pystr_utf8_next(void **state)
{
	uint32_t cp;

	(void)state;
	assert_int_equal(pystr_utf8_next((const uint8_t *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20AC);
	assert_int_equal(pystr_utf8_next((const uint8_t *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(pystr_utf8_next((const uint8_t *)"\xe2\x82", 2, &cp), 1); /* cut short */
	assert_int_equal(cp, 0xFFFD);
	assert_int_equal(pystr_utf8_next((const uint8_t *)"\x80", 1, &cp), 1);
	assert_int_equal(cp, 0xFFFD);
}

static void test_pystr_int_ascii(void **state)
{
	static const char in[] = "\xc2\xa0-\xd9\xa1\xd9\xa2\x1c\xe2\x82\xac" "9";
	uint8_t out[sizeof(in)];
	size_t n = pystr_int_ascii((const uint8_t *)in, strlen(in), out);

	(void)state;
	/* space, sign, digits, 0x1C kept, the euro sign ends it with '?' */
	assert_int_equal(n, 6);
	assert_memory_equal(out, " -12\x1c?", 6);
	assert_true(pystr_is_ascii(out, n));
	assert_false(pystr_is_ascii((const uint8_t *)in, strlen(in)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pystr_strip_kinds),
		cmocka_unit_test(test_pystr_digits),
		cmocka_unit_test(test_pystr_utf8_next),
		cmocka_unit_test(test_pystr_int_ascii),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
