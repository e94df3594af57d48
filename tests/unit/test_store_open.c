/* store_open: file mode, migrations, pragmas, append-only audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "store_testutil.h"
/* white box: the statement cache */
#include "../../daemon/store/store_int.h"

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

/* One outer transaction: every call inside is invisible to other
 * connections until store_txn_commit(), then all of them are there. */
static void test_store_open_txn_commit_publishes_all_at_once(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 4);
	struct store_err err = {0};
	assert_non_null(f);
	assert_int_equal(store_txn_begin(f->s, &err), 0);
	/* not nestable */
	assert_int_not_equal(store_txn_begin(f->s, &err), 0);
	struct store_record *a = tu_claim(f->s, "aa:00:00:00:00:01", 0);
	struct store_record *b = tu_claim(f->s, "aa:00:00:00:00:02", 0);
	assert_non_null(a);
	assert_non_null(b);
	/* the connection sees its own claims: no record twice */
	assert_string_not_equal(a->record_id, b->record_id);
	assert_int_equal(store_mark_sent(f->s, a->job_id, &err), 0);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'available'"), 4);
	assert_int_equal(store_txn_commit(f->s, &err), 0);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'available'"), 2);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'sent'"), 1);
	/* back to one transaction per call */
	assert_int_equal(store_mark_sent(f->s, b->job_id, &err), 0);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'sent'"), 2);
	assert_int_not_equal(store_txn_commit(f->s, &err), 0);
	store_record_free(a);
	store_record_free(b);
	assert_int_equal(store_check(f->s, &err), 0);
	tu_fx_free(f);
}

/* A call that fails inside the outer transaction undoes only itself; a
 * rollback of the outer one undoes every call. */
static void test_store_open_txn_failed_call_and_rollback(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 3);
	struct store_err err = {0};
	assert_non_null(f);
	assert_int_equal(store_txn_begin(f->s, &err), 0);
	struct store_record *a = tu_claim(f->s, "aa:00:00:00:00:01", 0);
	assert_non_null(a);
	assert_int_equal(store_mark_sent(f->s, a->job_id + 100, &err), STORE_ENOTFOUND);
	assert_int_equal(store_mark_verified(f->s, a->job_id, NULL, &err), STORE_ESTATE); /* not sent yet */
	assert_int_equal(store_mark_sent(f->s, a->job_id, &err), 0);
	assert_int_equal(store_txn_commit(f->s, &err), 0);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM jobs WHERE state = 'sent'"), 1);

	assert_int_equal(store_txn_begin(f->s, &err), 0);
	struct store_record *b = tu_claim(f->s, "aa:00:00:00:00:02", 0);
	assert_non_null(b);
	assert_int_equal(store_mark_verified(f->s, a->job_id, NULL, &err), 0);
	store_txn_rollback(f->s);
	store_txn_rollback(f->s); /* no-op now */
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'available'"), 2);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM jobs WHERE state = 'sent'"), 1);
	/* the same claim again, now for real */
	struct store_record *c = tu_claim(f->s, "aa:00:00:00:00:02", 0);
	assert_non_null(c);
	assert_int_equal(pragma_int(f->db, "SELECT count(*) FROM records WHERE state = 'available'"), 1);
	store_record_free(a);
	store_record_free(b);
	store_record_free(c);
	assert_int_equal(store_check(f->s, &err), 0);
	tu_fx_free(f);
}

/* The statement cache: store_prep() hands out a cached statement only when
 * it is not in use, evicts when full, and past 48 statements in use at
 * once prepares uncached ones that store_unprep() finalizes. */
static int prep_value(struct store *s, sqlite3_stmt *st)
{
	(void)s;
	return sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
}

static void test_store_open_statement_cache(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 2);
	struct store_err err = {0};
	sqlite3_stmt *held[STORE_STMT_CACHE + 8];
	char sql[64];
	assert_non_null(f);
	/* many texts: eviction keeps answers right */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3 * STORE_STMT_CACHE; i++) {
			sqlite3_stmt *st = NULL;
			snprintf(sql, sizeof(sql), "SELECT %d + ?1", i);
			assert_int_equal(store_prep(f->s, &st, sql, &err), 0);
			sqlite3_bind_int(st, 1, round);
			assert_int_equal(prep_value(f->s, st), i + round);
			store_unprep(f->s, st);
		}
	/* the same text in use twice at once: two statements */
	sqlite3_stmt *a = NULL, *b = NULL;
	assert_int_equal(store_prep(f->s, &a, "SELECT ?1", &err), 0);
	assert_int_equal(store_prep(f->s, &b, "SELECT ?1", &err), 0);
	assert_ptr_not_equal(a, b);
	sqlite3_bind_int(a, 1, 7);
	sqlite3_bind_int(b, 1, 9);
	assert_int_equal(prep_value(f->s, a), 7);
	assert_int_equal(prep_value(f->s, b), 9);
	store_unprep(f->s, a);
	store_unprep(f->s, b);
	/* given back: reset and unbound */
	assert_int_equal(store_prep(f->s, &a, "SELECT ?1", &err), 0);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(a, 0), SQLITE_NULL);
	store_unprep(f->s, a);
	/* more in use than the cache holds */
	for (int i = 0; i < STORE_STMT_CACHE + 8; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", 1000 + i);
		assert_int_equal(store_prep(f->s, &held[i], sql, &err), 0);
	}
	for (int i = 0; i < STORE_STMT_CACHE + 8; i++) {
		assert_int_equal(prep_value(f->s, held[i]), 1000 + i);
		store_unprep(f->s, held[i]);
	}
	store_unprep(f->s, NULL);
	/* a bad statement is an error, not a cache entry */
	assert_int_equal(store_prep(f->s, &a, "SELEKT 1", &err), STORE_EDB);
	assert_null(a);
	/* the store still works end to end */
	struct store_record *r = tu_claim(f->s, "aa:00:00:00:00:09", 0);
	assert_non_null(r);
	store_record_free(r);
	assert_int_equal(store_check(f->s, &err), 0);
	tu_fx_free(f);
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
		cmocka_unit_test(test_store_open_txn_commit_publishes_all_at_once),
		cmocka_unit_test(test_store_open_txn_failed_call_and_rollback),
		cmocka_unit_test(test_store_open_statement_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
