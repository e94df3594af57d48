/* The lifecycle: claim, send, verify, release, fail, retire, recover. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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
	/* Every test leaves a database that satisfies the invariant. */
	int rc = store_check(f->s, &err);
	if (rc)
		fprintf(stderr, "check: %s\n", err.msg);
	tu_fx_free(f);
	return rc ? -1 : 0;
}

static struct store_record *claim(struct tu_fx *f, const char *mac, int64_t batch, int expect)
{
	struct store_claim_req req = {.product = "lamp", .batch_id = batch, .station = "st1", .port = "/dev/ttyUSB0",
				      .mac = mac, .chip = "ESP32"};
	struct store_record *r = NULL;
	struct store_err err = {0};
	int rc = store_claim(f->s, &req, &r, &err);
	if (rc != expect)
		fail_msg("claim %s: %d (%s), expected %d", mac, rc, err.msg, expect);
	return r;
}

static const char *record_state(struct tu_fx *f, const char *record_id)
{
	static char buf[32];
	json_t *j = NULL;
	struct store_err err = {0};
	struct store_record_filter flt = {.product = "lamp"};
	assert_int_equal(store_query_records(f->s, &flt, &j, &err), 0);
	size_t i;
	json_t *r;
	buf[0] = 0;
	json_array_foreach(json_object_get(j, "records"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "id")), record_id))
			snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(r, "state")));
	json_decref(j);
	return buf;
}

static void test_store_claim_full_lifecycle(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "AA:00:00:00:00:01", 0, 0);
	assert_string_equal(r->record_id, "1");
	assert_string_equal(r->mac, "aa:00:00:00:00:01");
	assert_int_equal(r->reused, 0);
	assert_int_equal(r->n_values, 3);
	assert_string_equal(r->values[1].field->key, "DeviceSecret");
	assert_string_equal((char *)r->values[1].data, "secret-00000001");
	assert_string_equal(r->values[1].field->namespace_, "mass_prod");
	assert_string_equal(r->product->part_label, "nvs");
	assert_int_equal(r->product->part_offset, 0x9000);
	assert_string_equal(record_state(f, "1"), "reserved");
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_string_equal(record_state(f, "1"), "sent");
	struct store_audit_entry a = {.image_sha256 = "ab", .flash_md5 = "cd", .baud = 921600, .retries = 1,
				      .duration_ms = 1234};
	assert_int_equal(store_mark_verified(f->s, r->job_id, &a, &err), 0);
	assert_string_equal(record_state(f, "1"), "verified");
	/* the same job cannot be verified or sent twice */
	assert_int_equal(store_mark_verified(f->s, r->job_id, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), STORE_ESTATE);
	/* the audit row carries the daemon's facts and the job's identity */
	json_t *j = NULL;
	struct store_audit_filter af = {.mac = "aa:00:00:00:00:01"};
	assert_int_equal(store_query_audit(f->s, &af, &j, &err), 0);
	json_t *row = json_array_get(json_object_get(j, "audit"), 0);
	assert_string_equal(json_string_value(json_object_get(row, "result")), "ok");
	assert_string_equal(json_string_value(json_object_get(row, "record_id")), "1");
	assert_string_equal(json_string_value(json_object_get(row, "port")), "/dev/ttyUSB0");
	assert_string_equal(json_string_value(json_object_get(row, "chip")), "ESP32");
	assert_int_equal(json_integer_value(json_object_get(row, "baud")), 921600);
	assert_int_equal(json_integer_value(json_object_get(row, "duration_ms")), 1234);
	char *dump = json_dumps(j, 0);
	assert_null(strstr(dump, "secret-0000"));
	free(dump);
	json_decref(j);
	store_record_free(r);
}

static void test_store_claim_release_before_send_returns_record(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_int_equal(store_release(f->s, r->job_id, "no sync", NULL, &err), 0);
	assert_string_equal(record_state(f, "1"), "available");
	/* a released job cannot be sent: the daemon must write nothing */
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), STORE_ESTATE);
	assert_non_null(strstr(err.msg, "write nothing"));
	store_record_free(r);
	/* another device now gets record 1 */
	r = claim(f, "aa:00:00:00:00:02", 0, 0);
	assert_string_equal(r->record_id, "1");
	store_record_free(r);
}

static void test_store_claim_bound_after_send_is_forever(void **state)
{
	TU_SQLITE_ONLY();
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_int_equal(store_fail(f->s, r->job_id, "verify mismatch", NULL, &err), 0);
	assert_string_equal(record_state(f, "1"), "sent");
	/* release after send is refused */
	assert_int_equal(store_release(f->s, r->job_id, "x", NULL, &err), STORE_ESTATE);
	store_record_free(r);
	/* another device never gets record 1 */
	r = claim(f, "aa:00:00:00:00:02", 0, 0);
	assert_string_equal(r->record_id, "2");
	store_record_free(r);
	/* the same device comes back: same record, idempotent */
	r = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_string_equal(r->record_id, "1");
	assert_int_equal(r->reused, 1);
	/* releasing the new attempt does not unbind the record */
	assert_int_equal(store_release(f->s, r->job_id, "no sync", NULL, &err), 0);
	assert_string_equal(record_state(f, "1"), "sent");
	store_record_free(r);
	/* not even raw SQL can unbind it */
	sqlite3 *raw;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE records SET mac = 'bb:00:00:00:00:01' WHERE record_id = '1'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE records SET state = 'available', mac = NULL, bound = 0 "
					       "WHERE record_id = '1'",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "DELETE FROM records WHERE record_id = '1'", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(raw);
}

static void test_store_claim_same_mac_across_batches(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t b1, b2;
	assert_int_equal(store_batch_add(f->s, "lamp", 1, NULL, 0, &b1, &err), 0);
	assert_int_equal(store_batch_add(f->s, "lamp", 2, NULL, 0, &b2, &err), 0);
	struct store_record *r = claim(f, "aa:00:00:00:00:01", b1, 0);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_int_equal(store_mark_verified(f->s, r->job_id, NULL, &err), 0);
	store_record_free(r);
	/* batch 1 is done after its one device */
	json_t *j = NULL;
	assert_int_equal(store_batch_query(f->s, b1, &j, &err), 0);
	json_t *b = json_array_get(json_object_get(j, "batches"), 0);
	assert_string_equal(json_string_value(json_object_get(b, "state")), "done");
	assert_int_equal(json_integer_value(json_object_get(b, "verified")), 1);
	json_decref(j);
	claim(f, "aa:00:00:00:00:02", b1, STORE_EBATCH);
	/* the device comes back during batch 2: same record */
	r = claim(f, "aa:00:00:00:00:01", b2, 0);
	assert_string_equal(r->record_id, "1");
	assert_int_equal(r->reused, 1);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_int_equal(store_mark_verified(f->s, r->job_id, NULL, &err), 0);
	assert_string_equal(record_state(f, "1"), "verified");
	store_record_free(r);
}

static void test_store_claim_batch_rules(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t b;
	assert_int_equal(store_batch_add(f->s, "lamp", 2, (const char *const[]){"p0", "/dev/ttyUSB0"}, 2, &b, &err), 0);
	/* a port outside the batch's filter */
	struct store_claim_req other = {.product = "lamp", .batch_id = b, .station = "st1", .port = "/dev/ttyUSB7",
					.mac = "aa:00:00:00:00:07"};
	struct store_record *none = NULL;
	assert_int_equal(store_claim(f->s, &other, &none, &err), STORE_EBATCH);
	assert_non_null(strstr(err.msg, "not one of batch"));
	struct store_record *r1 = claim(f, "aa:00:00:00:00:01", b, 0);
	struct store_record *r2 = claim(f, "aa:00:00:00:00:02", b, 0);
	/* two in flight fill a batch of two */
	claim(f, "aa:00:00:00:00:03", b, STORE_EBATCH);
	assert_int_equal(store_release(f->s, r2->job_id, "gone", NULL, &err), 0);
	assert_int_equal(store_batch_set(f->s, b, STORE_BATCH_PAUSE, &err), 0);
	claim(f, "aa:00:00:00:00:03", b, STORE_EBATCH);
	assert_int_equal(store_batch_set(f->s, b, STORE_BATCH_PAUSE, &err), STORE_ESTATE);
	assert_int_equal(store_batch_set(f->s, b, STORE_BATCH_RESUME, &err), 0);
	struct store_record *r3 = claim(f, "aa:00:00:00:00:03", b, 0);
	assert_int_equal(store_batch_set(f->s, b, STORE_BATCH_CANCEL, &err), 0);
	claim(f, "aa:00:00:00:00:04", b, STORE_EBATCH);
	assert_int_equal(store_batch_set(f->s, b, STORE_BATCH_RESUME, &err), STORE_ESTATE);
	/* in-flight jobs of a cancelled batch still finish */
	assert_int_equal(store_mark_sent(f->s, r1->job_id, &err), 0);
	assert_int_equal(store_mark_verified(f->s, r1->job_id, NULL, &err), 0);
	json_t *j = NULL;
	assert_int_equal(store_batch_query(f->s, b, &j, &err), 0);
	json_t *o = json_array_get(json_object_get(j, "batches"), 0);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "cancelled");
	assert_int_equal(json_integer_value(json_object_get(o, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "in_flight")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "ports"), 1)), "/dev/ttyUSB0");
	json_decref(j);
	assert_int_equal(store_batch_set(f->s, 999, STORE_BATCH_PAUSE, &err), STORE_ENOTFOUND);
	/* a batch of another product */
	assert_int_equal(tu_add_product(f->s, "other", NULL, 0, &err), 0);
	int64_t ob;
	assert_int_equal(store_batch_add(f->s, "other", 1, NULL, 0, &ob, &err), 0);
	claim(f, "aa:00:00:00:00:05", ob, STORE_EBATCH);
	store_record_free(r1);
	store_record_free(r2);
	assert_int_equal(store_release(f->s, r3->job_id, "cancel", NULL, &err), 0);
	store_record_free(r3);
}

static void test_store_claim_empty_and_retired(void **state)
{
	TU_SQLITE_ONLY();
	struct tu_fx *f = *state;
	struct store_err err = {0};
	char mac[32];
	for (int i = 1; i <= 5; i++) {
		snprintf(mac, sizeof(mac), "aa:00:00:00:00:%02d", i);
		struct store_record *r = claim(f, mac, 0, 0);
		assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
		store_record_free(r);
	}
	claim(f, "aa:00:00:00:00:99", 0, STORE_EEMPTY);
	assert_int_equal(store_retire(f->s, "lamp", "3", "", &err), STORE_EINPUT);
	assert_int_equal(store_retire(f->s, "lamp", "3", "returned, secret leaked", &err), 0);
	assert_string_equal(record_state(f, "3"), "retired");
	assert_int_equal(store_retire(f->s, "lamp", "3", "again", &err), STORE_ESTATE);
	assert_int_equal(store_retire(f->s, "lamp", "nope", "x", &err), STORE_ENOTFOUND);
	claim(f, "aa:00:00:00:00:03", 0, STORE_ERETIRED);
	/* the retire is audited, with the record's MAC */
	json_t *j = NULL;
	struct store_audit_filter af = {.mac = "aa:00:00:00:00:03"};
	assert_int_equal(store_query_audit(f->s, &af, &j, &err), 0);
	json_t *row = json_array_get(json_object_get(j, "audit"), json_array_size(json_object_get(j, "audit")) - 1);
	assert_string_equal(json_string_value(json_object_get(row, "event")), "retire");
	assert_string_equal(json_string_value(json_object_get(row, "error")), "returned, secret leaked");
	json_decref(j);
	/* a retired record stays retired, even for raw SQL */
	sqlite3 *raw;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(raw, "UPDATE records SET state = 'sent' WHERE record_id = '3'", NULL, NULL, NULL),
			     SQLITE_OK);
	sqlite3_close(raw);
}

static void test_store_claim_reserved_cannot_be_retired_and_mac_rules(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_int_equal(store_retire(f->s, "lamp", "1", "x", &err), STORE_ESTATE);
	/* a second claim by the same MAC supersedes the stale reservation */
	struct store_record *again = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_string_equal(again->record_id, "1");
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), STORE_ESTATE);
	assert_int_equal(store_mark_sent(f->s, again->job_id, &err), 0);
	store_record_free(r);
	/* ... and so is a job that had sent bytes when its station lost track */
	struct store_record *third = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_string_equal(third->record_id, "1");
	assert_int_equal(store_mark_verified(f->s, again->job_id, NULL, &err), STORE_ESTATE);
	assert_int_equal(store_mark_sent(f->s, third->job_id, &err), 0);
	assert_int_equal(store_mark_verified(f->s, third->job_id, NULL, &err), 0);
	assert_int_equal(store_check(f->s, &err), 0);
	store_record_free(third);
	store_record_free(again);
	claim(f, "not-a-mac", 0, STORE_EINPUT);
	struct store_claim_req req = {.product = "nope", .station = "s", .port = "p", .mac = "aa:00:00:00:00:09"};
	assert_int_equal(store_claim(f->s, &req, &r, &err), STORE_ENOTFOUND);
	assert_null(r);
}

/* The triggers hold against raw SQL too: REPLACE removes rows without
 * firing DELETE triggers, so it must be refused outright. */
static void test_store_claim_raw_sql_cannot_replace_or_rebind(void **state)
{
	TU_SQLITE_ONLY();
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "aa:00:00:00:00:77", 0, 0);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	char rid[64];
	snprintf(rid, sizeof(rid), "%s", r->record_id);
	store_record_free(r);

	sqlite3 *raw;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	/* A plain sqlite3 session: foreign keys off, as SQLite defaults. */
	static const char *const forged[] = {
		/* a bound record swapped for a fresh 'available' one, same id */
		"INSERT OR REPLACE INTO records (id, product_id, record_id, import_id) "
		"SELECT id, product_id, record_id, import_id FROM records WHERE state = 'sent'",
		"REPLACE INTO records (id, product_id, record_id, import_id) "
		"SELECT id + 1000, product_id, record_id, import_id FROM records WHERE state = 'sent'",
		/* ... or pushed out by its unique MAC, inserting or updating */
		"INSERT OR REPLACE INTO records (product_id, record_id, import_id, mac, state, job_id) "
		"SELECT product_id, 'other', import_id, mac, 'reserved', 1 FROM records WHERE state = 'sent'",
		"UPDATE OR REPLACE records SET mac = (SELECT mac FROM records WHERE state = 'sent'), "
		"state = 'reserved', job_id = 1 WHERE state = 'available'",
		"UPDATE OR REPLACE records SET record_id = (SELECT record_id FROM records WHERE state = 'sent') "
		"WHERE state = 'available'",
		/* an audit row overwritten */
		"INSERT OR REPLACE INTO audit (id, time, event, result) SELECT id, time, 'forged', 'ok' FROM audit",
		/* what the device received, changed or dropped */
		"UPDATE record_values SET value = X'00'",
		"DELETE FROM record_values",
		"INSERT OR REPLACE INTO record_values (record_id, pos, value) SELECT record_id, pos, X'00' "
		"FROM record_values",
	};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++)
		if (sqlite3_exec(raw, forged[i], NULL, NULL, NULL) == SQLITE_OK)
			fail_msg("accepted: %s", forged[i]);
	sqlite3_close(raw);
	assert_string_equal(record_state(f, rid), "sent");
	/* The record stays with its device: another MAC cannot get it. */
	for (int i = 0; i < 4; i++) {
		char mac[32];
		snprintf(mac, sizeof(mac), "bb:00:00:00:00:%02x", i);
		r = claim(f, mac, 0, 0);
		assert_string_not_equal(r->record_id, rid);
		store_record_free(r);
	}
	claim(f, "bb:00:00:00:00:ff", 0, STORE_EEMPTY);
}

static void test_store_claim_recover(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_recovery rep;
	struct store_record *a = claim(f, "aa:00:00:00:00:01", 0, 0); /* reserved only */
	struct store_record *b = claim(f, "aa:00:00:00:00:02", 0, 0); /* sent */
	struct store_record *c = claim(f, "aa:00:00:00:00:03", 0, 0); /* verified */
	assert_int_equal(store_mark_sent(f->s, b->job_id, &err), 0);
	assert_int_equal(store_mark_sent(f->s, c->job_id, &err), 0);
	assert_int_equal(store_mark_verified(f->s, c->job_id, NULL, &err), 0);
	/* another station's jobs are not touched */
	assert_int_equal(store_recover(f->s, "elsewhere", &rep, &err), 0);
	assert_int_equal(rep.released + rep.interrupted, 0);
	assert_int_equal(store_recover(f->s, "st1", &rep, &err), 0);
	assert_int_equal(rep.released, 1);
	assert_int_equal(rep.interrupted, 1);
	assert_string_equal(record_state(f, a->record_id), "available");
	assert_string_equal(record_state(f, b->record_id), "sent");
	assert_string_equal(record_state(f, c->record_id), "verified");
	/* the crashed worker's late calls are refused */
	assert_int_equal(store_mark_sent(f->s, a->job_id, &err), STORE_ESTATE);
	assert_int_equal(store_mark_verified(f->s, b->job_id, NULL, &err), STORE_ESTATE);
	/* device b comes back and gets its record again */
	struct store_record *b2 = claim(f, "aa:00:00:00:00:02", 0, 0);
	assert_string_equal(b2->record_id, b->record_id);
	assert_int_equal(store_recover(f->s, NULL, &rep, &err), 0);
	assert_int_equal(rep.released, 1);
	store_record_free(a);
	store_record_free(b);
	store_record_free(b2);
	store_record_free(c);
}

static void test_store_claim_check_detects_violation(void **state)
{
	TU_SQLITE_ONLY();
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store_record *r = claim(f, "aa:00:00:00:00:01", 0, 0);
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	store_record_free(r);
	assert_int_equal(store_check(f->s, &err), 0);
	/* forge a second device's job on record 1 behind the store's back */
	sqlite3 *raw;
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw,
				      "INSERT INTO jobs (record_id, station, port, mac, state, created) "
				      "SELECT id, 's', 'p', 'bb:00:00:00:00:01', 'verified', 'now' FROM records "
				      "WHERE record_id = '1'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(store_check(f->s, &err), STORE_ESTATE);
	assert_non_null(strstr(err.msg, "other than the one it is bound to"));
	/* repair so teardown's check passes */
	assert_int_equal(sqlite3_open(f->db, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "DELETE FROM jobs WHERE mac = 'bb:00:00:00:00:01'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_claim_full_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_release_before_send_returns_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_bound_after_send_is_forever, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_same_mac_across_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_batch_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_empty_and_retired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_reserved_cannot_be_retired_and_mac_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_raw_sql_cannot_replace_or_rebind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_claim_check_detects_violation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
