/* One batch shared by several stations on PostgreSQL (issue 11): a
 * station's claims and results never wait for another station's open
 * transaction on the same batch, the batch still never holds more than its
 * count, it becomes done exactly when its count is verified even when the
 * last two results commit together, and a batch of the old schema keeps
 * its totals and its room through the migration to per-station counters
 * and places. Run through tests/pg/run_unit.sh (ESPFAB_TEST_PG).
 * A wait shows as a failure, not a hang: the store's sessions have a
 * lock_timeout of 15 s (STORE_EBUSY), and each step here must return in
 * well under that. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <time.h>

#include "store_testutil.h"

/* Seconds a step may take: far below the 15 s a lock wait lasts. */
#define QUICK 5.0

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct store *open_station(const char *db)
{
	struct store *s = NULL;
	struct store_err err = {0};
	if (store_open(&s, db, 0, NULL, &err))
		fail_msg("open: %s", err.msg);
	return s;
}

/* A claim in batch for station; its job id, 0 when rc (the return code) is
 * not 0. Fails the test unless the return code is expect. */
static int64_t claim(struct store *s, int64_t batch, const char *station, int dev, int expect)
{
	char mac[32];
	snprintf(mac, sizeof(mac), "0c:00:00:00:%02x:%02x", station[0], dev);
	struct store_claim_req req = {.product = "lamp", .batch_id = batch, .station = station, .port = "p0",
				      .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};
	int rc = store_claim(s, &req, &r, &err);
	if (rc != expect)
		fail_msg("claim %s/%d: %d (%s), expected %d", station, dev, rc, err.msg, expect);
	int64_t job = r ? r->job_id : 0;
	store_record_free(r);
	return job;
}

static void sent(struct store *s, int64_t job)
{
	struct store_err err = {0};
	if (store_mark_sent(s, job, &err))
		fail_msg("mark_sent %lld: %s", (long long)job, err.msg);
}

static void verified(struct store *s, int64_t job)
{
	struct store_err err = {0};
	if (store_mark_verified(s, job, NULL, &err))
		fail_msg("mark_verified %lld: %s", (long long)job, err.msg);
}

/* "verified", "failed", "in_flight", "remaining" as a number; "state" and
 * "finished" into buf ("" for null), returning 0. */
static int64_t batch_field(struct store *s, int64_t batch, const char *key, char *buf, size_t cap)
{
	struct store_err err = {0};
	json_t *j = NULL;
	if (store_batch_query(s, batch, &j, &err))
		fail_msg("batch_query: %s", err.msg);
	json_t *v = json_object_get(json_array_get(json_object_get(j, "batches"), 0), key);
	int64_t n = json_is_integer(v) ? json_integer_value(v) : 0;
	if (buf)
		snprintf(buf, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(j);
	return n;
}

static void check(struct store *s)
{
	struct store_err err = {0};
	if (store_check(s, &err))
		fail_msg("store_check: %s", err.msg);
}

/* Station A holds a round open (store_txn_begin, as espfabd's group commit
 * does) after a verified result and a claim of the batch; station B's
 * result, claim and release on the same batch go through at once. */
static void test_store_pg_batch_stations_do_not_wait(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 20);
	struct store_err err = {0};
	int64_t batch = 0;
	assert_non_null(f);
	assert_int_equal(store_batch_add(f->s, "lamp", 10, NULL, 0, &batch, &err), 0);
	struct store *a = f->s, *b = open_station(f->db);
	/* the batch's places exist once a claim made them */
	assert_int_equal(store_release(a, claim(a, batch, "A", 0, 0), "warm", NULL, &err), 0);
	int64_t a1 = claim(a, batch, "A", 1, 0), b1 = claim(b, batch, "B", 1, 0);
	sent(a, a1);
	sent(b, b1);

	assert_int_equal(store_txn_begin(a, &err), 0);
	verified(a, a1);
	int64_t a2 = claim(a, batch, "A", 2, 0);
	double t0 = now_s();
	verified(b, b1);
	int64_t b2 = claim(b, batch, "B", 2, 0);
	assert_int_equal(store_release(b, b2, "no sync", NULL, &err), 0);
	double took = now_s() - t0;
	if (took > QUICK)
		fail_msg("station B waited %.1f s for station A's open transaction", took);
	/* B sees its own result, not A's uncommitted one */
	assert_int_equal(batch_field(b, batch, "verified", NULL, 0), 1);
	assert_int_equal(store_txn_commit(a, &err), 0);

	assert_int_equal(batch_field(b, batch, "verified", NULL, 0), 2);
	assert_int_equal(batch_field(b, batch, "failed", NULL, 0), 2);
	assert_int_equal(batch_field(b, batch, "in_flight", NULL, 0), 1);
	assert_int_equal(batch_field(b, batch, "remaining", NULL, 0), 8);
	assert_true(a2 > 0);
	check(b);
	store_close(b);
	tu_fx_free(f);
}

/* The batch's state and whether finished is set, as the server holds
 * them ("done/true"), malloc'd. */
static char *stored_state(const char *db, int64_t batch)
{
	char sql[128];
	PGconn *c = PQconnectdb(db);
	snprintf(sql, sizeof(sql), "SELECT state || '/' || (finished IS NOT NULL) FROM batches WHERE id = %lld",
		 (long long)batch);
	PGresult *r = PQexec(c, sql);
	char *v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? strdup(PQgetvalue(r, 0, 0)) : NULL;
	if (!v)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	if (!v)
		fail_msg("could not read batch %lld", (long long)batch);
	return v;
}

/* The last two results of a batch of 2 commit in the order opposite to
 * the one they were stored in: each station's transaction saw only its own
 * result, yet the batch is done once both committed, and not before. */
static void test_store_pg_batch_done_when_last_results_commit_together(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 6);
	struct store_err err = {0};
	char st[32], fin[32];
	int64_t batch = 0;
	assert_non_null(f);
	assert_int_equal(store_batch_add(f->s, "lamp", 2, NULL, 0, &batch, &err), 0);
	struct store *a = f->s, *b = open_station(f->db);
	int64_t ja = claim(a, batch, "A", 1, 0), jb = claim(b, batch, "B", 1, 0);
	claim(b, batch, "B", 2, STORE_EBATCH); /* 2 held: full */
	sent(a, ja);
	sent(b, jb);

	assert_int_equal(store_txn_begin(a, &err), 0);
	verified(a, ja);
	double t0 = now_s();
	verified(b, jb);
	if (now_s() - t0 > QUICK)
		fail_msg("station B's result waited for station A's");
	batch_field(b, batch, "state", st, sizeof(st));
	assert_string_equal(st, "active");
	assert_int_equal(batch_field(b, batch, "verified", NULL, 0), 1);
	/* A's round sees both results: it reports the batch done (espfabd's
	 * event), though the server has not marked it yet */
	batch_field(a, batch, "state", st, sizeof(st));
	assert_string_equal(st, "done");
	assert_int_equal(store_txn_commit(a, &err), 0);

	/* and marked it is, once A committed */
	char *stored = stored_state(f->db, batch);
	assert_string_equal(stored, "done/true");
	free(stored);
	batch_field(b, batch, "state", st, sizeof(st));
	batch_field(b, batch, "finished", fin, sizeof(fin));
	assert_string_equal(st, "done");
	assert_true(fin[0] != '\0');
	assert_int_equal(batch_field(b, batch, "verified", NULL, 0), 2);
	assert_int_equal(batch_field(b, batch, "remaining", NULL, 0), 0);
	claim(b, batch, "B", 3, STORE_EBATCH);
	check(b);
	store_close(b);
	tu_fx_free(f);
}

/* A batch of 3: A's second claim is still uncommitted. B claims the free
 * third place at once; B's next claim, made while A's is still open, is
 * refused without waiting (A's place counts as taken): never 4 held. When
 * A's round rolls back, its place is free again and B gets it. */
static void test_store_pg_batch_room_across_stations(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 10);
	struct store_err err = {0};
	int64_t batch = 0;
	assert_non_null(f);
	assert_int_equal(store_batch_add(f->s, "lamp", 3, NULL, 0, &batch, &err), 0);
	struct store *a = f->s, *b = open_station(f->db);
	claim(a, batch, "A", 1, 0);
	assert_int_equal(store_txn_begin(a, &err), 0);
	claim(a, batch, "A", 2, 0);
	double t0 = now_s();
	claim(b, batch, "B", 1, 0);
	claim(b, batch, "B", 2, STORE_EBATCH);
	if (now_s() - t0 > QUICK)
		fail_msg("station B's claims waited for station A's");
	store_txn_rollback(a);
	claim(b, batch, "B", 3, 0);
	claim(b, batch, "B", 4, STORE_EBATCH);
	assert_int_equal(batch_field(a, batch, "in_flight", NULL, 0), 3);
	check(a);
	store_close(b);
	tu_fx_free(f);
}

/* The migration's SQL file (schemas/pg/NNN_batch_counts.sql, whatever its
 * number), malloc'd. */
static char *migration_sql(void)
{
	const char *dir = ESPFAB_TEST_DATA "/../../schemas/pg";
	char path[512] = "";
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strlen(e->d_name) > 4 && strstr(e->d_name, "_batch_counts.sql"))
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
	if (d)
		closedir(d);
	FILE *fp = path[0] ? fopen(path, "r") : NULL;
	if (!fp)
		fail_msg("no *_batch_counts.sql migration in %s", dir);
	char *sql = calloc(1, 1 << 16);
	size_t n = sql ? fread(sql, 1, (1 << 16) - 1, fp) : 0;
	fclose(fp);
	assert_true(n > 0);
	return sql;
}

static void raw(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* The batch as the old schema kept it: counters in the batch row. */
static void back_to_old_schema(const char *db)
{
	PGconn *c = PQconnectdb(db);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("raw connection: %s", PQerrorMessage(c));
	raw(c, "SET client_min_messages = warning");
	raw(c, "ALTER TABLE batches ADD n_verified BIGINT NOT NULL DEFAULT 0, ADD n_failed BIGINT NOT NULL DEFAULT 0");
	raw(c, "UPDATE batches b SET n_verified = (SELECT coalesce(sum(n_verified), 0) FROM batch_counts c "
	       "WHERE c.batch_id = b.id), n_failed = (SELECT coalesce(sum(n_failed), 0) FROM batch_counts c "
	       "WHERE c.batch_id = b.id)");
	raw(c, "DROP TABLE batch_counts, batch_places");
	char *sql = migration_sql();
	raw(c, sql);
	free(sql);
	PQfinish(c);
}

/* A batch of 5 half way through on the old schema (3 verified by two
 * stations, 1 released, 1 open) keeps its totals and exactly its room
 * (one more device) through the migration, and is done at 5. */
static void test_store_pg_batch_migrates_old_counters(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 12);
	struct store_err err = {0};
	char st[32];
	int64_t batch = 0;
	assert_non_null(f);
	assert_int_equal(store_batch_add(f->s, "lamp", 5, NULL, 0, &batch, &err), 0);
	struct store *a = f->s;
	for (int i = 1; i <= 3; i++) {
		int64_t j = claim(a, batch, i < 3 ? "A" : "B", i, 0);
		sent(a, j);
		verified(a, j);
	}
	assert_int_equal(store_release(a, claim(a, batch, "A", 4, 0), "no sync", NULL, &err), 0);
	int64_t open_job = claim(a, batch, "A", 5, 0);
	store_close(a);
	f->s = NULL;
	back_to_old_schema(f->db);

	a = f->s = open_station(f->db);
	check(a);
	assert_int_equal(batch_field(a, batch, "verified", NULL, 0), 3);
	assert_int_equal(batch_field(a, batch, "failed", NULL, 0), 1);
	assert_int_equal(batch_field(a, batch, "in_flight", NULL, 0), 1);
	assert_int_equal(batch_field(a, batch, "remaining", NULL, 0), 2);
	int64_t last = claim(a, batch, "B", 6, 0);
	claim(a, batch, "B", 7, STORE_EBATCH);
	sent(a, open_job);
	verified(a, open_job);
	sent(a, last);
	verified(a, last);
	batch_field(a, batch, "state", st, sizeof(st));
	assert_string_equal(st, "done");
	assert_int_equal(batch_field(a, batch, "verified", NULL, 0), 5);
	check(a);
	tu_fx_free(f);
}

int main(void)
{
	if (!tu_is_pg()) {
		fprintf(stderr, "test_store_pg_batch: ESPFAB_TEST_PG is not set: run it through tests/pg/run_unit.sh, "
				"which starts a PostgreSQL server\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_pg_batch_stations_do_not_wait),
		cmocka_unit_test(test_store_pg_batch_done_when_last_results_commit_together),
		cmocka_unit_test(test_store_pg_batch_room_across_stations),
		cmocka_unit_test(test_store_pg_batch_migrates_old_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
