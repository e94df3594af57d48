/* The store's firmware images (schema 003): added with the product in one
 * transaction, loaded with their bytes, listed without them, immutable, and
 * a version-2 database migrates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "espfab/fwimg.h"
#include "espfab/part.h"
#include "store_testutil.h"

struct fixture {
	char *dir, *db;
	struct store *s;
	struct store_err err;
	uint8_t table[PART_TABLE_MAX_LEN];
};

static const char table_csv[] = "nvs,data,nvs,0x9000,0x6000,\n"
				"factory,app,factory,0x10000,1M,\n";

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err pe;

	f->dir = tu_tmpdir();
	f->db = tu_path(f->dir, "store.db");
	part_opts_init(&o);
	assert_int_equal(part_csv_parse((const uint8_t *)table_csv, strlen(table_csv), &o, &t, &pe), 0);
	assert_int_equal(part_bin_write(t, &o, f->table, &pe), 0);
	part_table_free(t);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	free(f->db);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

static uint8_t *bytes(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * seed + seed);
	return b;
}

/* bootloader 4 KiB at 0, table at 0x8000, app 8 KiB at 0x10000. */
static struct fwimg_set *make_set(struct fixture *f, uint32_t extra_off)
{
	struct fwimg_set *set = NULL;
	struct fwimg_err fe;
	uint8_t *t = malloc(sizeof(f->table));

	memcpy(t, f->table, sizeof(f->table));
	assert_int_equal(fwimg_set_new("esp32s3", &set, &fe), 0);
	assert_int_equal(fwimg_set_add(set, 0x10000, "app", "app.bin", bytes(8192, 13), 8192, &fe), 0);
	assert_int_equal(fwimg_set_add(set, 0x0, "bootloader", "bootloader/bootloader.bin", bytes(4096, 7), 4096, &fe),
			 0);
	assert_int_equal(fwimg_set_add(set, 0x8000, "partition-table", "partition_table/partition-table.bin", t,
				       sizeof(f->table), &fe),
			 0);
	if (extra_off)
		assert_int_equal(fwimg_set_add(set, extra_off, "extra.bin", "extra.bin", bytes(4096, 3), 4096, &fe), 0);
	assert_int_equal(fwimg_set_check(set, "flasher_args.json", &fe), 0);
	return set;
}

static int add(struct fixture *f, const char *name, const struct fwimg_set *fw)
{
	struct store_product_spec spec = {
		.name = name,
		.config_csv = tu_config,
		.config_len = strlen(tu_config),
		.config_source = "config.csv",
		.part_table = f->table,
		.part_table_len = sizeof(f->table),
		.part_label = "nvs",
		.part_offset = 0x9000,
		.part_size = 0x6000,
		.nvs_version = 2,
		.firmware = fw,
		.firmware_source = "build/flasher_args.json",
	};
	memset(&f->err, 0, sizeof(f->err));
	return store_product_add(f->s, &spec, &f->err);
}

static void test_store_firmware_add_and_load(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = make_set(f, 0), *got = NULL;
	struct store_product *p = NULL;
	json_t *q = NULL;

	assert_int_equal(store_open(&f->s, f->db, STORE_OPEN_CREATE, NULL, &f->err), 0);
	assert_int_equal(add(f, "lamp", set), 0);
	assert_int_equal(add(f, "plain", NULL), 0);
	assert_int_equal(store_product_get(f->s, "lamp", &p, &f->err), 0);
	assert_string_equal(p->chip, "esp32s3");
	assert_int_equal(p->n_images, 3);
	assert_int_equal(store_product_firmware(f->s, p->id, &got, &f->err), 0);
	assert_non_null(got);
	assert_string_equal(got->chip, "esp32s3");
	assert_int_equal(got->n, 3);
	assert_int_equal(got->total, set->total);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(got->images[i].offset, set->images[i].offset);
		assert_string_equal(got->images[i].name, set->images[i].name);
		assert_string_equal(got->images[i].file, set->images[i].file);
		assert_int_equal(got->images[i].len, set->images[i].len);
		assert_memory_equal(got->images[i].data, set->images[i].data, set->images[i].len);
		assert_string_equal(got->images[i].sha256, set->images[i].sha256);
	}
	fwimg_set_unref(got);
	store_product_free(p);
	/* Without images: none, and no error. */
	assert_int_equal(store_product_get(f->s, "plain", &p, &f->err), 0);
	assert_int_equal(p->n_images, 0);
	assert_string_equal(p->chip, "");
	got = (struct fwimg_set *)&got;
	assert_int_equal(store_product_firmware(f->s, p->id, &got, &f->err), 0);
	assert_null(got);
	store_product_free(p);
	/* The listing: offsets, names, files, sizes, digests; never the bytes. */
	assert_int_equal(store_product_query(f->s, "lamp", &q, &f->err), 0);
	json_t *fw = json_object_get(json_array_get(json_object_get(q, "products"), 0), "firmware");
	assert_string_equal(json_string_value(json_object_get(fw, "chip")), "esp32s3");
	json_t *img = json_array_get(json_object_get(fw, "images"), 2);
	assert_int_equal(json_integer_value(json_object_get(img, "offset")), 0x10000);
	assert_string_equal(json_string_value(json_object_get(img, "name")), "app");
	assert_string_equal(json_string_value(json_object_get(img, "file")), "app.bin");
	assert_int_equal(json_integer_value(json_object_get(img, "size")), 8192);
	assert_string_equal(json_string_value(json_object_get(img, "sha256")), set->images[2].sha256);
	assert_null(json_object_get(img, "data"));
	json_decref(q);
	assert_int_equal(store_product_query(f->s, "plain", &q, &f->err), 0);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(q, "products"), 0), "firmware")));
	json_decref(q);
	fwimg_set_unref(set);
}

static void test_store_firmware_checked_and_atomic(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = make_set(f, 0xa000); /* inside the NVS partition */
	json_t *q = NULL;

	assert_int_equal(store_open(&f->s, f->db, STORE_OPEN_CREATE, NULL, &f->err), 0);
	assert_int_equal(add(f, "lamp", set), STORE_EINPUT);
	assert_non_null(strstr(f->err.msg, "build/flasher_args.json: flash_files.0xa000: extra.bin"));
	assert_non_null(strstr(f->err.msg, "overlaps the NVS partition"));
	/* Nothing of it stored. */
	assert_int_equal(store_product_query(f->s, NULL, &q, &f->err), 0);
	assert_int_equal(json_array_size(json_object_get(q, "products")), 0);
	json_decref(q);
	fwimg_set_unref(set);
	/* A failure after the images went in (a bad config) leaves none behind. */
	set = make_set(f, 0);
	struct store_product_spec spec = {.name = "lamp", .config_csv = "x,bogus,y\n", .config_len = 10,
					  .config_source = "config.csv", .part_table = f->table,
					  .part_table_len = sizeof(f->table), .part_label = "nvs", .part_offset = 0x9000,
					  .part_size = 0x6000, .nvs_version = 2, .firmware = set};
	assert_int_equal(store_product_add(f->s, &spec, &f->err), STORE_EINPUT);
	sqlite3 *raw = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "SELECT count(*) FROM product_images", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	fwimg_set_unref(set);
}

static void expect_refused(sqlite3 *raw, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(raw, sql, NULL, NULL, &msg);

	if (rc == SQLITE_OK)
		fail_msg("'%s' was accepted", sql);
	sqlite3_free(msg);
}

static void test_store_firmware_immutable(void **state)
{
	struct fixture *f = *state;
	struct fwimg_set *set = make_set(f, 0), *got = NULL;
	sqlite3 *raw = NULL;

	assert_int_equal(store_open(&f->s, f->db, STORE_OPEN_CREATE, NULL, &f->err), 0);
	assert_int_equal(add(f, "lamp", set), 0);
	assert_int_equal(add(f, "plain", NULL), 0);
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	expect_refused(raw, "UPDATE product_images SET data = zeroblob(4096) WHERE flash_offset = 0");
	expect_refused(raw, "DELETE FROM product_images");
	expect_refused(raw, "INSERT INTO product_images (product_id, flash_offset, name, file, size, sha256, data) "
			    "SELECT id, 0x200000, 'x', 'x', 1, printf('%064d', 0), x'00' FROM products WHERE name='lamp'");
	/* REPLACE would delete the old row without a DELETE trigger. */
	expect_refused(raw, "INSERT OR REPLACE INTO product_images (product_id, flash_offset, name, file, size, "
			    "sha256, data) SELECT id, 0x10000, 'x', 'x', 1, printf('%064d', 0), x'00' FROM products "
			    "WHERE name='lamp'");
	/* A product without images never gets any. */
	expect_refused(raw, "INSERT INTO product_images (product_id, flash_offset, name, file, size, sha256, data) "
			    "SELECT id, 0x10000, 'x', 'x', 1, printf('%064d', 0), x'00' FROM products WHERE name='plain'");
	expect_refused(raw, "UPDATE products SET chip = 'esp32' WHERE name = 'lamp'");
	expect_refused(raw, "UPDATE products SET n_images = 4 WHERE name = 'lamp'");
	expect_refused(raw, "UPDATE products SET n_images = 1, chip = 'esp32' WHERE name = 'plain'");
	sqlite3_close(raw);
	/* Still the same bytes. */
	struct store_product *p = NULL;
	assert_int_equal(store_product_get(f->s, "lamp", &p, &f->err), 0);
	assert_int_equal(store_product_firmware(f->s, p->id, &got, &f->err), 0);
	assert_int_equal(got->n, 3);
	assert_memory_equal(got->images[0].data, set->images[0].data, 4096);
	store_product_free(p);
	fwimg_set_unref(got);
	fwimg_set_unref(set);
}

/* schemas/<name> of the source tree (this file is tests/unit/...). */
static char *read_text(const char *name)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	snprintf(path, sizeof(path), "%.*s/../../schemas/%s", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".", name);
	FILE *fp = fopen(path, "rb");
	char *b;
	long n;

	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return b;
}

static void test_store_firmware_migrates_version_2(void **state)
{
	struct fixture *f = *state;
	sqlite3 *raw = NULL;
	char *sql;
	struct store_product *p = NULL;
	struct fwimg_set *set = make_set(f, 0), *got = NULL;
	json_t *q = NULL;

	/* A database as schema version 2 left it, with a product in it. */
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	sql = read_text("001_initial.sql");
	assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sql = read_text("002_no_replace.sql");
	assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	assert_int_equal(sqlite3_exec(raw,
				      "PRAGMA user_version = 2;"
				      "INSERT INTO products (name, nvs_version, part_table, part_label, part_offset, "
				      "part_size, config_csv, created) VALUES ('old', 2, x'00', 'nvs', 36864, 24576, "
				      "'mass_prod,namespace,', '2026-01-01T00:00:00.000Z');"
				      "INSERT INTO product_fields VALUES (1, 0, 'mass_prod', 'mass_prod', 'namespace', '', "
				      "0, 0), (1, 1, 'mass_prod', 'Serial', 'data', 'string', 0, 0);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);

	assert_int_equal(store_open(&f->s, f->db, 0, NULL, &f->err), 0);
	assert_int_equal(store_product_get(f->s, "old", &p, &f->err), 0);
	assert_int_equal(p->n_images, 0);
	assert_string_equal(p->chip, "");
	assert_int_equal(p->n_fields, 2);
	assert_int_equal(store_product_firmware(f->s, p->id, &got, &f->err), 0);
	assert_null(got);
	store_product_free(p);
	assert_int_equal(store_product_query(f->s, "old", &q, &f->err), 0);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(q, "products"), 0), "firmware")));
	json_decref(q);
	/* The migrated database takes a product with images. */
	assert_int_equal(add(f, "lamp", set), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	assert_true(STORE_SCHEMA_VERSION >= 5); /* later migrations keep the images */
	sqlite3_finalize(st);
	/* An old product never gets images after the fact either. */
	expect_refused(raw, "INSERT INTO product_images (product_id, flash_offset, name, file, size, sha256, data) "
			    "VALUES (1, 0x10000, 'x', 'x', 1, printf('%064d', 0), x'00')");
	sqlite3_close(raw);
	fwimg_set_unref(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_firmware_add_and_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_firmware_checked_and_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_firmware_immutable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_firmware_migrates_version_2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
