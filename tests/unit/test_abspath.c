/* Unit tests of abspath_make(): command-line paths made absolute. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "abspath.h"

static char here[PATH_MAX];

static int setup(void **state)
{
	(void)state;
	return chdir("/tmp") || !getcwd(here, sizeof(here));
}

static void expect(const char *in, const char *want)
{
	char out[PATH_MAX];

	assert_int_equal(abspath_make(in, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_abspath_relative_joins_cwd(void **state)
{
	char want[PATH_MAX + 16];

	(void)state;
	snprintf(want, sizeof(want), "%s/st.db", here);
	expect("st.db", want);
	expect("./st.db", want);
	expect(".//./st.db", want);
	snprintf(want, sizeof(want), "%s/sub/../x", here);
	expect("sub/../x", want); /* ".." is the kernel's business */
	expect(".", here);
}

static void test_abspath_absolute_unchanged(void **state)
{
	(void)state;
	expect("/var/lib/espfab/espfab.db", "/var/lib/espfab/espfab.db");
	expect("/dev/serial/by-path/x", "/dev/serial/by-path/x");
}

static void test_abspath_keeps_symlinks(void **state)
{
	char link[PATH_MAX + 16], out[PATH_MAX];

	(void)state;
	snprintf(link, sizeof(link), "%s/abspath-link-%d", here, (int)getpid());
	unlink(link);
	assert_int_equal(symlink("/dev/null", link), 0);
	assert_int_equal(abspath_make(strrchr(link, '/') + 1, out, sizeof(out)), 0);
	assert_string_equal(out, link); /* the link, not /dev/null */
	unlink(link);
}

static void test_abspath_at_root(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(abspath_make("x.db", out, sizeof(out)), 0);
	assert_string_equal(out, "/x.db");
	assert_int_equal(chdir(here), 0);
}

static void test_abspath_errors_leave_empty(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(abspath_make("", out, sizeof(out)), -EINVAL);
	assert_string_equal(out, "");
	assert_int_equal(abspath_make("a-long-name.db", out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(abspath_make("/abcdefgh", out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(abspath_make("/abcdef", out, sizeof(out)), 0); /* 7 bytes + NUL fit 8 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abspath_relative_joins_cwd),
		cmocka_unit_test(test_abspath_absolute_unchanged),
		cmocka_unit_test(test_abspath_keeps_symlinks),
		cmocka_unit_test(test_abspath_at_root),
		cmocka_unit_test(test_abspath_errors_leave_empty),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
