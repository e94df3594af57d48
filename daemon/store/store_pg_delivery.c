/* Exactly-once delivery on PostgreSQL: the lookup of a delivery id inside
 * the caller's transaction (the SQLite twin and the rules are in
 * store_delivery.c). The caller holds its job's row lock, so the same job's
 * repeat from another connection waits for this one's outcome; an audit-
 * only repeat racing on two connections at once (espfabd never does: one
 * main thread delivers) is stopped by the unique index audit_delivery. */
#include "store_pg.h"

int pg_delivery_seen(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
		     struct store_err *err)
{
	PGresult *r;
	int rc;

	if (!a || !a->delivery)
		return 0;
	if ((rc = store_delivery_valid(a->delivery, err)))
		return rc;
	r = pg_q(s, err, "audit",
		 "SELECT id, event, result, coalesce(job_id, 0), mac, error FROM audit WHERE delivery = $1", "s",
		 a->delivery);
	if (!r)
		return err ? err->code : STORE_EDB;
	rc = 0;
	if (PQntuples(r) == 1) {
		struct store_delivery_row row = {
			.id = pg_i64(r, 0, 0),
			.event = pg_str(r, 0, 1),
			.result = pg_str(r, 0, 2),
			.job_id = pg_i64(r, 0, 3),
			.mac = pg_str(r, 0, 4),
			.error = pg_str(r, 0, 5),
		};
		rc = store_delivery_match(a, event, result, &row, err);
	}
	PQclear(r);
	return rc;
}
