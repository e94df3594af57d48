/* A station's lease on PostgreSQL (store.h has the rules; the SQLite twin is
 * store_lease.c; schemas/pg/002_lease.sql the column, the end of a lease
 * when its record leaves the pool and who may release it). Leasing and
 * picking lock with FOR UPDATE SKIP LOCKED, as the claim does: stations
 * filling or claiming at once never wait for one another's records. */
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

static const struct {
	const char *what;
	const char *sql;
} lease_rules[] = {
	{"a leased record is out of the pool (bound, sent, verified or retired)",
	 "SELECT record_id FROM records WHERE lease_station IS NOT NULL AND "
	 "(bound = 1 OR state NOT IN ('available', 'reserved')) LIMIT 1"},
	{"a record leased to one station is reserved by another",
	 "SELECT record_id FROM records WHERE lease_station IS NOT NULL AND state = 'reserved' AND "
	 "station IS DISTINCT FROM lease_station LIMIT 1"},
};

/* Inside pg_check's snapshot. */
int pg_lease_check(struct store *s, struct store_err *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(lease_rules) / sizeof(lease_rules[0]); i++) {
		PGresult *r = pg_q(s, err, "check", lease_rules[i].sql, "");
		if (!r)
			return RC(err);
		if (PQntuples(r) > 0)
			rc = store_fail_err(err, STORE_ESTATE, "invariant broken: %s (record '%s')",
					    lease_rules[i].what, PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	return rc;
}

PGresult *pg_lease_pick(struct store *s, int64_t product_id, const char *station, struct store_err *err)
{
	PGresult *r = pg_q(s, err, "records",
			   "SELECT id, record_id, sealed FROM records WHERE product_id = $1 AND state = 'available' "
			   "AND lease_station = $2 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
			   "is", product_id, station);
	if (!r || PQntuples(r) == 1)
		return r;
	PQclear(r);
	/* READ COMMITTED re-checks a row locked and changed meanwhile: a
	 * record another station leased after this statement's snapshot is
	 * skipped, not taken. */
	return pg_q(s, err, "records",
		    "SELECT id, record_id, sealed FROM records WHERE product_id = $1 AND state = 'available' "
		    "AND lease_station IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
		    "i", product_id);
}

/* One audit row per record leased or given back (store_lease_entry). */
static int lease_audit(struct store *s, const char *station, const char *product, const char *record_id,
		       const char *result, const char *reason, struct store_err *err)
{
	struct store_audit_entry a = store_lease_entry(station, product, record_id, reason);
	return pg_audit_insert(s, &a, "lease", result, err);
}

int pg_lease_fill(struct store *s, const char *station, const char *product, int64_t n, int64_t *held,
		  struct store_err *err)
{
	PGresult *r = NULL;
	int64_t pid = 0, have = 0;
	int rc, got = 0;

	if (held)
		*held = 0;
	if ((rc = store_lease_args(station, err)))
		return rc;
	if (n < 0 || n > STORE_LEASE_MAX)
		return store_fail_err(err, STORE_EINPUT, "lease size %lld: expected 0..%d", (long long)n,
				      STORE_LEASE_MAX);
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_product_id(s, product, &pid, err)))
		goto out;
	r = pg_q(s, err, "records",
		 "SELECT count(*) FROM records WHERE product_id = $1 AND state = 'available' AND lease_station = $2",
		 "is", pid, station);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	have = pg_i64(r, 0, 0);
	PQclear(r);
	r = NULL;
	if (have >= n)
		goto out;
	r = pg_q(s, err, "records",
		 "UPDATE records SET lease_station = $2 WHERE id IN (SELECT id FROM records WHERE product_id = $1 "
		 "AND state = 'available' AND lease_station IS NULL ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) "
		 "RETURNING record_id",
		 "isi", pid, station, n - have);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	got = PQntuples(r);
	for (int i = 0; i < got && !rc; i++)
		rc = lease_audit(s, station, product, PQgetvalue(r, i, 0), "leased", NULL, err);
out:
	PQclear(r);
	rc = pg_end(s, rc, err);
	if (!rc && held)
		*held = have + got;
	return rc;
}

int pg_lease_release(struct store *s, const char *station, const char *reason, int64_t *released,
		     struct store_err *err)
{
	PGresult *r = NULL;
	int rc, n = 0;

	if (released)
		*released = 0;
	if ((rc = store_lease_args(station, err)))
		return rc;
	/* Nothing leased (every start of a station without a lease): no
	 * UPDATE, which needs its grant even when it touches no row. */
	r = pg_q(s, err, "records", "SELECT 1 FROM records WHERE lease_station = $1 LIMIT 1", "s", station);
	if (!r)
		return RC(err);
	n = PQntuples(r);
	PQclear(r);
	r = NULL;
	if (!n)
		return 0;
	n = 0;
	if ((rc = pg_begin(s, err)))
		return rc;
	/* The trigger refuses the whole statement when this role may not
	 * release the lease: all or nothing. */
	r = pg_q(s, err, "records",
		 "UPDATE records r SET lease_station = NULL FROM products p WHERE p.id = r.product_id "
		 "AND r.lease_station = $1 RETURNING r.record_id, p.name",
		 "s", station);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	n = PQntuples(r);
	for (int i = 0; i < n && !rc; i++)
		rc = lease_audit(s, station, PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), "released", reason, err);
out:
	PQclear(r);
	rc = pg_end(s, rc, err);
	if (!rc && released)
		*released = n;
	return rc;
}

int pg_lease_available(struct store *s, const char *station, const char *product, int64_t *n, struct store_err *err)
{
	int64_t pid = 0;
	int rc;

	*n = 0;
	if ((rc = store_lease_args(station, err)) || (rc = pg_product_id(s, product, &pid, err)))
		return rc;
	PGresult *r = pg_q(s, err, "records",
			   "SELECT count(*) FROM records WHERE product_id = $1 AND state = 'available' AND "
			   "(lease_station IS NULL OR lease_station = $2)",
			   "is", pid, station);
	if (!r)
		return RC(err);
	*n = pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}
