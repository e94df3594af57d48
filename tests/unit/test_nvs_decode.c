/* Decoder tests: the reference's own images (../shared/golden/nvs) decoded
 * back to the values their CSVs hold, plus damaged copies of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "espfab/le.h"
#include "espfab/nvs_decode.h"

#define GOLDEN ESPFAB_SHARED_DIR "/golden/nvs/"

static uint8_t *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct nvs_decode *decode_ok(const uint8_t *img, size_t len, const uint8_t *key)
{
	struct nvs_decode *d = NULL;
	struct nvs_err err;
	int rc = nvs_decode_image(img, len, key, &d, &err);
	if (rc)
		fail_msg("decode failed: %s", err.msg);
	assert_non_null(d);
	return d;
}

static struct nvs_decode *decode_file(const char *path, const uint8_t *key)
{
	size_t len;
	uint8_t *img = load(path, &len);
	struct nvs_decode *d = decode_ok(img, len, key);
	free(img);
	return d;
}

static const struct nvs_decode_value *must_find(const struct nvs_decode *d, const char *ns, const char *key)
{
	const struct nvs_decode_value *v = nvs_decode_find(d, ns, key);
	if (!v)
		fail_msg("no value %s/%s", ns, key);
	return v;
}

static size_t count_kind(const struct nvs_decode *d, enum nvs_decode_problem_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < d->problem_count; i++)
		n += d->problems[i].kind == k;
	return n;
}

/* Recompute an entry's CRC after editing it, so only the edit is wrong. */
static void fix_entry_crc(uint8_t *e)
{
	uLong c = crc32(0xFFFFFFFFul, e, 4);
	c = crc32(c, e + 8, 24);
	le_put32(e + 4, (uint32_t)c);
}

static uint8_t *entry_at(uint8_t *img, unsigned page, unsigned slot)
{
	return img + page * NVS_PAGE_SIZE + NVS_DECODE_FIRST_ENTRY + slot * NVS_DECODE_ENTRY_SIZE;
}

static void test_nvs_decode_small_readonly(void **state)
{
	struct nvs_decode *d = decode_file(GOLDEN "050-size-0x1000-readonly/expected.bin", NULL);
	const struct nvs_decode_value *v;
	(void)state;
	assert_int_equal(d->size, 4096);
	assert_int_equal(d->page_count, 1);
	assert_int_equal(d->version, 2);
	assert_int_equal(d->problem_count, 0);
	assert_int_equal(d->pages[0].state, NVS_DECODE_PAGE_ACTIVE);
	assert_int_equal(d->pages[0].seq, 0);
	assert_true(d->pages[0].header_crc_ok);
	assert_int_equal(d->pages[0].written, 4);
	assert_int_equal(d->namespace_count, 1);
	assert_string_equal(d->namespaces[0].name, "storage");
	assert_int_equal(d->namespaces[0].index, 1);
	assert_int_equal(d->value_count, 2);
	v = must_find(d, "storage", "a");
	assert_int_equal(v->type, NVS_DECODE_U8);
	assert_int_equal(v->u, 1);
	assert_true(v->ok);
	v = must_find(d, "storage", "s");
	assert_int_equal(v->type, NVS_DECODE_STR);
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->data, "hi", 3);
	assert_null(nvs_decode_find(d, "storage", "nope"));
	assert_null(nvs_decode_find(d, "other", "a"));
	nvs_decode_free(d);
}

static void test_nvs_decode_integer_limits(void **state)
{
	struct nvs_decode *d = decode_file(GOLDEN "001-prim-unsigned-minmax/expected.bin", NULL);
	(void)state;
	assert_int_equal(d->problem_count, 0);
	assert_int_equal(must_find(d, "storage", "u8max")->u, 255);
	assert_int_equal(must_find(d, "storage", "u16max")->u, 65535);
	assert_int_equal(must_find(d, "storage", "u32max")->u, 4294967295u);
	assert_true(must_find(d, "storage", "u64max")->u == UINT64_MAX);
	assert_int_equal(must_find(d, "storage", "u32mid")->u, 305419896);
	assert_int_equal(must_find(d, "storage", "u64min")->type, NVS_DECODE_U64);
	nvs_decode_free(d);

	d = decode_file(GOLDEN "002-prim-signed-minmax/expected.bin", NULL);
	assert_int_equal(d->problem_count, 0);
	assert_true(must_find(d, "storage", "i8min")->i == -128);
	assert_true(must_find(d, "storage", "i8neg1")->i == -1);
	assert_int_equal(must_find(d, "storage", "i8neg1")->u, 0xFF);
	assert_true(must_find(d, "storage", "i16min")->i == -32768);
	assert_true(must_find(d, "storage", "i16neg")->i == -2);
	assert_true(must_find(d, "storage", "i32min")->i == INT32_MIN);
	assert_true(must_find(d, "storage", "i32neg")->i == -100000);
	assert_true(must_find(d, "storage", "i64min")->i == INT64_MIN);
	assert_true(must_find(d, "storage", "i64max")->i == INT64_MAX);
	assert_true(must_find(d, "storage", "i64neg")->i == -1);
	assert_int_equal(must_find(d, "storage", "i32max")->type, NVS_DECODE_I32);
	nvs_decode_free(d);
}

static void test_nvs_decode_v2_blob_reassembled(void **state)
{
	size_t blen;
	uint8_t *blob = load(GOLDEN "036-blob-v2-multipage/blob.bin", &blen);
	struct nvs_decode *d = decode_file(GOLDEN "036-blob-v2-multipage/expected.bin", NULL);
	const struct nvs_decode_value *v;
	(void)state;
	assert_int_equal(d->problem_count, 0);
	assert_int_equal(d->pages[0].state, NVS_DECODE_PAGE_FULL);
	assert_int_equal(d->pages[2].state, NVS_DECODE_PAGE_ACTIVE);
	assert_int_equal(d->pages[2].seq, 2);
	assert_int_equal(d->pages[3].state, NVS_DECODE_PAGE_EMPTY);
	v = must_find(d, "storage", "blob");
	assert_int_equal(v->type, NVS_DECODE_BLOB_IDX);
	assert_int_equal(v->chunks, 3);
	assert_true(v->ok);
	assert_int_equal(v->len, blen);
	assert_memory_equal(v->data, blob, blen);
	assert_int_equal(must_find(d, "storage", "pre")->u, 1);
	assert_int_equal(must_find(d, "storage", "post")->u, 2);
	nvs_decode_free(d);
	free(blob);
}

static void test_nvs_decode_v1_blob(void **state)
{
	size_t blen;
	uint8_t *blob = load(GOLDEN "041-blob-v1/b2.bin", &blen);
	struct nvs_decode *d = decode_file(GOLDEN "041-blob-v1/expected.bin", NULL);
	const struct nvs_decode_value *v;
	(void)state;
	assert_int_equal(d->version, 1);
	assert_int_equal(d->problem_count, 0);
	v = must_find(d, "storage", "b2");
	assert_int_equal(v->type, NVS_DECODE_BLOB);
	assert_int_equal(v->len, blen);
	assert_memory_equal(v->data, blob, blen);
	v = must_find(d, "storage", "b1");
	assert_int_equal(v->type, NVS_DECODE_BLOB);
	assert_memory_equal(v->data, "\x4d\x53\x6a\x40", 4);
	v = must_find(d, "storage", "s");
	assert_memory_equal(v->data, "v1 string", 10);
	nvs_decode_free(d);
	free(blob);
}

static void test_nvs_decode_encrypted_equals_plain(void **state)
{
	size_t klen, blen;
	uint8_t *key = load(GOLDEN "104-enc-decrypt-roundtrip/nvs_keys.bin", &klen);
	uint8_t *blob = load(GOLDEN "089-enc-v2-multipage/blob.bin", &blen);
	struct nvs_decode *enc = decode_file(GOLDEN "089-enc-v2-multipage/expected.bin", key);
	struct nvs_decode *plain = decode_file(GOLDEN "105-plain-of-enc-multipage/expected.bin", NULL);
	const struct nvs_decode_value *v;
	(void)state;
	assert_true(enc->encrypted);
	assert_int_equal(enc->problem_count, 0);
	assert_int_equal(plain->problem_count, 0);
	assert_int_equal(enc->value_count, plain->value_count);
	assert_true(enc->value_count > 10);
	for (size_t i = 0; i < enc->value_count; i++) {
		const struct nvs_decode_value *a = &enc->values[i], *b = &plain->values[i];
		assert_string_equal(a->key, b->key);
		assert_int_equal(a->type, b->type);
		assert_true(a->u == b->u);
		assert_int_equal(a->len, b->len);
		if (a->len)
			assert_memory_equal(a->data, b->data, a->len);
	}
	v = must_find(enc, "storage", "blob");
	assert_int_equal(v->len, blen);
	assert_memory_equal(v->data, blob, blen);
	assert_int_equal(must_find(enc, "storage", "after")->i, -5);
	assert_int_equal(must_find(enc, "storage", "k027")->u, 27);
	nvs_decode_free(enc);
	nvs_decode_free(plain);
	free(blob);
	free(key);
}

static void test_nvs_decode_encrypted_without_key_reports_crc(void **state)
{
	struct nvs_decode *d = decode_file(GOLDEN "089-enc-v2-multipage/expected.bin", NULL);
	(void)state;
	assert_false(d->encrypted);
	assert_int_equal(d->value_count, 0);
	assert_true(count_kind(d, NVS_DECODE_P_ENTRY_CRC) > 100);
	/* page headers are in clear */
	assert_true(d->pages[0].header_crc_ok);
	nvs_decode_free(d);
}

static void test_nvs_decode_wrong_key_reports_crc(void **state)
{
	uint8_t key[NVS_XTS_KEY_LEN];
	struct nvs_decode *d;
	(void)state;
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);
	d = decode_file(GOLDEN "087-enc-v2-small/expected.bin", key);
	assert_int_equal(d->value_count, 0);
	assert_true(count_kind(d, NVS_DECODE_P_ENTRY_CRC) > 0);
	nvs_decode_free(d);
}

static void test_nvs_decode_damage_reported(void **state)
{
	size_t len;
	uint8_t *img = load(GOLDEN "050-size-0x1000-readonly/expected.bin", &len);
	struct nvs_decode *d;
	(void)state;
	/* string payload byte: data CRC */
	entry_at(img, 0, 3)[0] ^= 0x01;
	/* u8 value: entry CRC */
	entry_at(img, 0, 1)[24] = 7;
	/* header reserved byte: header CRC */
	img[12] = 0x00;
	d = decode_ok(img, len, NULL);
	assert_int_equal(count_kind(d, NVS_DECODE_P_DATA_CRC), 1);
	assert_int_equal(count_kind(d, NVS_DECODE_P_ENTRY_CRC), 1);
	assert_int_equal(count_kind(d, NVS_DECODE_P_HEADER_CRC), 1);
	assert_false(d->pages[0].header_crc_ok);
	assert_null(nvs_decode_find(d, "storage", "a"));
	assert_false(must_find(d, "storage", "s")->ok);
	assert_memory_equal(must_find(d, "storage", "s")->data, "ii", 2);
	assert_int_equal(d->problems[0].page, 0);
	nvs_decode_free(d);
	free(img);
}

static void test_nvs_decode_rejects_wrong_length(void **state)
{
	static uint8_t img[2 * NVS_PAGE_SIZE];
	struct nvs_decode *d = (struct nvs_decode *)1;
	struct nvs_err err;
	(void)state;
	memset(img, 0xFF, sizeof(img));
	assert_int_equal(nvs_decode_image(img, 5000, NULL, &d, &err), NVS_EIMAGE);
	assert_null(d);
	assert_int_equal(err.code, NVS_EIMAGE);
	assert_non_null(strstr(err.msg, "5000 bytes"));
	assert_int_equal(nvs_decode_image(img, 0, NULL, &d, &err), NVS_EIMAGE);
	assert_int_equal(nvs_decode_image(img, 4095, NULL, &d, &err), NVS_EIMAGE);
	/* a blank partition decodes to nothing */
	d = decode_ok(img, sizeof(img), NULL);
	assert_int_equal(d->version, 0);
	assert_int_equal(d->item_count, 0);
	assert_int_equal(d->problem_count, 0);
	assert_int_equal(d->pages[1].state, NVS_DECODE_PAGE_EMPTY);
	nvs_decode_free(d);
}

static void test_nvs_decode_rejects_bad_span(void **state)
{
	size_t len;
	uint8_t *img = load(GOLDEN "050-size-0x1000-readonly/expected.bin", &len);
	struct nvs_decode *d = NULL;
	struct nvs_err err;
	uint8_t *e = entry_at(img, 0, 2);
	(void)state;
	e[2] = 200; /* string span past the page, CRC made consistent */
	fix_entry_crc(e);
	assert_int_equal(nvs_decode_image(img, len, NULL, &d, &err), NVS_EIMAGE);
	assert_null(d);
	assert_non_null(strstr(err.msg, "page 0 entry 2 (offset 0x80)"));
	assert_non_null(strstr(err.msg, "span 200"));

	e[2] = 0;
	fix_entry_crc(e);
	assert_int_equal(nvs_decode_image(img, len, NULL, &d, &err), NVS_EIMAGE);

	/* size larger than the span can hold */
	e[2] = 2;
	e[24] = 33;
	fix_entry_crc(e);
	assert_int_equal(nvs_decode_image(img, len, NULL, &d, &err), NVS_EIMAGE);
	assert_non_null(strstr(err.msg, "size 33"));

	/* the same bad span with a bad CRC is only reported; like the device,
	 * the walk goes on at the next entry (whose payload bytes fail too) */
	e[2] = 200;
	d = decode_ok(img, len, NULL);
	assert_true(count_kind(d, NVS_DECODE_P_ENTRY_CRC) >= 1);
	assert_int_equal(d->problems[0].kind, NVS_DECODE_P_ENTRY_CRC);
	assert_int_equal(d->problems[0].slot, 2);
	assert_int_equal(d->problems[0].offset, 0x80);
	assert_int_equal(must_find(d, "storage", "a")->u, 1);
	assert_null(nvs_decode_find(d, "storage", "s"));
	nvs_decode_free(d);
	free(img);
}

static void test_nvs_decode_missing_chunk(void **state)
{
	size_t len;
	uint8_t *img = load(GOLDEN "036-blob-v2-multipage/expected.bin", &len);
	struct nvs_decode *d;
	(void)state;
	/* page 1 holds chunk 1 only: mark its first entry erased (bits 00) */
	img[NVS_PAGE_SIZE + 32] &= 0xFC;
	d = decode_ok(img, len, NULL);
	assert_int_equal(count_kind(d, NVS_DECODE_P_BLOB), 1);
	assert_false(must_find(d, "storage", "blob")->ok);
	assert_int_equal(must_find(d, "storage", "blob")->chunks, 2);
	assert_int_equal(must_find(d, "storage", "blob")->len, 3936 + 2064);
	assert_int_equal(d->pages[1].erased, 1);
	nvs_decode_free(d);
	free(img);
}

static void test_nvs_decode_duplicates_active_page(void **state)
{
	struct nvs_decode *d = decode_file(GOLDEN "034-duplicate-keys/expected.bin", NULL);
	const struct nvs_decode_value *v;
	(void)state;
	/* k=1, k=2, k="x" on one ACTIVE page: the device keeps the last */
	v = must_find(d, "storage", "k");
	assert_int_equal(v->type, NVS_DECODE_STR);
	assert_memory_equal(v->data, "x", 2);
	assert_int_equal(count_kind(d, NVS_DECODE_P_DUPLICATE), 2);
	nvs_decode_free(d);
}

static void test_nvs_decode_reference_quirks_reported(void **state)
{
	/* binary-from-data: the reference's size counts characters, so the
	 * data CRC does not match the UTF-8 bytes it wrote */
	struct nvs_decode *d = decode_file(GOLDEN "027-binary-from-data/expected.bin", NULL);
	(void)state;
	assert_int_equal(count_kind(d, NVS_DECODE_P_DATA_CRC), 1);
	nvs_decode_free(d);
	/* namespace index 255 is reserved by the device */
	d = decode_file(GOLDEN "065-namespaces-255/expected.bin", NULL);
	assert_true(count_kind(d, NVS_DECODE_P_NAMESPACE) >= 1);
	assert_int_equal(d->namespace_count, 254);
	nvs_decode_free(d);
}

static void test_nvs_decode_every_golden_image(void **state)
{
	/* Every image the reference wrote decodes without being rejected. */
	static const char *cases[] = {"011-string-basic",      "013-string-3968-bytes-fits", "023-base64",
				      "037-blob-v2-many-chunks", "039-blob-v2-slot-125",     "043-v1-mixed-multipage",
				      "048-size-1mib",         "064-namespaces-254",        "067-wifi-sta",
				      "068-wifi-ap",           "080-csv-header-only"};
	char path[512];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nvs_decode *d;
		snprintf(path, sizeof(path), GOLDEN "%s/expected.bin", cases[i]);
		d = decode_file(path, NULL);
		if (d->problem_count)
			fail_msg("%s: %s", cases[i], d->problems[0].msg);
		nvs_decode_free(d);
	}
}

/* The key a golden case's image was encrypted with, from its cmd line:
 * --inputkey FILE, or keys/nvs_keys.bin written by --keygen. NULL: plain. */
static uint8_t *golden_key(const char *dir)
{
	char path[600], cmd[1024], *p;
	size_t len;
	uint8_t *key = NULL;
	FILE *f;
	snprintf(path, sizeof(path), GOLDEN "%s/cmd", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	if (!fgets(cmd, sizeof(cmd), f))
		cmd[0] = '\0';
	fclose(f);
	if (strncmp(cmd, "encrypt ", 8))
		return NULL;
	if ((p = strstr(cmd, "--inputkey "))) {
		char name[256];
		assert_int_equal(sscanf(p + 11, "%255s", name), 1);
		snprintf(path, sizeof(path), GOLDEN "%s/%s", dir, name);
	} else {
		snprintf(path, sizeof(path), GOLDEN "%s/keys/nvs_keys.bin", dir);
	}
	key = load(path, &len);
	assert_true(len >= NVS_XTS_KEY_LEN);
	return key;
}

static void test_nvs_decode_all_golden_images(void **state)
{
	/* Every image the reference wrote decodes (encrypted ones with their
	 * key) and is clean, except where the reference itself is wrong. */
	static const struct {
		const char *prefix;
		enum nvs_decode_problem_kind kind;
		size_t count;
	} quirks[] = {
		{"027-", NVS_DECODE_P_DATA_CRC, 1},  /* size counts characters */
		{"034-", NVS_DECODE_P_DUPLICATE, 2}, /* the same key three times */
		{"063-", NVS_DECODE_P_DUPLICATE, 1}, /* two long keys cut to the same 16 bytes */
		{"065-", NVS_DECODE_P_NAMESPACE, 1}, /* namespace index 255 */
		{"070-", NVS_DECODE_P_DUPLICATE, 2}, /* ap.* written again */
	};
	DIR *dir = opendir(GOLDEN);
	struct dirent *e;
	unsigned images = 0, encrypted = 0;
	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		char path[600];
		size_t len, want = 0;
		uint8_t *img, *key;
		struct nvs_decode *d;
		int quirk = -1;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), GOLDEN "%s/expected.bin", e->d_name);
		if (access(path, R_OK))
			continue;
		img = load(path, &len);
		key = golden_key(e->d_name);
		d = decode_ok(img, len, key);
		for (size_t q = 0; q < sizeof(quirks) / sizeof(quirks[0]); q++)
			if (!strncmp(e->d_name, quirks[q].prefix, 4))
				quirk = (int)q;
		if (quirk >= 0) {
			want = quirks[quirk].count;
			if (count_kind(d, quirks[quirk].kind) < want)
				fail_msg("%s: expected %zu %s problems", e->d_name, want,
					 nvs_decode_problem_name(quirks[quirk].kind));
		} else if (d->problem_count) {
			fail_msg("%s: %s", e->d_name, d->problems[0].msg);
		}
		/* only the header-only and empty CSVs give an image without values */
		if (!d->value_count && strncmp(e->d_name, "080-", 4) && strncmp(e->d_name, "081-", 4))
			fail_msg("%s: no values decoded", e->d_name);
		images++;
		encrypted += key != NULL;
		nvs_decode_free(d);
		free(key);
		free(img);
	}
	closedir(dir);
	assert_true(images >= 60);
	assert_true(encrypted >= 10);
}

static void test_nvs_decode_names(void **state)
{
	(void)state;
	assert_string_equal(nvs_decode_type_name(NVS_DECODE_I16), "i16");
	assert_string_equal(nvs_decode_type_name(NVS_DECODE_BLOB_IDX), "blob_index");
	assert_null(nvs_decode_type_name(0x33));
	assert_true(nvs_decode_type_is_int(NVS_DECODE_U64));
	assert_false(nvs_decode_type_is_int(NVS_DECODE_STR));
	assert_string_equal(nvs_decode_page_state_name(NVS_DECODE_PAGE_FREEING), "FREEING");
	assert_string_equal(nvs_decode_problem_name(NVS_DECODE_P_DATA_CRC), "data_crc");
	nvs_decode_free(NULL);
}

/* ---- espfab nvs dump ---------------------------------------------------- */

/* Runs `espfab nvs dump ARGS`, stdout to *out (malloc'd), stderr to *errout. */
static int dump_cli(const char *args, char **out, char **errout)
{
	char cmd[2048], opath[] = "/tmp/test_nvs_dump.XXXXXX", epath[] = "/tmp/test_nvs_dump_err.XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath), st;
	size_t len;
	assert_true(ofd >= 0 && efd >= 0);
	close(ofd);
	close(efd);
	snprintf(cmd, sizeof(cmd), "'" ESPFAB_BIN_DIR "/espfab' nvs dump %s >%s 2>%s", args, opath, epath);
	st = system(cmd);
	*out = (char *)load(opath, &len);
	(*out)[len] = '\0';
	*errout = (char *)load(epath, &len);
	(*errout)[len] = '\0';
	unlink(opath);
	unlink(epath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *find_value(json_t *root, const char *key)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "values"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "key")), key))
			return v;
	fail_msg("no value %s in the JSON", key);
	return NULL;
}

static void test_nvs_decode_cli_json(void **state)
{
	char *out, *errout;
	json_error_t jerr;
	json_t *root, *v;
	size_t blen;
	uint8_t *blob = load(GOLDEN "036-blob-v2-multipage/blob.bin", &blen);
	char *hex = malloc(2 * blen + 1);
	(void)state;
	assert_int_equal(dump_cli("--json " GOLDEN "036-blob-v2-multipage/expected.bin", &out, &errout), 0);
	root = json_loads(out, 0, &jerr);
	if (!root)
		fail_msg("not JSON: %s", jerr.text);
	assert_int_equal(json_integer_value(json_object_get(root, "version")), 2);
	assert_int_equal(json_array_size(json_object_get(root, "pages")), 6);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(root, "pages"), 0), "state")),
			    "FULL");
	assert_int_equal(json_array_size(json_object_get(root, "problems")), 0);
	v = find_value(root, "pre");
	assert_int_equal(json_integer_value(json_object_get(v, "value")), 1);
	assert_string_equal(json_string_value(json_object_get(v, "namespace")), "storage");
	v = find_value(root, "blob");
	assert_string_equal(json_string_value(json_object_get(v, "type")), "blob");
	assert_int_equal(json_integer_value(json_object_get(v, "chunks")), 3);
	for (size_t i = 0; i < blen; i++)
		sprintf(hex + 2 * i, "%02x", blob[i]);
	assert_string_equal(json_string_value(json_object_get(v, "hex")), hex);
	json_decref(root);
	free(out);
	free(errout);

	/* unsigned 64-bit maximum does not fit a JSON integer: a string */
	assert_int_equal(dump_cli("--json " GOLDEN "001-prim-unsigned-minmax/expected.bin", &out, &errout), 0);
	root = json_loads(out, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(find_value(root, "u64max"), "value")),
			    "18446744073709551615");
	assert_int_equal(json_integer_value(json_object_get(find_value(root, "u32max"), "value")), 4294967295ll);
	json_decref(root);
	free(out);
	free(errout);
	free(hex);
	free(blob);
}

static void test_nvs_decode_cli_listing_and_status(void **state)
{
	char *out, *errout;
	char tmp[] = "/tmp/test_nvs_dump_img.XXXXXX";
	size_t len;
	uint8_t *img;
	FILE *f;
	int fd;
	(void)state;
	/* encrypted: values only with the key file */
	assert_int_equal(dump_cli(GOLDEN "087-enc-v2-small/expected.bin --keyfile " GOLDEN
				  "087-enc-v2-small/nvs_keys.bin",
				  &out, &errout),
			 0);
	assert_non_null(strstr(out, "encrypted"));
	assert_non_null(strstr(out, "problems: none"));
	free(out);
	free(errout);
	assert_int_equal(dump_cli(GOLDEN "087-enc-v2-small/expected.bin", &out, &errout), 3);
	assert_non_null(strstr(errout, "try --keyfile"));
	free(out);
	free(errout);

	/* strings shown, damage reported with exit status 3 */
	img = load(GOLDEN "050-size-0x1000-readonly/expected.bin", &len);
	assert_int_equal(dump_cli(GOLDEN "050-size-0x1000-readonly/expected.bin", &out, &errout), 0);
	assert_non_null(strstr(out, "storage/s  string  \"hi\""));
	assert_non_null(strstr(out, "page 0: ACTIVE (0xfffffffe) seq 0"));
	free(out);
	free(errout);
	entry_at(img, 0, 3)[1] ^= 0x20;
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	fwrite(img, 1, len, f);
	fclose(f);
	{
		char args[256];
		snprintf(args, sizeof(args), "%s", tmp);
		assert_int_equal(dump_cli(args, &out, &errout), 3);
		assert_non_null(strstr(out, "data_crc: page 0 entry 2 key 's'"));
		assert_non_null(strstr(errout, "1 problem"));
		free(out);
		free(errout);
		/* truncated: one line naming the size, exit 1 */
		assert_int_equal(truncate(tmp, 4000), 0);
		assert_int_equal(dump_cli(args, &out, &errout), 1);
		assert_non_null(strstr(errout, "4000 bytes"));
		assert_int_equal(strchr(errout, '\n') - errout + 1, (long)strlen(errout));
		free(out);
		free(errout);
	}
	unlink(tmp);
	free(img);
	assert_int_equal(dump_cli("/nonexistent.bin", &out, &errout), 1);
	assert_non_null(strstr(errout, "No such file"));
	free(out);
	free(errout);
	assert_int_equal(dump_cli("", &out, &errout), 2);
	free(out);
	free(errout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_decode_small_readonly),
		cmocka_unit_test(test_nvs_decode_integer_limits),
		cmocka_unit_test(test_nvs_decode_v2_blob_reassembled),
		cmocka_unit_test(test_nvs_decode_v1_blob),
		cmocka_unit_test(test_nvs_decode_encrypted_equals_plain),
		cmocka_unit_test(test_nvs_decode_encrypted_without_key_reports_crc),
		cmocka_unit_test(test_nvs_decode_wrong_key_reports_crc),
		cmocka_unit_test(test_nvs_decode_damage_reported),
		cmocka_unit_test(test_nvs_decode_rejects_wrong_length),
		cmocka_unit_test(test_nvs_decode_rejects_bad_span),
		cmocka_unit_test(test_nvs_decode_missing_chunk),
		cmocka_unit_test(test_nvs_decode_duplicates_active_page),
		cmocka_unit_test(test_nvs_decode_reference_quirks_reported),
		cmocka_unit_test(test_nvs_decode_every_golden_image),
		cmocka_unit_test(test_nvs_decode_all_golden_images),
		cmocka_unit_test(test_nvs_decode_names),
		cmocka_unit_test(test_nvs_decode_cli_json),
		cmocka_unit_test(test_nvs_decode_cli_listing_and_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
