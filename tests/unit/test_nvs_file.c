/* File-level helpers: whole-file reads, atomic writes (nothing left behind
 * on failure), CSV files with "file" rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "espfab/nvs.h"

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_nvs_file_atomic_write_and_read(void **state)
{
	(void)state;
	char dir[] = "/tmp/nvs_file_XXXXXX", path[256];
	struct nvs_err err = {0};
	uint8_t *data = NULL;
	size_t len;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.bin", dir);
	assert_int_equal(nvs_file_write_atomic(path, (const uint8_t *)"abc", 3, 0644, &err), 0);
	assert_int_equal(nvs_file_write_atomic(path, (const uint8_t *)"hello", 5, 0644, &err), 0);
	assert_int_equal(nvs_file_read(path, &data, &len, &err), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 5);
	assert_int_equal(count_entries(dir), 1); /* no temporary file left */
	free(data);
	unlink(path);
	rmdir(dir);
}

static void test_nvs_file_failures_leave_nothing(void **state)
{
	(void)state;
	char dir[] = "/tmp/nvs_file_XXXXXX", path[256];
	struct nvs_err err = {0};
	uint8_t *data = (uint8_t *)"x";
	size_t len = 9;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing/out.bin", dir);
	assert_int_equal(nvs_file_write_atomic(path, (const uint8_t *)"abc", 3, 0644, &err), NVS_EIO);
	assert_non_null(strstr(err.msg, "missing/out.bin"));
	assert_int_equal(count_entries(dir), 0);
	assert_int_equal(nvs_file_read(path, &data, &len, &err), NVS_EIO);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(nvs_file_read(dir, &data, &len, &err), NVS_EIO);
	assert_non_null(strstr(err.msg, "directory"));
	rmdir(dir);
}

static void test_nvs_file_csv_with_file_rows(void **state)
{
	(void)state;
	const char *dir = ESPFAB_SHARED_DIR "/golden/nvs/025-file-inputs";
	struct nvs_file_source files;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	static uint8_t out[0x6000];
	uint8_t *want = NULL;
	size_t len, want_len;
	char cwd[1024];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(nvs_file_read(ESPFAB_SHARED_DIR "/golden/nvs/025-file-inputs/expected.bin", &want, &want_len,
				       &err),
			 0);
	/* The reference reads "file" rows relative to the current directory. */
	assert_int_equal(chdir(dir), 0);
	nvs_file_source_init(&files, NULL);
	assert_int_equal(nvs_gen_new(&g, sizeof(out), NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_csv_file(g, "input.csv", &files, &err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, out, sizeof(out), &len, &err), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, len);

	nvs_gen_reset(g);
	nvs_file_source_init(&files, "/nonexistent-dir");
	assert_int_equal(nvs_gen_add_csv_file(g, ESPFAB_SHARED_DIR "/golden/nvs/025-file-inputs/input.csv", &files,
					      &err),
			 NVS_EIO);
	assert_non_null(strstr(err.msg, "input.csv:3: key 'rawbin': cannot read '/nonexistent-dir/data/raw.bin'"));
	assert_int_equal(err.line, 3);
	nvs_gen_free(g);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_file_atomic_write_and_read),
		cmocka_unit_test(test_nvs_file_failures_leave_nothing),
		cmocka_unit_test(test_nvs_file_csv_with_file_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
