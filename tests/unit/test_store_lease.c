/* A station's lease of records (store_lease_*), on both backends
 * (unit_store_lease, unit_store_lease_pg): another station's claim never
 * takes a leased record, the station's own claims take its leased records
 * first, a release gives back only what is still in the pool, the audit
 * names the station, and the lease ends by itself when its record leaves
 * the pool. On PostgreSQL also: who may release a lease. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>

#include "store_testutil.h"

static int setup(void **state)
{
	*state = tu_fx_new(NULL, 0, 5);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int rc = store_check(f->s, &err); /* every test leaves the invariant whole */
	if (rc)
		fprintf(stderr, "check: %s\n", err.msg);
	tu_fx_free(f);
	return rc ? -1 : 0;
}

/* Claims for station on mac; expect is store_claim's result. */
static struct store_record *claim_at(struct store *s, const char *station, const char *mac, int expect)
{
	struct store_claim_req req = {.product = "lamp", .station = station, .port = "p0", .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};
	int rc = store_claim(s, &req, &r, &err);
	if (rc != expect)
		fail_msg("%s claims %s: %d (%s), expected %d", station, mac, rc, err.msg, expect);
	return r;
}

/* Claims for station on mac and expects record_id (the job stays open). */
static void claim_expect(struct store *s, const char *station, const char *mac, const char *record_id)
{
	struct store_record *r = claim_at(s, station, mac, 0);
	assert_non_null(r);
	assert_string_equal(r->record_id, record_id);
	store_record_free(r);
}

static int64_t fill(struct store *s, const char *station, int64_t n)
{
	struct store_err err = {0};
	int64_t held = -1;
	if (store_lease_fill(s, station, "lamp", n, &held, &err))
		fail_msg("lease fill %s %lld: %s", station, (long long)n, err.msg);
	return held;
}

/* Audit rows of event "lease" with this result: how many name station. */
static size_t lease_rows(struct store *s, const char *station, const char *result)
{
	struct store_audit_filter af = {0};
	struct store_err err = {0};
	json_t *j = NULL, *row;
	size_t i, n = 0;
	assert_int_equal(store_query_audit(s, &af, &j, &err), 0);
	json_array_foreach(json_object_get(j, "audit"), i, row) {
		const char *st = json_string_value(json_object_get(row, "station"));
		if (!strcmp(json_string_value(json_object_get(row, "event")), "lease") && st && !strcmp(st, station) &&
		    !strcmp(json_string_value(json_object_get(row, "result")), result)) {
			assert_non_null(json_string_value(json_object_get(row, "record_id")));
			assert_string_equal(json_string_value(json_object_get(row, "product")), "lamp");
			n++;
		}
	}
	json_decref(j);
	return n;
}

/* S1 leases 3 of 5: S2 gets the other 2, then nothing, although 3 are
 * available. */
static void test_store_lease_other_station_never_takes_leased(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t n = -1;
	assert_int_equal(fill(f->s, "S1", 3), 3);
	assert_int_equal(lease_rows(f->s, "S1", "leased"), 3);
	/* what each may claim: S2 not S1's three */
	assert_int_equal(store_lease_available(f->s, "S2", "lamp", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_lease_available(f->s, "S1", "lamp", &n, &err), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_lease_available(f->s, "S1", "nosuch", &n, &err), STORE_ENOTFOUND);
	claim_expect(f->s, "S2", "bb:00:00:00:00:01", "4");
	claim_expect(f->s, "S2", "bb:00:00:00:00:02", "5");
	assert_null(claim_at(f->s, "S2", "bb:00:00:00:00:03", STORE_EEMPTY));
	/* the lease was there all along: S1 still gets them */
	claim_expect(f->s, "S1", "aa:00:00:00:00:01", "1");
}

/* S2 leases 1 and 2, S1 leases 3 and 4: S1's claims take 3 and 4 (not the
 * lowest free record 5, nor S2's), then 5. */
static void test_store_lease_own_records_first(void **state)
{
	struct tu_fx *f = *state;
	assert_int_equal(fill(f->s, "S2", 2), 2);
	assert_int_equal(fill(f->s, "S1", 2), 2);
	claim_expect(f->s, "S1", "aa:00:00:00:00:01", "3");
	claim_expect(f->s, "S1", "aa:00:00:00:00:02", "4");
	claim_expect(f->s, "S1", "aa:00:00:00:00:03", "5");
	assert_null(claim_at(f->s, "S1", "aa:00:00:00:00:04", STORE_EEMPTY));
}

/* A fill tops up, never beyond n nor beyond what is free; bad arguments
 * are refused with nothing leased. */
static void test_store_lease_fill_bounds(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t held = 7;
	assert_int_equal(fill(f->s, "S1", 2), 2);
	assert_int_equal(fill(f->s, "S1", 2), 2);
	assert_int_equal(fill(f->s, "S1", 1), 2); /* a smaller size does not shrink it */
	assert_int_equal(lease_rows(f->s, "S1", "leased"), 2);
	assert_int_equal(fill(f->s, "S2", 10), 3); /* only 3 were free */
	assert_int_equal(fill(f->s, "S1", 0), 2);
	assert_int_equal(store_lease_fill(f->s, "S1", "lamp", STORE_LEASE_MAX + 1, &held, &err), STORE_EINPUT);
	assert_int_equal(held, 0);
	assert_int_equal(store_lease_fill(f->s, "S1", "lamp", -1, NULL, &err), STORE_EINPUT);
	assert_int_equal(store_lease_fill(f->s, "", "lamp", 1, NULL, &err), STORE_EINPUT);
	assert_int_equal(store_lease_fill(f->s, "S1", "nosuch", 1, NULL, &err), STORE_ENOTFOUND);
	assert_int_equal(store_lease_release(f->s, NULL, "x", NULL, &err), STORE_EINPUT);
	assert_int_equal(lease_rows(f->s, "S1", "leased"), 2);
}

/* The admin's release of a dead station: its records go back, a record
 * it bound is not touched, and each release is audited with the reason. */
static void test_store_lease_release_returns_unbound(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t n = -1;
	assert_int_equal(fill(f->s, "S1", 3), 3);
	struct store_record *r = claim_at(f->s, "S1", "aa:00:00:00:00:01", 0);
	assert_non_null(r);
	assert_string_equal(r->record_id, "1");
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_int_equal(store_lease_release(f->s, "S1", "station declared dead", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(lease_rows(f->s, "S1", "released"), 2);
	/* the bound record keeps its MAC: its device claims it again */
	assert_int_equal(store_mark_verified(f->s, r->job_id, NULL, &err), 0);
	store_record_free(r);
	claim_expect(f->s, "S2", "aa:00:00:00:00:01", "1");
	/* the others are anyone's again */
	claim_expect(f->s, "S2", "bb:00:00:00:00:02", "2");
	claim_expect(f->s, "S2", "bb:00:00:00:00:03", "3");
	assert_int_equal(store_lease_release(f->s, "S1", "again", &n, &err), 0);
	assert_int_equal(n, 0);
	struct store_audit_filter af = {0};
	json_t *j = NULL, *row;
	size_t i, reasons = 0;
	assert_int_equal(store_query_audit(f->s, &af, &j, &err), 0);
	json_array_foreach(json_object_get(j, "audit"), i, row) {
		const char *e = json_string_value(json_object_get(row, "error"));
		reasons += e && !strcmp(e, "station declared dead");
	}
	json_decref(j);
	assert_int_equal(reasons, 2);
}

/* Leases of two products: each kept apart (what another station may
 * claim of each), and a release gives back both. */
static void test_store_lease_two_products(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	char *csv = tu_values(100, 3);
	int64_t n = -1, held = -1;
	assert_int_equal(tu_add_product(f->s, "desk", NULL, 0, &err), 0);
	assert_int_equal(tu_import(f->s, "desk", csv, &err), 0);
	free(csv);
	assert_int_equal(fill(f->s, "S1", 2), 2);
	assert_int_equal(store_lease_fill(f->s, "S1", "desk", 3, &held, &err), 0);
	assert_int_equal(held, 3);
	assert_int_equal(fill(f->s, "S1", 2), 2); /* desk's lease is not lamp's */
	assert_int_equal(store_lease_available(f->s, "S2", "lamp", &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_lease_available(f->s, "S2", "desk", &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_lease_release(f->s, "S1", "all", &n, &err), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_lease_available(f->s, "S2", "desk", &n, &err), 0);
	assert_int_equal(n, 3);
}

/* A claim released before sending gives the record back to the same
 * lease; the same MAC claimed by another station (the device moved lines)
 * takes its record out of the lease; a retired record leaves it too. */
static void test_store_lease_follows_the_record(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t n = -1;
	assert_int_equal(fill(f->s, "S1", 2), 2);
	struct store_record *r = claim_at(f->s, "S1", "aa:00:00:00:00:01", 0);
	assert_string_equal(r->record_id, "1");
	assert_int_equal(store_release(f->s, r->job_id, "device left", NULL, &err), 0);
	store_record_free(r);
	claim_expect(f->s, "S2", "bb:00:00:00:00:01", "3");
	assert_int_equal(fill(f->s, "S1", 2), 2); /* 1 came back: nothing new */
	r = claim_at(f->s, "S1", "aa:00:00:00:00:02", 0);
	assert_string_equal(r->record_id, "1");
	store_record_free(r);
	/* the same device shows up at S2 while S1's reservation is open */
	r = claim_at(f->s, "S2", "aa:00:00:00:00:02", 0);
	assert_string_equal(r->record_id, "1");
	assert_true(r->reused);
	assert_int_equal(store_release(f->s, r->job_id, "device left", NULL, &err), 0);
	store_record_free(r);
	claim_expect(f->s, "S3", "cc:00:00:00:00:01", "1"); /* no longer S1's */
	assert_int_equal(store_retire(f->s, "lamp", "2", "damaged label", &err), 0);
	assert_int_equal(store_lease_release(f->s, "S1", "shutdown", &n, &err), 0);
	assert_int_equal(n, 0);
}

/* The invariant knows the lease rules: a lease forged behind the store's
 * back (its trigger dropped) is reported: on SQLite a lease on a sent
 * record, on PostgreSQL (whose CHECK refuses that) a record reserved by
 * S1 leased to S2. */
static void test_store_lease_check_detects_forgery(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	char cmd[1200];
	struct store_record *r = claim_at(f->s, "S1", "aa:00:00:00:00:01", 0);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	store_record_free(r);
	claim_expect(f->s, "S1", "aa:00:00:00:00:02", "2"); /* reserved, job open */
	assert_int_equal(store_check(f->s, &err), 0);
	if (tu_is_pg()) {
		snprintf(cmd, sizeof(cmd),
			 "psql -qAt -v ON_ERROR_STOP=1 -d '%s' -c 'ALTER TABLE records DISABLE TRIGGER records_lease' "
			 "-c \"UPDATE records SET lease_station = 'S2' WHERE record_id = '2'\" "
			 "-c 'ALTER TABLE records ENABLE TRIGGER records_lease' >/dev/null",
			 f->db);
		assert_int_equal(system(cmd), 0);
	} else {
		sqlite3 *raw;
		assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
		/* the trigger refuses it first */
		assert_int_not_equal(sqlite3_exec(raw, "UPDATE records SET lease_station = 'S1' WHERE record_id = '1'",
						  NULL, NULL, NULL),
				     SQLITE_OK);
		assert_int_equal(sqlite3_exec(raw,
					      "DROP TRIGGER records_lease_take; "
					      "UPDATE records SET lease_station = 'S1' WHERE record_id = '1'",
					      NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(raw);
	}
	assert_int_equal(store_check(f->s, &err), STORE_ESTATE);
	assert_non_null(strstr(err.msg, tu_is_pg() ? "reserved by another" : "out of the pool"));
	/* leave a whole database for teardown's check (the release clears the
	 * forged lease: S2's own on PostgreSQL, as the superuser) */
	int64_t n = 0;
	if (tu_is_pg()) {
		assert_int_equal(store_lease_release(f->s, "S2", "forged", &n, &err), 0);
	} else {
		sqlite3 *raw;
		assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
		assert_int_equal(sqlite3_exec(raw, "UPDATE records SET lease_station = NULL", NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(raw);
	}
}

/* PostgreSQL: line1's role fills and releases its own lease; line2's role
 * cannot release it (nor take line1's records); an admin can. */
static void test_store_lease_pg_roles(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	char cmd[1200], uri[3][1024];
	static const char *const roles[] = {"line1", "line2", "planner"};
	static const char *const groups[] = {"espfab_station", "espfab_station", "espfab_admin"};
	struct store *s[3] = {0};
	int64_t n = -1;

	if (!tu_is_pg()) {
		fprintf(stderr, "[ SKIPPED  ] %s: PostgreSQL roles\n", __func__);
		skip();
	}
	snprintf(cmd, sizeof(cmd), "psql -v ON_ERROR_STOP=1 -qAt -d '%s' -f '%s/../schemas/pg/roles.sql' >/dev/null",
		 f->db, ESPFAB_TEST_DATA "/..");
	assert_int_equal(system(cmd), 0);
	const char *at = strchr(f->db, '@');
	assert_non_null(at);
	for (int i = 0; i < 3; i++) {
		snprintf(
			cmd, sizeof(cmd),
			"psql -qAt -d '%s' -c 'DROP ROLE IF EXISTS %s' -c 'CREATE ROLE %s LOGIN IN ROLE %s' >/dev/null",
			f->db, roles[i], roles[i], groups[i]);
		assert_int_equal(system(cmd), 0);
		snprintf(uri[i], sizeof(uri[i]), "postgresql://%s%s", roles[i], at);
		assert_int_equal(store_open(&s[i], uri[i], 0, NULL, &err), 0);
	}
	assert_int_equal(fill(s[0], "line1", 2), 2);
	assert_int_equal(store_lease_release(s[0], "line1", "lease set to 0", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(fill(s[0], "line1", 2), 2);
	assert_int_not_equal(store_lease_release(s[1], "line1", "not mine", &n, &err), 0);
	assert_non_null(strstr(err.msg, "released by the role that took it"));
	claim_expect(s[1], "line2", "bb:00:00:00:00:01", "3");
	assert_int_equal(store_lease_release(s[2], "line1", "station declared dead", &n, &err), 0);
	assert_int_equal(n, 2);
	claim_expect(s[1], "line2", "bb:00:00:00:00:02", "1");
	for (int i = 0; i < 3; i++)
		store_close(s[i]);
}

/* ---- stations at once ---- */

#define N_STATIONS 4
#define N_RECORDS 40
#define LEASE_EACH 5

static pthread_barrier_t start_line, fills_done;

struct station_run {
	const char *db;
	char name[8];
	int id;
	char claimed[N_RECORDS][16]; /* record ids this station wrote */
	int n;
	char msg[300];
};

/* One station: lease, then provision until nothing is left for it. */
static void *run_station(void *arg)
{
	struct station_run *w = arg;
	struct store *s = NULL;
	struct store_err err = {0};
	int64_t held = 0;
	int rc;

	if (store_open(&s, w->db, 0, NULL, &err)) {
		snprintf(w->msg, sizeof(w->msg), "open: %s", err.msg);
		pthread_barrier_wait(&start_line);
		pthread_barrier_wait(&fills_done);
		return NULL;
	}
	pthread_barrier_wait(&start_line);
	while ((rc = store_lease_fill(s, w->name, "lamp", LEASE_EACH, &held, &err)) == STORE_EBUSY)
		;
	if (rc)
		snprintf(w->msg, sizeof(w->msg), "fill: %s", err.msg);
	/* every lease is taken before anyone claims: a claim that ignored
	 * leases would then surely take another station's record */
	pthread_barrier_wait(&fills_done);
	for (int dev = 0; !rc; dev++) {
		char mac[24];
		struct store_record *r = NULL;
		snprintf(mac, sizeof(mac), "%02x:00:00:00:00:%02x", w->id & 0xff, dev & 0xff);
		struct store_claim_req req = {.product = "lamp", .station = w->name, .port = "p0", .mac = mac};
		while ((rc = store_claim(s, &req, &r, &err)) == STORE_EBUSY)
			;
		if (rc == STORE_EEMPTY)
			break;
		if (!rc)
			while ((rc = store_mark_sent(s, r->job_id, &err)) == STORE_EBUSY)
				;
		if (!rc)
			while ((rc = store_mark_verified(s, r->job_id, NULL, &err)) == STORE_EBUSY)
				;
		if (rc || w->n >= N_RECORDS) {
			snprintf(w->msg, sizeof(w->msg), "device %s: %s", mac, rc ? err.msg : "too many records");
			store_record_free(r);
			goto out;
		}
		snprintf(w->claimed[w->n++], sizeof(w->claimed[0]), "%s", r->record_id);
		store_record_free(r);
	}
out:
	store_close(s);
	return NULL;
}

/* Which station wrote record id (NULL: none). */
static const char *writer_of(struct station_run *w, const char *id)
{
	for (int i = 0; i < N_STATIONS; i++)
		for (int k = 0; k < w[i].n; k++)
			if (!strcmp(w[i].claimed[k], id))
				return w[i].name;
	return NULL;
}

/* Four stations lease and claim at once: every record is written once, and
 * every record a station leased was written by that station. */
static void test_store_lease_stations_at_once(void **state)
{
	(void)state;
	struct tu_fx *f = tu_fx_new(NULL, 0, N_RECORDS);
	struct station_run w[N_STATIONS];
	pthread_t t[N_STATIONS];
	struct store_audit_filter af = {0};
	struct store_err err = {0};
	json_t *j = NULL, *row;
	size_t i, leased = 0;
	int total = 0;

	assert_non_null(f);
	memset(w, 0, sizeof(w));
	pthread_barrier_init(&start_line, NULL, N_STATIONS);
	pthread_barrier_init(&fills_done, NULL, N_STATIONS);
	for (int k = 0; k < N_STATIONS; k++) {
		w[k].db = f->db;
		w[k].id = k + 1;
		snprintf(w[k].name, sizeof(w[k].name), "L%d", k + 1);
		assert_int_equal(pthread_create(&t[k], NULL, run_station, &w[k]), 0);
	}
	for (int k = 0; k < N_STATIONS; k++) {
		pthread_join(t[k], NULL);
		if (w[k].msg[0])
			fail_msg("station %s: %s", w[k].name, w[k].msg);
		total += w[k].n;
	}
	pthread_barrier_destroy(&start_line);
	pthread_barrier_destroy(&fills_done);
	assert_int_equal(total, N_RECORDS);
	for (int k = 0; k < N_STATIONS; k++)
		for (int n = 0; n < w[k].n; n++)
			if (writer_of(w, w[k].claimed[n]) != w[k].name)
				fail_msg("record %s written twice", w[k].claimed[n]);
	assert_int_equal(store_query_audit(f->s, &af, &j, &err), 0);
	json_array_foreach(json_object_get(j, "audit"), i, row) {
		if (strcmp(json_string_value(json_object_get(row, "event")), "lease"))
			continue;
		const char *st = json_string_value(json_object_get(row, "station"));
		const char *id = json_string_value(json_object_get(row, "record_id"));
		const char *by = writer_of(w, id);
		if (!by || strcmp(by, st))
			fail_msg("record %s leased to %s was written by %s", id, st, by ? by : "nobody");
		leased++;
	}
	json_decref(j);
	assert_int_equal(leased, N_STATIONS * LEASE_EACH); /* 40 records: every fill found 5 */
	assert_int_equal(store_check(f->s, &err), 0);
	tu_fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_lease_other_station_never_takes_leased, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_own_records_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_fill_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_release_returns_unbound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_two_products, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_follows_the_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_check_detects_forgery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_lease_pg_roles, setup, teardown),
		cmocka_unit_test(test_store_lease_stations_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
