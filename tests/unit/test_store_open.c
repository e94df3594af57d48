/* store_open: file mode, migrations, pragmas, append-only audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store_testutil.h"

static void test_store_open_creates_0600_and_migrates(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "a.db");
	struct store *s = NULL;
	struct store_err err = {0};
	struct stat sb;
	mode_t old = umask(0);

	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	umask(old);
	assert_int_equal(stat(db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	store_close(s);

	sqlite3 *raw;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), STORE_SCHEMA_VERSION);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(raw);

	/* Reopening applies nothing twice. */
	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	store_close(s);
	free(db);
	tu_rmrf(dir);
}

/* SQLite creates -wal and -shm itself; they hold the same secrets as the
 * database (WAL frames are pages), so they must be 0600 too, whatever the
 * umask, and a claim from a second connection must not widen them. */
static void test_store_open_wal_and_shm_are_0600(void **state)
{
	(void)state;
	static const mode_t masks[] = {0, 022, 077};
	for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		struct tu_fx *f = NULL;
		mode_t old = umask(masks[m]);
		f = tu_fx_new(NULL, 0, 2);
		assert_non_null(f);
		struct store *other = NULL;
		struct store_err err = {0};
		assert_int_equal(store_open(&other, f->db, 0, NULL, &err), 0);
		struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p", .mac = "aa:00:00:00:00:01"};
		struct store_record *r = NULL;
		assert_int_equal(store_claim(other, &req, &r, &err), 0);
		umask(old);
		static const char *const sfx[] = {"", "-wal", "-shm"};
		for (size_t i = 0; i < 3; i++) {
			char p[4200];
			struct stat sb;
			snprintf(p, sizeof(p), "%s%s", f->db, sfx[i]);
			assert_int_equal(stat(p, &sb), 0);
			if ((sb.st_mode & 0777) != 0600)
				fail_msg("umask %03o: %s is %03o", (unsigned)masks[m], p, (unsigned)(sb.st_mode & 0777));
		}
		store_record_free(r);
		store_close(other);
		tu_fx_free(f);
	}
}

static void test_store_open_refuses_newer_schema(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "a.db");
	struct store *s = NULL;
	struct store_err err = {0};
	sqlite3 *raw;

	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	store_close(s);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(store_open(&s, db, 0, NULL, &err), STORE_ESCHEMA);
	assert_null(s);
	assert_non_null(strstr(err.msg, "newer"));
	free(db);
	tu_rmrf(dir);
}

static void test_store_open_missing_file_without_create(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "none.db");
	struct store *s = NULL;
	struct store_err err = {0};
	assert_int_not_equal(store_open(&s, db, 0, NULL, &err), 0);
	assert_null(s);
	assert_non_null(strstr(err.msg, "none.db"));
	free(db);
	tu_rmrf(dir);
}

static void test_store_open_audit_is_append_only(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "a.db");
	struct store *s = NULL;
	struct store_err err = {0};
	struct store_audit_entry a = {.event = "test", .mac = "AA-BB-CC-DD-EE-FF", .result = "ok",
				      .baud = 115200, .retries = 0, .duration_ms = 12};
	sqlite3 *raw;

	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	assert_int_equal(store_audit_append(s, &a, &err), 0);
	store_close(s);
	assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE audit SET result = 'forged'", NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(raw), "append-only"));
	assert_int_not_equal(sqlite3_exec(raw, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(raw, "SELECT mac, result FROM audit", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "aa:bb:cc:dd:ee:ff");
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "ok");
	sqlite3_finalize(st);
	sqlite3_close(raw);
	free(db);
	tu_rmrf(dir);
}

static void test_store_open_mac_normalise(void **state)
{
	(void)state;
	char out[STORE_MAC_LEN + 1];
	assert_int_equal(store_mac_normalise("AA:BB:CC:00:11:2f", out), 0);
	assert_string_equal(out, "aa:bb:cc:00:11:2f");
	assert_int_equal(store_mac_normalise("aabbcc00112F", out), 0);
	assert_string_equal(out, "aa:bb:cc:00:11:2f");
	assert_int_equal(store_mac_normalise("aa-bb-cc-00-11-2f", out), 0);
	assert_int_not_equal(store_mac_normalise("aa:bb:cc:00:11", out), 0);
	assert_int_not_equal(store_mac_normalise("aa:bb:cc:00:11:2f:33", out), 0);
	assert_int_not_equal(store_mac_normalise("zz:bb:cc:00:11:2f", out), 0);
	assert_int_not_equal(store_mac_normalise(":aabbcc00112f", out), 0);
	assert_int_not_equal(store_mac_normalise("a:abbcc00112f", out), 0);
}

static int pragma_int(const char *db, const char *pragma)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_open(db, &raw) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(raw, pragma, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return v;
}

/* Every durability mode runs the same lifecycle: the default and SYNC_FULL
 * are WAL synchronous=FULL, GROUP_COMMIT (opt-in) is synchronous=NORMAL + a
 * shared WAL sync before returning (test_store_durable covers its failures). */
static void test_store_open_durability_modes(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *db = tu_path(dir, "a.db");
	for (int full = 0; full < 3; full++) {
		struct store *s = NULL;
		struct store_err err = {0};
		char *csv = tu_values(1 + 10 * full, 2);
		static const unsigned mode[] = {STORE_OPEN_GROUP_COMMIT, STORE_OPEN_SYNC_FULL, 0};
		unsigned flags = STORE_OPEN_CREATE | mode[full];
		assert_int_equal(store_open(&s, db, flags, NULL, &err), 0);
		if (!full)
			assert_int_equal(tu_add_product(s, "lamp", NULL, 0, &err), 0);
		assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
		struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p",
					      .mac = full == 2 ? "aa:00:00:00:00:03"
							   : full ? "aa:00:00:00:00:02" : "aa:00:00:00:00:01"};
		struct store_record *r = NULL;
		assert_int_equal(store_claim(s, &req, &r, &err), 0);
		assert_int_equal(store_mark_sent(s, r->job_id, &err), 0);
		assert_int_equal(store_mark_verified(s, r->job_id, NULL, &err), 0);
		store_record_free(r);
		/* visible to a separate connection at once */
		assert_int_equal(pragma_int(db, "SELECT count(*) FROM records WHERE state = 'verified'"), 1 + full);
		store_close(s);
		free(csv);
	}
	free(db);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_open_creates_0600_and_migrates),
		cmocka_unit_test(test_store_open_wal_and_shm_are_0600),
		cmocka_unit_test(test_store_open_refuses_newer_schema),
		cmocka_unit_test(test_store_open_missing_file_without_create),
		cmocka_unit_test(test_store_open_audit_is_append_only),
		cmocka_unit_test(test_store_open_mac_normalise),
		cmocka_unit_test(test_store_open_durability_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
