/* The store reproduces mfg_gen: a product from a golden case's config, its
 * values imported, each record claimed and turned into its NVS image, which
 * must equal mfg_gen's own per-device binary byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <espfab/nvs.h>

#include "store_testutil.h"

struct mfg_case {
	const char *dir;
	uint32_t size;
	int version;
	const char *id_column;  /* --fileid */
	const char *keyfile;    /* --inputkey */
	const char *bins[4];    /* out/bin files in values order */
};

static const struct mfg_case cases[] = {
	{"001-basic", 0x6000, 2, NULL, NULL, {"dev-1.bin", "dev-2.bin", "dev-3.bin"}},
	{"002-repeat-fileid", 0x6000, 2, "serial", NULL, {"fab-SN1001.bin", "fab-SN1002.bin"}},
	{"003-prefix-num", 0x3000, 2, NULL, NULL, {"unit-0007-1.bin", "unit-0008-2.bin", "unit-0009-3.bin"}},
	{"004-encrypted-inputkey", 0x6000, 2, NULL, "nvs_keys.bin", {"sec-1.bin", "sec-2.bin", "sec-3.bin"}},
	{"005-v1", 0x4000, 1, NULL, NULL, {"v1-1.bin", "v1-2.bin", "v1-3.bin"}},
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	} else {
		b[n] = 0;
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

static void run_case(const struct mfg_case *c)
{
	char dir[1024], path[1200];
	char *tmp = tu_tmpdir(), *db = tu_db(tmp, "m.db");
	struct store *s = NULL;
	struct store_err err = {0};
	size_t len;

	snprintf(dir, sizeof(dir), "%s/golden/mfg/%s", ESPFAB_SHARED_DIR, c->dir);
	snprintf(path, sizeof(path), "%s/config.csv", dir);
	char *cfg = slurp(path, &len);
	if (!cfg)
		skip(); /* no golden vectors on this machine */
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	struct store_product_spec spec = {.name = c->dir, .config_csv = cfg, .config_len = len,
					  .config_source = "config.csv", .part_table = tu_table,
					  .part_table_len = sizeof(tu_table), .part_label = "nvs",
					  .part_offset = 0x9000, .part_size = c->size, .nvs_version = c->version};
	if (store_product_add(s, &spec, &err))
		fail_msg("%s: %s", c->dir, err.msg);
	snprintf(path, sizeof(path), "%s/values.csv", dir);
	char *vals = slurp(path, &len);
	assert_non_null(vals);
	struct store_import_opts o = {.product = c->dir, .source = "values.csv", .base_dir = dir,
				      .id_column = c->id_column};
	if (store_import_csv(s, &o, vals, len, NULL, &err))
		fail_msg("%s: %s", c->dir, err.msg);
	uint8_t key[NVS_XTS_KEY_LEN];
	if (c->keyfile) {
		struct nvs_err ne = {0};
		snprintf(path, sizeof(path), "%s/%s", dir, c->keyfile);
		char *kf = slurp(path, &len);
		assert_non_null(kf);
		assert_int_equal(nvs_keyfile_parse((const uint8_t *)kf, len, key, &ne), 0);
		free(kf);
	}
	uint8_t *img = malloc(c->size);
	for (int i = 0; i < 4 && c->bins[i]; i++) {
		char mac[32];
		snprintf(mac, sizeof(mac), "02:00:00:00:00:%02x", i);
		struct store_claim_req req = {.product = c->dir, .station = "st", .port = "p", .mac = mac};
		struct store_record *r = NULL;
		assert_int_equal(store_claim(s, &req, &r, &err), 0);
		size_t ilen = 0;
		if (store_record_image(r, c->keyfile ? key : NULL, img, c->size, &ilen, &err))
			fail_msg("%s: %s", c->dir, err.msg);
		snprintf(path, sizeof(path), "%s/out/bin/%s", dir, c->bins[i]);
		size_t elen = 0;
		char *want = slurp(path, &elen);
		assert_non_null(want);
		assert_int_equal(ilen, elen);
		if (memcmp(img, want, elen))
			fail_msg("%s: record %s differs from %s", c->dir, r->record_id, c->bins[i]);
		free(want);
		store_record_free(r);
	}
	/* a buffer smaller than the partition is refused */
	struct store_claim_req again = {.product = c->dir, .station = "st", .port = "p", .mac = "02:00:00:00:00:00"};
	struct store_record *r = NULL;
	assert_int_equal(store_claim(s, &again, &r, &err), 0);
	size_t ilen;
	assert_int_equal(store_record_image(r, NULL, img, c->size - 1, &ilen, &err), STORE_EINPUT);
	store_record_free(r);
	free(img);
	free(vals);
	free(cfg);
	store_close(s);
	free(db);
	tu_rmrf(tmp);
}

static void test_store_mfg_basic(void **state) { (void)state; run_case(&cases[0]); }
static void test_store_mfg_repeat_file_fileid(void **state) { (void)state; run_case(&cases[1]); }
static void test_store_mfg_small_partition(void **state) { (void)state; run_case(&cases[2]); }
static void test_store_mfg_encrypted(void **state) { (void)state; run_case(&cases[3]); }
static void test_store_mfg_v1(void **state) { (void)state; run_case(&cases[4]); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_mfg_basic),
		cmocka_unit_test(test_store_mfg_repeat_file_fileid),
		cmocka_unit_test(test_store_mfg_small_partition),
		cmocka_unit_test(test_store_mfg_encrypted),
		cmocka_unit_test(test_store_mfg_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
