/* Unit tests of the file-system utilities (common/fsu.c): whole-file reads
 * with a limit, mkdir -p. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "espfab/fsu.h"

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A size limit (at the limit is fine, one byte over is -EFBIG, also through a
 * pipe whose size is not known up front), a NUL after the data, -errno
 * instead of a message, nothing returned on failure. */
static void test_fsu_read_file_limits(void **state)
{
	char dir[] = "/tmp/fsu_XXXXXX", path[256];
	uint8_t *data = (uint8_t *)"x";
	size_t len = 9;
	int fds[2];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/in.csv", dir);
	put_file(path, "a,b\n");
	assert_int_equal(fsu_read_file(path, 4, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "a,b\n", 5); /* with its NUL */
	free(data);
	assert_int_equal(fsu_read_file(path, 3, &data, &len), -EFBIG);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(fsu_read_file(dir, 100, &data, &len), -EISDIR);
	unlink(path);
	assert_int_equal(fsu_read_file(path, 100, &data, &len), -ENOENT);
	assert_null(data);
	rmdir(dir);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "123456", 6), 6);
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	assert_int_equal(fsu_read_file(path, 5, &data, &len), -EFBIG);
	assert_null(data);
	close(fds[0]);
}

static void test_fsu_read_file_empty_and_unlimited(void **state)
{
	char dir[] = "/tmp/fsu_XXXXXX", path[256];
	uint8_t *data;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/empty", dir);
	put_file(path, "");
	assert_int_equal(fsu_read_file(path, SIZE_MAX, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], 0);
	free(data);
	unlink(path);
	rmdir(dir);
}

struct made {
	char dirs[4][256];
	int n;
};

static void record(void *ctx, const char *dir)
{
	struct made *m = ctx;

	assert_true(m->n < 4);
	snprintf(m->dirs[m->n++], sizeof(m->dirs[0]), "%s", dir);
}

/* Every missing component is made, outermost first, and reported; what
 * exists already is fine and not reported; "//" and a trailing '/' change
 * nothing. */
static void test_fsu_mkdir_p_makes_and_reports(void **state)
{
	char dir[] = "/tmp/fsu_XXXXXX", path[300], want[300];
	struct made m = {.n = 0};
	size_t at = 99;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a//b/c/", dir);
	assert_int_equal(fsu_mkdir_p(path, record, &m, &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(m.n, 3);
	snprintf(want, sizeof(want), "%s/a", dir);
	assert_string_equal(m.dirs[0], want);
	snprintf(want, sizeof(want), "%s/a//b/c", dir);
	assert_string_equal(m.dirs[2], want);
	assert_true(is_dir(want));
	m.n = 0;
	assert_int_equal(fsu_mkdir_p(path, record, &m, NULL), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(fsu_mkdir_p("", NULL, NULL, NULL), 0);
	assert_int_equal(fsu_mkdir_p("/", NULL, NULL, NULL), 0);
	snprintf(path, sizeof(path), "rm -r %s", dir);
	assert_int_equal(system(path), 0);
}

/* A component that is a file: -ENOTDIR, and failed names that component. */
static void test_fsu_mkdir_p_file_in_the_way(void **state)
{
	char dir[] = "/tmp/fsu_XXXXXX", path[300], file[300];
	size_t at = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	put_file(file, "x");
	snprintf(path, sizeof(path), "%s/f/sub", dir);
	assert_int_equal(fsu_mkdir_p(path, NULL, NULL, &at), -ENOTDIR);
	assert_int_equal(at, strlen(file));
	assert_int_equal(fsu_mkdir_p(file, NULL, NULL, &at), -ENOTDIR);
	assert_int_equal(at, strlen(file));
	unlink(file);
	rmdir(dir);
}

static void test_fsu_mkdir_parent_only_the_folder(void **state)
{
	char dir[] = "/tmp/fsu_XXXXXX", path[300], sub[300];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k/keys.bin", dir);
	snprintf(sub, sizeof(sub), "%s/k", dir);
	assert_int_equal(fsu_mkdir_parent(path, NULL), 0);
	assert_true(is_dir(sub));
	assert_false(is_dir(path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(fsu_mkdir_parent("keys.bin", NULL), 0);
	assert_int_equal(fsu_mkdir_parent("/keys.bin", NULL), 0);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsu_read_file_limits),
		cmocka_unit_test(test_fsu_read_file_empty_and_unlimited),
		cmocka_unit_test(test_fsu_mkdir_p_makes_and_reports),
		cmocka_unit_test(test_fsu_mkdir_p_file_in_the_way),
		cmocka_unit_test(test_fsu_mkdir_parent_only_the_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
