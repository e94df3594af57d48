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
#include <pthread.h>
#include <cmocka.h>

#include "espfab/nvs.h"
#include "nvs_testutil.h"

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

/* The reference stores keys with a character-counted slice: a key of c
 * characters and b <= 15 bytes grows its entry by g = b - c bytes. Bytes
 * below computed with CPython bytearray operations. */
static void test_nvs_gen_multibyte_key_entry_growth(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	static uint8_t img[0x3000];
	const uint8_t *e;
	size_t len;

	assert_int_equal(nvs_gen_new(&g, sizeof(img), NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	/* "ключ": 4 characters, 8 bytes, g = 4 */
	assert_int_equal(nvs_gen_add_row(g, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "data", "u8", "5", 1, &err), 0);
	/* "日本語です": 5 characters, 15 bytes, g = 10: two zero bytes spill
	 * into the next slot. */
	assert_int_equal(nvs_gen_add_row(g, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x99", "data",
					 "u8", "5", 1, &err),
			 0);
	assert_int_equal(nvs_gen_finish(g, NULL, img, sizeof(img), &len, &err), 0);
	e = img + 64 + 32;
	assert_memory_equal(e + 24, "\x05\x00\x00\x00\xff\xff\xff\xff", 8);
	e += 32;
	assert_memory_equal(e + 23, "\x00\x05\x00\x00\x00\x00\x00\x00\x00", 9);
	assert_memory_equal(e + 32, "\x00\x00\xff\xff", 4);
	/* The spill is not an entry: the bitmap shows three written entries. */
	assert_int_equal(img[32], 0xea);
	/* An empty string after such a key: its 1-byte data covers one of the
	 * two spilled zeros in the plain image; encrypted images have no spill. */
	{
		static uint8_t enc[0x3000], dec[0x3000];
		uint8_t key[NVS_XTS_KEY_LEN];
		size_t elen, dlen;

		nvs_gen_reset(g);
		assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
		assert_int_equal(nvs_gen_add_row(g, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x99", "data",
						 "string", "", 0, &err),
				 0);
		assert_int_equal(nvs_gen_finish(g, NULL, img, sizeof(img), &len, &err), 0);
		assert_memory_equal(img + 64 + 64, "\x00\x00\xff", 3);
		for (unsigned i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)i;
		assert_int_equal(nvs_gen_finish(g, key, enc, sizeof(enc), &elen, &err), 0);
		assert_int_equal(nvs_decrypt_image(enc, elen, key, dec, &dlen, &err), 0);
		assert_memory_equal(dec + 64 + 64, "\x00\xff\xff", 3);
	}
	/* ... and reset clears it. */
	nvs_gen_reset(g);
	assert_int_equal(nvs_gen_finish(g, NULL, img, sizeof(img), &len, &err), 0);
	assert_int_equal(img[64 + 96], 0xff);
	nvs_gen_free(g);
}

/* A grown-key header in a page's last slot (slot 125) runs past the page:
 * the reference's page bytearray becomes 4096 + g bytes and the plain image
 * grows. Expected image: nvs_partition_gen.py 0.2.0 `generate g.csv ref.bin
 * 0x4000` (and `encrypt ... --inputkey` with key 00..3f) on the same rows as
 * a CSV (header, "ns,namespace,,", k0..k123 u8, ключ u8 5, m0..m124 u16,
 * 日本語です i32 -2, z string end): 16398 bytes, SHA-256 below; encrypted:
 * 16384 bytes. */
static void test_nvs_gen_grown_key_in_last_slot(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	static uint8_t img[0x4000 + 14];
	uint8_t key[NVS_XTS_KEY_LEN];
	char k[16], v[16], hex[65];
	size_t len;

	assert_int_equal(nvs_gen_new(&g, 0x4000, NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	for (int i = 0; i < 124; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(nvs_gen_add_row(g, k, "data", "u8", v, strlen(v), &err), 0);
	}
	/* "ключ": 4 characters, 8 bytes: g = 4 */
	assert_int_equal(nvs_gen_add_row(g, "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "data", "u8", "5", 1, &err), 0);
	for (int i = 0; i < 125; i++) {
		snprintf(k, sizeof(k), "m%d", i);
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(nvs_gen_add_row(g, k, "data", "u16", v, strlen(v), &err), 0);
	}
	/* "日本語です": 5 characters, 15 bytes: g = 10 */
	assert_int_equal(nvs_gen_add_row(g, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7\xe3\x81\x99", "data",
					 "i32", "-2", 2, &err),
			 0);
	assert_int_equal(nvs_gen_add_row(g, "z", "data", "string", "end", 3, &err), 0);
	assert_int_equal(nvs_gen_image_len(g), 0x4000 + 14);
	assert_int_equal(nvs_gen_finish(g, NULL, img, sizeof(img) - 1, &len, &err), NVS_ESIZE);
	assert_int_equal(nvs_gen_finish(g, NULL, img, sizeof(img), &len, &err), 0);
	assert_int_equal(len, 0x4000 + 14);
	/* page 0 is followed by 4 x 0xFF, page 1 by 2 zeros and 8 x 0xFF */
	assert_memory_equal(img + 0x1000, "\xff\xff\xff\xff\xfc\xff\xff\xff\x01\x00\x00\x00", 12);
	assert_memory_equal(img + 0x2004, "\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff\x02", 15);
	tu_sha256_hex(img, len, hex);
	assert_string_equal(hex, "664b2462221d2b0b214cd865d7519d4f287063297885a686ac64f16bafd41822");
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	assert_int_equal(nvs_gen_finish(g, key, img, 0x4000, &len, &err), 0);
	assert_int_equal(len, 0x4000);
	tu_sha256_hex(img, len, hex);
	assert_string_equal(hex, "3ee6e985466342a9654128cf533d263df5accfdba58f077baffa25d5c50e3558");
	/* reset forgets the growth */
	nvs_gen_reset(g);
	assert_int_equal(nvs_gen_image_len(g), 0x4000);
	nvs_gen_free(g);
}

/* re.match() anchors blob_fill(N;0xPP) at the start only: leading zeros in
 * N and text after ")" may make the encoding column as long as it likes
 * (nvs_partition_gen.py 0.2.0 accepts "blob_fill(" + "0" * 60 + "3;0xab)xyz"
 * and stores the same 3 bytes as for "blob_fill(3;0xab)"). */
static void test_nvs_gen_long_blob_fill_encoding(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	static uint8_t a[0x3000], b[0x3000];
	char enc[128];
	size_t la, lb;

	snprintf(enc, sizeof(enc), "BLOB_FILL(%060d;0xAB)xyz and more", 3);
	assert_true(strlen(enc) > 64);
	assert_int_equal(nvs_gen_new(&g, sizeof(a), NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "k", "data", "blob_fill(3;0xab)", "", 0, &err), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, a, sizeof(a), &la, &err), 0);
	nvs_gen_reset(g);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	if (nvs_gen_add_row(g, "k", "data", enc, "", 0, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(nvs_gen_finish(g, NULL, b, sizeof(b), &lb, &err), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	/* the data chunk after the namespace entry and the chunk header */
	assert_memory_equal(a + 64 + 64, "\xab\xab\xab\xff", 4);
	/* a long encoding that is not blob_fill is still unsupported */
	assert_int_equal(nvs_gen_add_row(g, "k", "data", "string                                                                 ",
					 "x", 1, &err),
			 NVS_EINPUT);
	nvs_gen_free(g);
}

/* Generators share nothing: threads building images at the same time get
 * the same bytes as one thread alone. */
struct thread_job {
	const uint8_t *want_plain, *want_enc;
	int failures;
};

static int build_image(struct nvs_gen *g, const uint8_t *key, uint8_t *out, size_t *len)
{
	struct nvs_err err;
	nvs_gen_reset(g);
	if (nvs_gen_add_row(g, "mass_prod", "namespace", NULL, NULL, 0, &err) ||
	    nvs_gen_add_row(g, "ProductID", "data", "string", "P-1", 3, &err) ||
	    nvs_gen_add_row(g, "DeviceSecret", "data", "string", "0123456789abcdef0123456789abcdef", 32, &err) ||
	    nvs_gen_add_row(g, "blob", "data", "hex2bin", "00112233", 8, &err))
		return -1;
	return nvs_gen_finish(g, key, out, 0x6000, len, &err);
}

static void *thread_main(void *arg)
{
	struct thread_job *job = arg;
	struct nvs_gen *g = NULL;
	struct nvs_err err;
	uint8_t key[NVS_XTS_KEY_LEN], *out = malloc(0x6000);
	size_t len;

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 3 + 1);
	if (!out || nvs_gen_new(&g, 0x6000, NVS_VERSION_2, &err) < 0) {
		job->failures++;
		free(out);
		return NULL;
	}
	for (int i = 0; i < 300; i++) {
		if (build_image(g, NULL, out, &len) || memcmp(out, job->want_plain, 0x6000))
			job->failures++;
		if (build_image(g, key, out, &len) || memcmp(out, job->want_enc, 0x6000))
			job->failures++;
	}
	nvs_gen_free(g);
	free(out);
	return NULL;
}

static void test_nvs_gen_threads_share_nothing(void **state)
{
	(void)state;
	static uint8_t plain[0x6000], enc[0x6000];
	struct thread_job jobs[4];
	pthread_t th[4];
	struct nvs_gen *g = NULL;
	struct nvs_err err;
	uint8_t key[NVS_XTS_KEY_LEN];
	size_t len;

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(nvs_gen_new(&g, 0x6000, NVS_VERSION_2, &err), 0);
	assert_int_equal(build_image(g, NULL, plain, &len), 0);
	assert_int_equal(build_image(g, key, enc, &len), 0);
	assert_memory_not_equal(plain, enc, 0x6000);
	nvs_gen_free(g);
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct thread_job){plain, enc, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].failures, 0);
	}
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
		cmocka_unit_test(test_nvs_gen_multibyte_key_entry_growth),
		cmocka_unit_test(test_nvs_gen_threads_share_nothing),
		cmocka_unit_test(test_nvs_gen_long_blob_fill_encoding),
		cmocka_unit_test(test_nvs_gen_grown_key_in_last_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
