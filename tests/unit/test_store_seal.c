/* Sealing at rest: AES-256-GCM, key from a file, plaintext only in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store_testutil.h"

static const uint8_t key1[STORE_SEAL_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
						 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key2[STORE_SEAL_KEY_LEN] = {9};

/* Does the file (database + WAL) contain the bytes anywhere? */
static int file_has(const char *path, const char *needle)
{
	char wal[512];
	int found = 0;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	const char *paths[] = {path, wal};
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		long n = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *b = malloc((size_t)n + 1);
		if (fread(b, 1, (size_t)n, f) == (size_t)n)
			found |= memmem(b, (size_t)n, needle, strlen(needle)) != NULL;
		free(b);
		fclose(f);
	}
	return found;
}

static void test_store_seal_values_never_plain_on_disk(void **state)
{
	TU_SQLITE_ONLY();
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "s.db");
	struct store *s = NULL;
	struct store_err err = {0};
	static const char *const uniq[] = {"DeviceSecret"};
	char *csv = tu_values(1, 20);

	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, key1, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", uniq, 1, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	store_close(s);
	assert_false(file_has(db, "secret-00000007"));
	assert_false(file_has(db, "PRD-000007"));

	/* claims unseal in memory */
	assert_int_equal(store_open(&s, db, 0, key1, &err), 0);
	struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p", .mac = "aa:00:00:00:00:01"};
	struct store_record *r = NULL;
	assert_int_equal(store_claim(s, &req, &r, &err), 0);
	assert_string_equal((char *)r->values[1].data, "secret-00000001");
	store_record_free(r);
	/* unique values are still found through their keyed digests */
	assert_int_equal(tu_import(s, "lamp", "id,ProductID,DeviceSecret,DeviceName\n100,P,secret-00000003,d\n", &err),
			 STORE_EINPUT);
	assert_non_null(strstr(err.msg, "repeats the value of record '3'"));
	/* reveal needs the key and gives the plaintext */
	json_t *j = NULL;
	struct store_record_filter flt = {.product = "lamp", .reveal = 1, .limit = 2};
	assert_int_equal(store_query_records(s, &flt, &j, &err), 0);
	json_t *v = json_object_get(json_array_get(json_object_get(j, "records"), 1), "values");
	assert_string_equal(json_string_value(json_object_get(v, "DeviceSecret")), "secret-00000002");
	json_decref(j);
	store_close(s);

	/* without the key: queries work, claims, reveal and imports do not */
	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	req.mac = "aa:00:00:00:00:02";
	assert_int_equal(store_claim(s, &req, &r, &err), STORE_ESEAL);
	flt.reveal = 0;
	assert_int_equal(store_query_records(s, &flt, &j, &err), 0);
	json_decref(j);
	flt.reveal = 1;
	assert_int_equal(store_query_records(s, &flt, &j, &err), STORE_ESEAL);
	assert_int_equal(tu_import(s, "lamp", "id,ProductID,DeviceSecret,DeviceName\n200,P,x,d\n", &err), STORE_ESEAL);
	store_close(s);

	/* a wrong key is refused at open */
	assert_int_equal(store_open(&s, db, 0, key2, &err), STORE_ESEAL);
	assert_null(s);
	free(csv);
	free(db);
	tu_rmrf(dir);
}

static void test_store_seal_tampered_value_fails(void **state)
{
	TU_SQLITE_ONLY();
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "s.db");
	struct store *s = NULL;
	struct store_err err = {0};
	char *csv = tu_values(1, 2);
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, key1, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", NULL, 0, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	/* swap two records' sealed values: the AAD binds each to its record.
	 * The schema's trigger refuses this UPDATE; someone with the file can
	 * drop the trigger, which is what the AAD is for. */
	sqlite3 *raw;
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
				      "DROP TRIGGER record_values_no_update; UPDATE record_values SET value = (SELECT value FROM record_values v2 "
				      "WHERE v2.record_id = 2 AND v2.pos = record_values.pos) WHERE record_id = 1",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);
	struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p", .mac = "aa:00:00:00:00:01"};
	struct store_record *r = NULL;
	assert_int_equal(store_claim(s, &req, &r, &err), STORE_ESEAL);
	assert_non_null(strstr(err.msg, "does not open"));
	/* the failed claim left nothing reserved */
	assert_int_equal(store_check(s, &err), 0);
	store_close(s);
	free(csv);
	free(db);
	tu_rmrf(dir);
}

static void test_store_seal_cannot_start_on_plain_records(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_db(dir, "s.db");
	struct store *s = NULL;
	struct store_err err = {0};
	char *csv = tu_values(1, 2), *csv2 = tu_values(10, 2);
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", NULL, 0, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	store_close(s);
	assert_int_equal(store_open(&s, db, 0, key1, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv2, &err), STORE_ESEAL);
	assert_non_null(strstr(err.msg, "unsealed records"));
	store_close(s);
	free(csv);
	free(csv2);
	free(db);
	tu_rmrf(dir);
}

static void test_store_seal_key_file(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *kf = tu_path(dir, "k");
	uint8_t k[STORE_SEAL_KEY_LEN];
	struct store_err err = {0};
	FILE *f = fopen(kf, "w");
	fputs("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n", f);
	fclose(f);
	assert_int_equal(store_seal_key_read(kf, k, &err), 0);
	assert_memory_equal(k, key1, sizeof(k));
	f = fopen(kf, "wb");
	fwrite(key2, 1, sizeof(key2), f);
	fclose(f);
	assert_int_equal(store_seal_key_read(kf, k, &err), 0);
	assert_memory_equal(k, key2, sizeof(k));
	f = fopen(kf, "w");
	fputs("0102\n", f);
	fclose(f);
	assert_int_equal(store_seal_key_read(kf, k, &err), STORE_EINPUT);
	assert_non_null(strstr(err.msg, "64 hex digits"));
	assert_int_equal(store_seal_key_read("/nonexistent/key", k, &err), STORE_EIO);
	free(kf);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_seal_values_never_plain_on_disk),
		cmocka_unit_test(test_store_seal_tampered_value_fails),
		cmocka_unit_test(test_store_seal_cannot_start_on_plain_records),
		cmocka_unit_test(test_store_seal_key_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
