/* Unit tests of the one error formatter (common/err.c): one line, bounded,
 * never a broken UTF-8 character at the cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/err.h"

static void test_err_format_one_line_whatever_the_input(void **state)
{
	char buf[64];

	(void)state;
	err_format(buf, sizeof(buf), "%s:%u: bad value '%s'", "in.csv", 3u, "a\nb\rc\td\x1b[31m\x7f");
	assert_string_equal(buf, "in.csv:3: bad value 'a?b?c?d?[31m?'");
	assert_null(strchr(buf, '\n'));
	/* what the format itself holds is cleaned too */
	err_format(buf, sizeof(buf), "line one\nline two");
	assert_string_equal(buf, "line one?line two");
	/* UTF-8 text passes through */
	err_format(buf, sizeof(buf), "port %s: gone", "caf\xc3\xa9");
	assert_string_equal(buf, "port caf\xc3\xa9: gone");
}

static void test_err_format_bounded_at_a_character(void **state)
{
	char buf[8];

	(void)state;
	err_format(buf, sizeof(buf), "%s", "abcdefghijkl");
	assert_string_equal(buf, "abcdefg");
	/* "abcde" + a 3-byte euro sign does not fit in 7: the partial one goes */
	err_format(buf, sizeof(buf), "abcde%s", "\xe2\x82\xac");
	assert_string_equal(buf, "abcde");
	/* a 2-byte character that fits whole stays */
	err_format(buf, sizeof(buf), "abcde%s!", "\xc3\xa9");
	assert_string_equal(buf, "abcde\xc3\xa9");
	err_format(buf, 1, "anything");
	assert_string_equal(buf, "");
}

static void test_err_one_line_in_place(void **state)
{
	char text[] = "libfoo: failed\nat step 2\n";

	(void)state;
	err_one_line(text);
	assert_string_equal(text, "libfoo: failed?at step 2?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_format_one_line_whatever_the_input),
		cmocka_unit_test(test_err_format_bounded_at_a_character),
		cmocka_unit_test(test_err_one_line_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
