/* The generator API against images the reference wrote
 * (../shared/golden/nvs), plus the places where the port differs on purpose
 * (policy.tsv) and its error reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/nvs.h"

#define GOLDEN ESPFAB_SHARED_DIR "/golden/nvs/"

static uint8_t *slurp(const char *case_dir, const char *file, size_t *len)
{
	char path[512];
	struct nvs_err err;
	uint8_t *data = NULL;

	snprintf(path, sizeof(path), GOLDEN "%s/%s", case_dir, file);
	assert_int_equal(nvs_file_read(path, &data, len, &err), 0);
	return data;
}

/* Build case_dir/input.csv (file rows relative to the case folder) and
 * compare with case_dir/want. */
static void check_case(const char *case_dir, uint32_t size, enum nvs_version v, const char *want_file)
{
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	struct nvs_file_source files;
	char base[512];
	size_t csv_len, want_len, out_len;
	uint8_t *csv = slurp(case_dir, "input.csv", &csv_len);
	uint8_t *want = slurp(case_dir, want_file, &want_len);
	uint8_t *out = malloc(size);

	snprintf(base, sizeof(base), GOLDEN "%s", case_dir);
	nvs_file_source_init(&files, base);
	assert_int_equal(nvs_gen_new(&g, size, v, &err), 0);
	if (nvs_gen_add_csv(g, (const char *)csv, csv_len, "input.csv", &files, &err) != 0)
		fail_msg("%s: %s", case_dir, err.msg);
	assert_int_equal(nvs_gen_finish(g, NULL, out, size, &out_len, &err), 0);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len);
	nvs_gen_free(g);
	free(out);
	free(want);
	free(csv);
}

static void test_nvs_gen_golden_reference_images(void **state)
{
	(void)state;
	check_case("001-prim-unsigned-minmax", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("009-prim-int-syntax-accepted", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("018-string-page-boundary", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("025-file-inputs", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("028-blob-fill", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("036-blob-v2-multipage", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("038-blob-v2-exact-page", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("039-blob-v2-slot-125", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("041-blob-v1", 0x6000, NVS_VERSION_1, "expected.bin");
	check_case("051-size-0x2000-readonly-one-page", 0x2000, NVS_VERSION_2, "expected.bin");
	check_case("062-key-utf8-multibyte", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("067-wifi-sta", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("070-wifi-ap-repeat", 0x6000, NVS_VERSION_2, "expected.bin");
	check_case("074-csv-quoted", 0x6000, NVS_VERSION_2, "expected.bin");
}

static void test_nvs_gen_policy_fixes(void **state)
{
	(void)state;
	check_case("027-binary-from-data", 0x6000, NVS_VERSION_2, "port-expected.bin");
	check_case("032-namespace-switch-back", 0x6000, NVS_VERSION_2, "port-expected.bin");
	check_case("082-encoding-uppercase", 0x6000, NVS_VERSION_2, "port-expected.bin");
	/* A BOM is skipped: the image equals the one without it. */
	check_case("076-csv-bom", 0x6000, NVS_VERSION_2, "port-expected.bin");
}

static int add_csv(struct nvs_gen *g, const char *text, struct nvs_err *err)
{
	return nvs_gen_add_csv(g, text, strlen(text), "t.csv", NULL, err);
}

static void test_nvs_gen_policy_rejections(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	char csv[16384];
	size_t o;

	assert_int_equal(nvs_gen_new(&g, 0x8000, NVS_VERSION_2, &err), 0);
	assert_int_equal(add_csv(g, "key,type,encoding,value\nv,data,u8,1\n", &err), NVS_EINPUT);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "t.csv:2: key 'v': data row before any namespace row");

	nvs_gen_reset(g);
	/* 8 x "é" is 8 characters but 16 bytes. */
	assert_int_equal(add_csv(g, "key,type,encoding,value\nns,namespace,,\n"
				    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9,data,u8,1\n",
				 &err),
			 NVS_EINPUT);
	assert_non_null(strstr(err.msg, "16 bytes"));

	nvs_gen_reset(g);
	o = (size_t)snprintf(csv, sizeof(csv), "key,type,encoding,value\n");
	for (int i = 0; i < 255; i++)
		o += (size_t)snprintf(csv + o, sizeof(csv) - o, "n%d,namespace,,\n", i);
	assert_int_equal(add_csv(g, csv, &err), NVS_EINPUT);
	assert_int_equal(err.line, 256);
	assert_non_null(strstr(err.msg, "255"));
	nvs_gen_free(g);
}

static void test_nvs_gen_add_row_matches_csv(void **state)
{
	(void)state;
	struct nvs_gen *a = NULL, *b = NULL;
	struct nvs_err err = {0};
	static uint8_t ia[0x6000], ib[0x6000];
	size_t la, lb;

	assert_int_equal(nvs_gen_new(&a, 0x6000, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_new(&b, 0x6000, NVS_VERSION_2, &err), 0);
	/* Interleaved use of two generators: no shared state. */
	assert_int_equal(nvs_gen_add_row(a, "mass_prod", "namespace", NULL, NULL, 0, &err), 0);
	assert_int_equal(add_csv(b, "key,type,encoding,value\nmass_prod,namespace,,\n"
				    "id,data,string,\"x,1\"\nn,data,I32,-7\nblob,file,hex2bin,00ff\n",
				 &err),
			 NVS_EINPUT); /* file rows need a file source */
	assert_non_null(strstr(err.msg, "t.csv:5: key 'blob'"));
	assert_int_equal(nvs_gen_add_row(a, "id", "data", "string", "x,1", 3, &err), 0);
	assert_int_equal(nvs_gen_add_row(a, "n", "data", "I32", "-7", 2, &err), 0);
	/* For nvs_gen_add_row a file row's value is the file's content. */
	assert_int_equal(nvs_gen_add_row(a, "blob", "file", "hex2bin", "00ff", 4, &err), 0);
	assert_int_equal(nvs_gen_finish(a, NULL, ia, sizeof(ia), &la, &err), 0);

	nvs_gen_reset(b);
	assert_int_equal(add_csv(b, "value,encoding,key,type,extra\n,,mass_prod,namespace\n"
				    "\"x,1\",string,id,data,z\n-7,i32,n,data\n00ff,hex2bin,blob,data\n",
				 &err),
			 0);
	assert_int_equal(nvs_gen_finish(b, NULL, ib, sizeof(ib), &lb, &err), 0);
	assert_int_equal(la, 0x6000);
	assert_memory_equal(ia, ib, la);
	/* The I32 entry: ns 1, type 0x14, span 1, value -7 little-endian. */
	assert_memory_equal(ia + 64 + 3 * 32, "\x01\x14\x01\xff", 4);
	assert_memory_equal(ia + 64 + 3 * 32 + 24, "\xf9\xff\xff\xff\xff\xff\xff\xff", 8);
	nvs_gen_free(a);
	nvs_gen_free(b);
}

static void test_nvs_gen_reset_reuses_without_leftovers(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	static uint8_t first[0x6000], again[0x6000];
	char big[5000];
	size_t l1, l2;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(nvs_gen_new(&g, 0x6000, NVS_VERSION_2, &err), 0);
	assert_int_equal(add_csv(g, "key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n", &err), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, first, sizeof(first), &l1, &err), 0);
	nvs_gen_reset(g);
	/* A multi-page image in between. */
	assert_int_equal(nvs_gen_add_row(g, "other", "namespace", "", "", 0, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "b", "data", "binary", big, strlen(big), &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "sta.ssid", "data", "string", "net", 3, &err), 0);
	nvs_gen_reset(g);
	assert_int_equal(add_csv(g, "key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n", &err), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, again, sizeof(again), &l2, &err), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(first, again, l1);
	nvs_gen_free(g);
	nvs_gen_free(NULL);
}

static void test_nvs_gen_errors(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	uint8_t small[0x1000];
	size_t len;

	assert_int_equal(nvs_gen_new(&g, 0x6001, NVS_VERSION_2, &err), NVS_ESIZE);
	assert_null(g);
	assert_int_equal(nvs_gen_new(&g, 0, NVS_VERSION_2, &err), NVS_ESIZE);
	assert_int_equal(nvs_gen_new(&g, 0x3000, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, small, sizeof(small), &len, &err), NVS_ESIZE);
	assert_int_equal(add_csv(g, "key, type,encoding,value\nns,namespace,,\n", &err), NVS_EINPUT);
	assert_string_equal(err.msg, "t.csv:2: the header has no 'type' column");
	nvs_gen_reset(g);
	assert_int_equal(add_csv(g, "key,type,encoding,value\nns,namespace,,\n\nsecret,data,u8\n", &err), NVS_EINPUT);
	assert_int_equal(err.line, 4);
	nvs_gen_reset(g);
	assert_int_equal(add_csv(g, "key,type,encoding,value\nns,namespace,,\nx,data,string,\xff\n", &err), NVS_EINPUT);
	assert_int_equal(err.line, 3);
	nvs_gen_reset(g);
	/* Three pages of u32 do not fit 0x3000 (two data pages). */
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	for (int i = 0; i < 251; i++)
		assert_int_equal(nvs_gen_add_row(g, "k", "data", "u32", "1", 1, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "k", "data", "u32", "1", 1, &err), NVS_ESIZE);
	assert_non_null(strstr(err.msg, "key 'k': the data does not fit"));
	nvs_gen_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_gen_golden_reference_images),
		cmocka_unit_test(test_nvs_gen_policy_fixes),
		cmocka_unit_test(test_nvs_gen_policy_rejections),
		cmocka_unit_test(test_nvs_gen_add_row_matches_csv),
		cmocka_unit_test(test_nvs_gen_reset_reuses_without_leftovers),
		cmocka_unit_test(test_nvs_gen_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
