/* The PostgreSQL backend's own guarantees, against a real server that
 * tests/pg/run_unit.sh starts (ESPFAB_TEST_PG): the database refuses audit
 * rewrites and record forgeries whoever asks, the station role of
 * schemas/pg/roles.sql can run the lifecycle and nothing more, stations
 * starting together migrate once, sealed values stay sealed on the server,
 * and an unreachable server is STORE_EOFFLINE without the password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sys/wait.h>

#include "pg_raw.h"
#include "store_testutil.h"

/* The store's table of PostgreSQL migrations (store_pg_schemas.c). */
extern const size_t store_pg_n_migrations;

static const uint8_t key1[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* 0 when sql ran, else its SQLSTATE's first two characters as a number
 * (42 = privilege/syntax, P0 = a trigger's RAISE) or -1. */
static int raw_exec(PGconn *c, const char *sql, char *state, size_t cap)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType t = PQresultStatus(r);
	int rc = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK ? 0 : -1;
	if (state) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(state, cap, "%s", st ? st : "");
	}
	PQclear(r);
	return rc;
}

static char *raw_value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (!v)
		fail_msg("query failed: %s", sql);
	return v;
}

static void provision(struct store *s, const char *mac, int verify)
{
	struct store_claim_req req = {.product = "lamp", .station = "line1", .port = "p0", .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};
	if (store_claim(s, &req, &r, &err))
		fail_msg("claim %s: %s", mac, err.msg);
	if (store_mark_sent(s, r->job_id, &err))
		fail_msg("mark_sent: %s", err.msg);
	if (verify && store_mark_verified(s, r->job_id, NULL, &err))
		fail_msg("verified: %s", err.msg);
	store_record_free(r);
}

static void test_store_pg_audit_and_records_refuse_rewrites(void **state)
{
	(void)state;
	static const char *const uniq[] = {"DeviceSecret"};
	struct tu_fx *f = tu_fx_new(uniq, 1, 3);
	char st[8];
	assert_non_null(f);
	provision(f->s, "aa:00:00:00:00:01", 1);
	struct store_err err = {0};
	assert_int_equal(store_retire(f->s, "lamp", "3", "damaged", &err), 0);
	/* The test server's user is a superuser and owns the tables: only the
	 * triggers stand between it and a rewrite. */
	PGconn *c = raw_open(f->db);
	static const char *const forged[] = {
		"UPDATE audit SET result = 'ok'",
		"DELETE FROM audit",
		"TRUNCATE audit",
		"UPDATE records SET mac = 'bb:00:00:00:00:09' WHERE record_id = '1'",
		"UPDATE records SET state = 'available', mac = NULL, bound = 0 WHERE record_id = '1'",
		"UPDATE records SET state = 'available', mac = NULL, retired_reason = NULL WHERE record_id = '3'",
		"UPDATE records SET record_id = '99' WHERE record_id = '2'",
		"DELETE FROM records WHERE record_id = '2'",
		"TRUNCATE records CASCADE",
		"UPDATE record_values SET value = 'x'",
		"DELETE FROM record_values",
		"DELETE FROM unique_values",
		"UPDATE products SET n_images = 1",
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		if (raw_exec(c, forged[i], st, sizeof(st)) == 0)
			fail_msg("the server accepted: %s", forged[i]);
		if (strcmp(st, "P0001"))
			fail_msg("%s: refused with %s, not by a trigger", forged[i], st);
	}
	/* and the audit still reads as written */
	char *n = raw_value(c, "SELECT count(*) FROM audit WHERE result = 'ok' AND event = 'provision'");
	assert_string_equal(n, "1");
	free(n);
	n = raw_value(c, "SELECT db_user FROM audit WHERE event = 'provision'");
	assert_string_equal(n, "espfab_admin");
	free(n);
	PQfinish(c);
	assert_int_equal(store_check(f->s, &err), 0);
	tu_fx_free(f);
}

/* The station role of schemas/pg/roles.sql: the lifecycle works, the rest
 * is refused by the server's privileges. */
static void test_store_pg_station_role_least_privilege(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 4);
	struct store_err err = {0};
	char cmd[1024], st[8];
	assert_non_null(f);
	snprintf(cmd, sizeof(cmd), "psql -v ON_ERROR_STOP=1 -qAt -d '%s' -f '%s/../schemas/pg/roles.sql' >/dev/null",
		 f->db, ESPFAB_TEST_DATA "/..");
	assert_int_equal(system(cmd), 0);
	/* idempotent: a second run (after an upgrade) succeeds too */
	assert_int_equal(system(cmd), 0);
	PGconn *c = raw_open(f->db);
	raw_exec(c, "DROP ROLE IF EXISTS line1", NULL, 0);
	assert_int_equal(raw_exec(c, "CREATE ROLE line1 LOGIN IN ROLE espfab_station", st, sizeof(st)), 0);
	PQfinish(c);
	const char *at = strchr(f->db, '@');
	assert_non_null(at);
	char uri[1024];
	snprintf(uri, sizeof(uri), "postgresql://line1%s", at);

	struct store *s = NULL;
	assert_int_equal(store_open(&s, uri, 0, NULL, &err), 0);
	provision(s, "aa:00:00:00:00:01", 1);
	provision(s, "aa:00:00:00:00:02", 0);
	struct store_recovery rep;
	assert_int_equal(store_recover(s, "line1", &rep, &err), 0);
	assert_int_equal(rep.interrupted, 1);
	json_t *j = NULL;
	assert_int_equal(store_query_stats(s, "lamp", &j, &err), 0);
	json_decref(j);
	assert_int_equal(store_uplink_advance(s, "mes", 2, &err), 0);
	/* what a station may not do through the store */
	char *csv = tu_values(100, 2);
	assert_int_not_equal(tu_import(s, "lamp", csv, &err), 0);
	assert_non_null(strstr(err.msg, "permission denied"));
	free(csv);
	assert_int_not_equal(tu_add_product(s, "other", NULL, 0, &err), 0);
	assert_int_not_equal(store_retire(s, "lamp", "4", "gone", &err), 0);
	store_close(s);
	/* nor behind its back */
	c = raw_open(uri);
	static const char *const denied[] = {
		"UPDATE audit SET result = 'ok'", "DELETE FROM audit", "TRUNCATE audit",
		"DELETE FROM jobs", "INSERT INTO meta (name, value) VALUES ('seal_check', 'x')",
		"UPDATE records SET retired_reason = 'x'", "UPDATE records SET record_id = 'x'",
		"DROP TABLE audit", "ALTER TABLE audit DISABLE TRIGGER audit_no_update",
	};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if (raw_exec(c, denied[i], st, sizeof(st)) == 0)
			fail_msg("the station role may: %s", denied[i]);
		if (strncmp(st, "42", 2))
			fail_msg("%s: refused with %s, not for want of privilege", denied[i], st);
	}
	/* its rows name it */
	char *who = raw_value(c, "SELECT string_agg(DISTINCT db_user || '/' || station, ',') FROM audit "
				 "WHERE event = 'provision'");
	assert_string_equal(who, "line1/line1");
	free(who);
	PQfinish(c);
	tu_fx_free(f);
}

/* Stations starting together on an empty database: every one opens, the
 * schema is applied exactly once. */
static void test_store_pg_concurrent_first_open_migrates_once(void **state)
{
	(void)state;
	char *db = tu_db(NULL, NULL);
	int go[2];
	pid_t kids[6];
	assert_non_null(db);
	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < 6; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char b;
			struct store *s = NULL;
			struct store_err err = {0};
			close(go[1]);
			if (read(go[0], &b, 1) < 0)
				_exit(3);
			if (store_open(&s, db, STORE_OPEN_CREATE, NULL, &err)) {
				fprintf(stderr, "child %d: %s\n", i, err.msg);
				_exit(1);
			}
			store_close(s);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]); /* all children read EOF at once */
	for (int i = 0; i < 6; i++) {
		int wst = 0;
		assert_int_equal(waitpid(kids[i], &wst, 0), kids[i]);
		if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
			fail_msg("station %d failed to open", i);
	}
	PGconn *c = raw_open(db);
	/* each of this program's migrations, once (their numbers may have gaps) */
	char *n = raw_value(c, "SELECT count(*) || '/' || count(DISTINCT version) FROM espfab_schema");
	char want[32];
	snprintf(want, sizeof(want), "%zu/%zu", store_pg_n_migrations, store_pg_n_migrations);
	assert_string_equal(n, want);
	free(n);
	PQfinish(c);
	free(db);
}

static void test_store_pg_sealed_values_stay_sealed_on_the_server(void **state)
{
	(void)state;
	char *db = tu_db(NULL, NULL);
	struct store *s = NULL;
	struct store_err err = {0};
	static const char *const uniq[] = {"DeviceSecret"};
	char *csv = tu_values(1, 5);
	assert_non_null(db);
	assert_int_equal(store_open(&s, db, 0, key1, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", uniq, 1, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	/* a repeated unique value is found through the digests the server holds */
	char *again = tu_values(3, 1);
	char *p = strstr(again, "\n3,");
	assert_non_null(p);
	p[1] = '9'; /* record id 9, same secret as record 3 */
	assert_int_equal(tu_import(s, "lamp", again, &err), STORE_EINPUT);
	assert_non_null(strstr(err.msg, "must be unique"));
	assert_int_equal(err.line, 2);
	free(again);
	struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p", .mac = "aa:00:00:00:00:01"};
	struct store_record *r = NULL;
	assert_int_equal(store_claim(s, &req, &r, &err), 0);
	assert_string_equal((char *)r->values[1].data, "secret-00000001");
	store_record_free(r);
	store_close(s);
	PGconn *c = raw_open(db);
	char *hits = raw_value(c, "SELECT count(*) FROM record_values WHERE position(convert_to('secret-', 'UTF8') in value) > 0 "
				  "OR position(convert_to('PRD-', 'UTF8') in value) > 0");
	assert_string_equal(hits, "0");
	free(hits);
	PQfinish(c);
	uint8_t key2[32] = {9};
	assert_int_equal(store_open(&s, db, 0, key2, &err), STORE_ESEAL);
	assert_null(s);
	free(csv);
	free(db);
}

static void test_store_pg_unreachable_is_offline_without_password(void **state)
{
	(void)state;
	struct store *s = NULL;
	struct store_err err = {0};
	int rc = store_open(&s, "postgresql://line1:topsecret@%2Fnonexistent-espfab:5432/espfab", 0, NULL, &err);
	assert_int_equal(rc, STORE_EOFFLINE);
	assert_null(s);
	assert_null(strstr(err.msg, "topsecret"));
	assert_null(strchr(err.msg, '\n'));

	/* A connection the server drops is made again by the next call, and
	 * the call that met the break stored nothing. */
	struct tu_fx *f = tu_fx_new(NULL, 0, 2);
	assert_non_null(f);
	PGconn *c = raw_open(f->db);
	char *n = raw_value(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
			      "WHERE application_name = 'espfab' AND pid <> pg_backend_pid() AND datname = current_database()");
	assert_string_equal(n, "1");
	free(n);
	struct store_claim_req req = {.product = "lamp", .station = "s", .port = "p", .mac = "aa:00:00:00:00:01"};
	struct store_record *r = NULL;
	rc = store_claim(f->s, &req, &r, &err);
	if (rc) {
		assert_int_equal(rc, STORE_EOFFLINE);
		n = raw_value(c, "SELECT count(*) FROM jobs");
		assert_string_equal(n, "0");
		free(n);
		assert_int_equal(store_claim(f->s, &req, &r, &err), 0);
	}
	assert_non_null(r);
	store_record_free(r);
	PQfinish(c);
	tu_fx_free(f);
}

/* A delivery id (schemas/pg/003_delivery.sql) is written by the INSERT
 * only: no UPDATE rewrites it, no upsert reaches a stored row through it,
 * a second row cannot take it, and it has its one form. */
static void test_store_pg_delivery_written_once(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, 1);
	struct store_err err = {0};
	struct store_audit_entry a = {.event = "attempt",
				      .result = "failed",
				      .mac = "aa:00:00:00:00:08",
				      .baud = -1,
				      .retries = -1,
				      .duration_ms = -1,
				      .delivery = "0123456789abcdef0123456789abcdef"};
	char st[8];
	assert_non_null(f);
	assert_int_equal(store_audit_append(f->s, &a, &err), 0);
	PGconn *c = raw_open(f->db);
	static const struct {
		const char *sql, *state;
	} forged[] = {
		{"UPDATE audit SET delivery = NULL", "P0001"},
		{"INSERT INTO audit (time, event, result, delivery) VALUES ('t', 'note', 'x', "
		 "'0123456789abcdef0123456789abcdef') ON CONFLICT (delivery) WHERE delivery IS NOT NULL "
		 "DO UPDATE SET result = 'forged'",
		 "P0001"},
		{"INSERT INTO audit (time, event, result, delivery) VALUES ('t', 'note', 'x', "
		 "'0123456789abcdef0123456789abcdef')",
		 "23505"},
		{"INSERT INTO audit (time, event, result, delivery) VALUES ('t', 'note', 'x', 'not-hex')", "23514"},
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		if (raw_exec(c, forged[i].sql, st, sizeof(st)) == 0)
			fail_msg("the server accepted: %s", forged[i].sql);
		if (strcmp(st, forged[i].state))
			fail_msg("%s: refused with %s, want %s", forged[i].sql, st, forged[i].state);
	}
	char *n = raw_value(c, "SELECT count(*) || ' ' || min(result) FROM audit WHERE delivery IS NOT NULL");
	assert_string_equal(n, "1 failed");
	free(n);
	PQfinish(c);
	tu_fx_free(f);
}

int main(void)
{
	if (!tu_is_pg()) {
		fprintf(stderr, "test_store_pg: ESPFAB_TEST_PG is not set: run it through tests/pg/run_unit.sh, "
				"which starts a PostgreSQL server\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_pg_audit_and_records_refuse_rewrites),
		cmocka_unit_test(test_store_pg_station_role_least_privilege),
		cmocka_unit_test(test_store_pg_concurrent_first_open_migrates_once),
		cmocka_unit_test(test_store_pg_sealed_values_stay_sealed_on_the_server),
		cmocka_unit_test(test_store_pg_unreachable_is_offline_without_password),
		cmocka_unit_test(test_store_pg_delivery_written_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
