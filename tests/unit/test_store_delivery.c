/* Exactly-once delivery (store.h, EXACTLY ONCE): a result handed in again
 * under its delivery id is stored once. Runs on SQLite and, through
 * tests/pg/run_unit.sh, on PostgreSQL (tests/unit/store_pg.cmake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store_testutil.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define ID3 "00000000000000000000000000000003"

static int setup(void **state)
{
	*state = tu_fx_new(NULL, 0, 5);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int rc = store_check(f->s, &err);
	if (rc)
		fprintf(stderr, "check: %s\n", err.msg);
	tu_fx_free(f);
	return rc ? -1 : 0;
}

/* The audit rows of mac whose event is event. */
static int rows(struct tu_fx *f, const char *mac, const char *event)
{
	struct store_audit_filter af = {.mac = mac};
	struct store_err err = {0};
	json_t *j = NULL, *row;
	size_t i;
	int n = 0;

	assert_int_equal(store_query_audit(f->s, &af, &j, &err), 0);
	json_array_foreach(json_object_get(j, "audit"), i, row)
		n += !strcmp(json_string_value(json_object_get(row, "event")), event);
	json_decref(j);
	return n;
}

static json_int_t batch_field(struct tu_fx *f, int64_t id, const char *key)
{
	struct store_err err = {0};
	json_t *j = NULL;
	json_int_t v;

	assert_int_equal(store_batch_query(f->s, id, &j, &err), 0);
	v = json_integer_value(json_object_get(json_array_get(json_object_get(j, "batches"), 0), key));
	json_decref(j);
	return v;
}

static struct store_record *claim_sent(struct tu_fx *f, const char *mac, int64_t batch)
{
	struct store_claim_req req = {.product = "lamp", .batch_id = batch, .station = "st1", .port = "p0", .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};

	if (store_claim(f->s, &req, &r, &err))
		fail_msg("claim %s: %s", mac, err.msg);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	return r;
}

static void test_store_delivery_verified_twice_is_one_row_counted_once(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t batch = 0;

	assert_int_equal(store_batch_add(f->s, "lamp", 2, NULL, 0, &batch, &err), 0);
	struct store_record *r = claim_sent(f, "aa:00:00:00:00:01", batch);
	struct store_audit_entry a = {.station = "st1",
				      .port = "p0",
				      .mac = "aa:00:00:00:00:01",
				      .baud = 921600,
				      .retries = 0,
				      .duration_ms = 100,
				      .delivery = ID1};
	assert_int_equal(store_mark_verified(f->s, r->job_id, &a, &err), 0);
	/* The repeat after a crash lost the "delivered" mark: already stored. */
	err.msg[0] = '\0';
	assert_int_equal(store_mark_verified(f->s, r->job_id, &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:01", "provision"), 1);
	assert_int_equal(batch_field(f, batch, "verified"), 1);
	assert_int_equal(batch_field(f, batch, "remaining"), 1);
	/* Without its id the repeat is still the state error it always was. */
	a.delivery = NULL;
	assert_int_equal(store_mark_verified(f->s, r->job_id, &a, &err), STORE_ESTATE);
	assert_int_equal(rows(f, "aa:00:00:00:00:01", "provision"), 1);
	store_record_free(r);
}

static void test_store_delivery_audit_only_failure_twice_is_one_row(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	/* A device that failed before any claim: its result is this row only. */
	struct store_audit_entry a = {.event = "attempt",
				      .result = "failed",
				      .station = "st1",
				      .port = "p0",
				      .mac = "AA:00:00:00:00:02",
				      .baud = -1,
				      .retries = -1,
				      .duration_ms = 5,
				      .error = "no answer from the ROM",
				      .delivery = ID2};

	assert_int_equal(store_audit_append(f->s, &a, &err), 0);
	assert_int_equal(store_audit_append(f->s, &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:02", "attempt"), 1);
	/* Another failure of the same device is another result: its own row. */
	a.delivery = ID3;
	assert_int_equal(store_audit_append(f->s, &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:02", "attempt"), 2);
}

static void test_store_delivery_released_and_failed_twice(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_claim_req req = {.product = "lamp", .station = "st1", .port = "p0", .mac = "aa:00:00:00:00:03"};
	struct store_record *r1 = NULL, *r2;
	struct store_audit_entry a = {.baud = -1, .retries = -1, .duration_ms = -1, .delivery = ID1};

	assert_int_equal(store_claim(f->s, &req, &r1, &err), 0);
	assert_int_equal(store_release(f->s, r1->job_id, "no sync", &a, &err), 0);
	assert_int_equal(store_release(f->s, r1->job_id, "no sync", &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:03", "provision"), 1);
	r2 = claim_sent(f, "aa:00:00:00:00:04", 0);
	a.delivery = ID2;
	assert_int_equal(store_fail(f->s, r2->job_id, "verify mismatch", &a, &err), 0);
	assert_int_equal(store_fail(f->s, r2->job_id, "verify mismatch", &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:04", "provision"), 1);
	store_record_free(r1);
	store_record_free(r2);
}

static void test_store_delivery_id_on_another_result_is_refused(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r1 = claim_sent(f, "aa:00:00:00:00:05", 0), *r2 = claim_sent(f, "aa:00:00:00:00:06", 0);
	struct store_audit_entry a = {.baud = -1, .retries = -1, .duration_ms = -1, .delivery = ID1};
	struct store_audit_entry other = {.event = "attempt",
					  .result = "failed",
					  .mac = "aa:00:00:00:00:07",
					  .baud = -1,
					  .retries = -1,
					  .duration_ms = -1,
					  .delivery = ID1};

	assert_int_equal(store_mark_verified(f->s, r1->job_id, &a, &err), 0);
	/* another job under the same id: refused, and that job stays sent */
	assert_int_equal(store_mark_verified(f->s, r2->job_id, &a, &err), STORE_EINPUT);
	assert_non_null(strstr(err.msg, ID1));
	assert_int_equal(rows(f, "aa:00:00:00:00:06", "provision"), 0);
	/* the same job, another outcome: refused */
	assert_int_equal(store_fail(f->s, r1->job_id, "late failure", &a, &err), STORE_EINPUT);
	/* an audit-only result under it: refused, no row */
	assert_int_equal(store_audit_append(f->s, &other, &err), STORE_EINPUT);
	assert_int_equal(rows(f, "aa:00:00:00:00:07", "attempt"), 0);
	/* r2 can still be verified under its own id */
	a.delivery = ID2;
	assert_int_equal(store_mark_verified(f->s, r2->job_id, &a, &err), 0);
	assert_int_equal(rows(f, "aa:00:00:00:00:06", "provision"), 1);
	/* a malformed id is refused before anything is written */
	other.delivery = "0123456789ABCDEF0123456789ABCDEF";
	assert_int_equal(store_audit_append(f->s, &other, &err), STORE_EINPUT);
	other.delivery = "0123";
	assert_int_equal(store_audit_append(f->s, &other, &err), STORE_EINPUT);
	assert_int_equal(rows(f, "aa:00:00:00:00:07", "attempt"), 0);
	store_record_free(r1);
	store_record_free(r2);
}

/* The id is written once, by the INSERT: raw SQL can neither rewrite it
 * nor carry a REPLACE through its unique key. */
static void test_store_delivery_raw_sql_cannot_rewrite_or_replace(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_audit_entry a = {.event = "attempt",
				      .result = "failed",
				      .mac = "aa:00:00:00:00:08",
				      .baud = -1,
				      .retries = -1,
				      .duration_ms = -1,
				      .delivery = ID1};
	sqlite3 *raw = NULL;

	TU_SQLITE_ONLY();
	assert_int_equal(store_audit_append(f->s, &a, &err), 0);
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_not_equal(
		sqlite3_exec(raw, "UPDATE audit SET delivery = NULL WHERE delivery = '" ID1 "'", NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw,
					  "INSERT OR REPLACE INTO audit (time, event, result, delivery) VALUES "
					  "('t', 'note', 'x', '" ID1 "')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw,
					  "INSERT INTO audit (time, event, result, delivery) VALUES "
					  "('t', 'note', 'x', 'not-hex')",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(rows(f, "aa:00:00:00:00:08", "attempt"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_delivery_verified_twice_is_one_row_counted_once, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_delivery_audit_only_failure_twice_is_one_row, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_delivery_released_and_failed_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_delivery_id_on_another_result_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_delivery_raw_sql_cannot_rewrite_or_replace, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
