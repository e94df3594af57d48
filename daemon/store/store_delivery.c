/* Exactly-once delivery of espfabd's held results (store.h, EXACTLY ONCE):
 * the id's form and the comparison of a repeat with the stored row, shared
 * by both backends, and the SQLite store's lookup. The id is looked up
 * inside the caller's transaction, after the job row is read: a repeat
 * then never reaches the state checks, which would refuse it (a verified
 * job cannot be verified again) although it is the same, stored, result. */
#include <string.h>

#include "store_int.h"

int store_delivery_valid(const char *id, struct store_err *err)
{
	size_t n = strspn(id, "0123456789abcdef");

	if (n != STORE_DELIVERY_LEN || id[n])
		return store_fail_err(err, STORE_EINPUT, "delivery id: want %d lower-case hex digits",
				      STORE_DELIVERY_LEN);
	return 0;
}

static int same_str(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

int store_delivery_match(const struct store_audit_entry *a, const char *event, const char *result,
			 const struct store_delivery_row *row, struct store_err *err)
{
	const char *ev = a->event ? a->event : event ? event : "note";
	const char *res = a->result ? a->result : result ? result : "unknown";
	int64_t job = a->job_id > 0 ? a->job_id : 0;

	/* The columns that tell one result from another; the timings and
	 * digests of one result never differ between its deliveries. */
	if (row->job_id == job && same_str(row->event, ev) && same_str(row->result, res) &&
	    same_str(row->mac, a->mac) && same_str(row->error, a->error))
		return 1;
	return store_fail_err(err, STORE_EINPUT,
			      "delivery %s is stored already (audit row %lld) with another result: not stored again",
			      a->delivery, (long long)row->id);
}

int store_delivery_seen(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
			struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!a || !a->delivery)
		return 0;
	if ((rc = store_delivery_valid(a->delivery, err)))
		return rc;
	rc = store_prep(s, &st,
			"SELECT id, event, result, coalesce(job_id, 0), mac, error FROM audit WHERE delivery = ?", err);
	if (rc)
		return rc;
	store_bind_text(st, 1, a->delivery);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct store_delivery_row row = {
			.id = sqlite3_column_int64(st, 0),
			.event = (const char *)sqlite3_column_text(st, 1),
			.result = (const char *)sqlite3_column_text(st, 2),
			.job_id = sqlite3_column_int64(st, 3),
			.mac = (const char *)sqlite3_column_text(st, 4),
			.error = (const char *)sqlite3_column_text(st, 5),
		};
		rc = store_delivery_match(a, event, result, &row, err);
	} else {
		rc = rc == SQLITE_DONE ? 0 : store_db_err(s, err, "audit");
	}
	store_unprep(s, st);
	return rc;
}
