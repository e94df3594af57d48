/* The PostgreSQL backend's small calls: the seal key check, the audit
 * trail, uplink cursors, the invariant check, product lookups, and the
 * table of calls store_open() hands a PostgreSQL store (store_backend.h). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ---- sealing ---- */

int pg_db_sealed(struct store *s, int *sealed, struct store_err *err)
{
	PGresult *r = pg_q(s, err, "meta", "SELECT 1 FROM meta WHERE name = 'seal_check'", "");
	*sealed = 0;
	if (!r)
		return err ? err->code : STORE_EDB;
	*sealed = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

/* As store_seal_check(): need = 1 inside an import, where a key given to a
 * database without records becomes its key. */
int pg_seal_check(struct store *s, int need, struct store_err *err)
{
	uint8_t check[32];
	int rc = 0;
	PGresult *r = pg_q(s, err, "meta", "SELECT value FROM meta WHERE name = 'seal_check'", "");

	if (!r)
		return err ? err->code : STORE_EDB;
	if (PQntuples(r) > 0) {
		uint8_t *v = NULL;
		size_t vl = 0;
		if (!s->has_key) {
			PQclear(r);
			return need ? store_fail_err(err, STORE_ESEAL,
						     "the records are sealed: a seal key is needed (--seal-key)")
				    : 0;
		}
		rc = pg_bytea(r, 0, 0, &v, &vl, err);
		PQclear(r);
		if (rc)
			return rc;
		int ok = !store_seal_check_value(s, check) && vl == 32 && CRYPTO_memcmp(check, v, 32) == 0;
		free(v);
		return ok ? 0 : store_fail_err(err, STORE_ESEAL, "the seal key does not match this database");
	}
	PQclear(r);
	if (!s->has_key || !need)
		return 0;
	r = pg_q(s, err, "records", "SELECT EXISTS (SELECT 1 FROM records)", "");
	if (!r)
		return err ? err->code : STORE_EDB;
	int any = strcmp(PQgetvalue(r, 0, 0), "f") != 0;
	PQclear(r);
	if (any)
		return store_fail_err(err, STORE_ESEAL,
				      "this database already holds unsealed records: sealing must start empty");
	if (store_seal_check_value(s, check))
		return store_fail_err(err, STORE_ESEAL, "key derivation failed");
	return pg_x(s, err, NULL, "meta", "INSERT INTO meta (name, value) VALUES ('seal_check', $1)", "b", check,
		    sizeof(check));
}

/* ---- audit ---- */

int pg_audit_insert(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
		    struct store_err *err)
{
	char now[32];
	store_now(now, sizeof(now));
	return pg_x(s, err, NULL, "audit",
		    "INSERT INTO audit (time, event, station, port, chip, mac, product, record_id, batch_id, job_id, "
		    "image_sha256, flash_md5, baud, retries, duration_ms, result, error, delivery) VALUES ($1, $2, $3, "
		    "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
		    "ssssssssIIssNNNsss", now, a->event ? a->event : event ? event : "note", a->station, a->port, a->chip,
		    a->mac, a->product, a->record_id, a->batch_id, a->job_id, a->image_sha256, a->flash_md5, a->baud,
		    a->retries, a->duration_ms, a->result ? a->result : result ? result : "unknown", a->error,
		    a->delivery);
}

int pg_audit_append(struct store *s, const struct store_audit_entry *a, struct store_err *err)
{
	char mac[STORE_MAC_LEN + 1];
	struct store_audit_entry e = *a;
	int rc;

	if (e.mac && !store_mac_normalise(e.mac, mac))
		e.mac = mac;
	if ((rc = pg_begin(s, err)))
		return rc;
	/* As on SQLite: an audit-only result's repeat is caught by its id. */
	rc = pg_delivery_seen(s, &e, NULL, NULL, err);
	if (!rc)
		rc = pg_audit_insert(s, &e, NULL, NULL, err);
	return pg_end(s, rc > 0 ? 0 : rc, err);
}

/* ---- uplink cursors: the uplink table (a name's last delivered audit id) ---- */

static int cursor_check(const char *name, struct store_err *err)
{
	if (!name || !name[0] || strlen(name) > 500)
		return store_fail_err(err, STORE_EINPUT, "uplink name empty or too long");
	return 0;
}

int pg_uplink_cursor(struct store *s, const char *name, int64_t *last, struct store_err *err)
{
	PGresult *r;
	int rc;

	*last = 0;
	if ((rc = cursor_check(name, err)))
		return rc;
	if (!(r = pg_q(s, err, "uplink cursor", "SELECT last_id FROM uplink WHERE name = $1", "s", name)))
		return err ? err->code : STORE_EDB;
	if (PQntuples(r) == 1)
		*last = pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_uplink_advance(struct store *s, const char *name, int64_t last, struct store_err *err)
{
	int rc;

	if ((rc = cursor_check(name, err)))
		return rc;
	if (last < 0)
		return store_fail_err(err, STORE_EINPUT, "uplink cursor %lld is not a row id", (long long)last);
	/* Never back: one statement, atomic without a transaction of its own. */
	return pg_x(s, err, NULL, "uplink cursor",
		    "INSERT INTO uplink (name, last_id) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
		    "SET last_id = greatest(uplink.last_id, excluded.last_id)",
		    "si", name, last);
}

int pg_uplink_pending(struct store *s, int64_t after, int64_t *count, struct store_err *err)
{
	PGresult *r = pg_q(s, err, "uplink pending", "SELECT count(*) FROM audit WHERE id > $1", "i", after);
	*count = 0;
	if (!r)
		return err ? err->code : STORE_EDB;
	*count = pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* ---- the invariant: store_check.c's rules in PostgreSQL's words ---- */

static const struct {
	const char *what;
	const char *sql;
} rules[] = {
	{"an available record has a MAC, a job or a binding",
	 "SELECT record_id FROM records WHERE state = 'available' AND (mac IS NOT NULL OR bound = 1 OR job_id IS NOT NULL) LIMIT 1"},
	{"a reserved record has no open reservation of its MAC",
	 "SELECT r.record_id FROM records r WHERE r.state = 'reserved' AND NOT EXISTS (SELECT 1 FROM jobs j "
	 "WHERE j.id = r.job_id AND j.state = 'reserved' AND j.mac = r.mac AND j.record_id = r.id) LIMIT 1"},
	{"a sent or verified record is not bound to a MAC",
	 "SELECT record_id FROM records WHERE state IN ('sent', 'verified') AND (bound = 0 OR mac IS NULL) LIMIT 1"},
	{"a record reached a device other than the one it is bound to",
	 "SELECT r.record_id FROM records r JOIN jobs j ON j.record_id = r.id WHERE j.state IN "
	 "('sent', 'verified', 'failed', 'interrupted') AND (r.bound = 0 OR j.mac <> r.mac) LIMIT 1"},
	{"a record has two open jobs",
	 "SELECT r.record_id FROM records r JOIN jobs j ON j.record_id = r.id WHERE j.state IN ('reserved', 'sent') "
	 "GROUP BY r.id, r.record_id HAVING count(*) > 1 LIMIT 1"},
	{"a reserved job's record is not held for its MAC",
	 "SELECT r.record_id FROM jobs j JOIN records r ON r.id = j.record_id WHERE j.state = 'reserved' AND "
	 "(r.mac IS DISTINCT FROM j.mac OR r.state NOT IN ('reserved', 'sent', 'verified', 'retired')) LIMIT 1"},
	{"a verified record has no verified job",
	 "SELECT r.record_id FROM records r WHERE r.state = 'verified' AND NOT EXISTS (SELECT 1 FROM jobs j "
	 "WHERE j.record_id = r.id AND j.state = 'verified') LIMIT 1"},
	{"a record has no values",
	 "SELECT r.record_id FROM records r WHERE NOT EXISTS (SELECT 1 FROM record_values v WHERE v.record_id = r.id) LIMIT 1"},
	{"a batch counts more verified devices than it has verified jobs",
	 "SELECT CAST(b.id AS TEXT) FROM batches b WHERE (SELECT coalesce(sum(c.n_verified), 0) FROM batch_counts c "
	 "WHERE c.batch_id = b.id) <> (SELECT count(*) FROM jobs j WHERE j.batch_id = b.id AND j.state = 'verified') "
	 "LIMIT 1"},
	/* store_pg_batch.c: only an open or verified job holds a place */
	{"a batch place is held by a job that ended unverified",
	 "SELECT CAST(p.batch_id AS TEXT) FROM batch_places p JOIN jobs j ON j.id = p.job_id "
	 "WHERE j.state NOT IN ('reserved', 'sent', 'verified') LIMIT 1"},
	{"an open job of a batch holds no place in it",
	 "SELECT CAST(j.batch_id AS TEXT) FROM jobs j JOIN batches b ON b.id = j.batch_id "
	 "WHERE j.state IN ('reserved', 'sent') AND b.state IN ('active', 'paused') AND NOT EXISTS "
	 "(SELECT 1 FROM batch_places p WHERE p.job_id = j.id AND p.batch_id = j.batch_id) LIMIT 1"},
};

int pg_check(struct store *s, struct store_err *err)
{
	/* One snapshot for every rule, so a station working meanwhile cannot
	 * make two rules see two different moments. */
	int rc = pg_begin(s, err);
	if (rc)
		return rc;
	if (!pg_of(s)->txn)
		rc = pg_x(s, err, NULL, "check", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", "");
	for (size_t i = 0; !rc && i < sizeof(rules) / sizeof(rules[0]); i++) {
		PGresult *r = pg_q(s, err, "check", rules[i].sql, "");
		if (!r) {
			rc = err ? err->code : STORE_EDB;
			break;
		}
		if (PQntuples(r) > 0)
			rc = store_fail_err(err, STORE_ESTATE, "invariant broken: %s (record '%s')", rules[i].what,
					    PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	if (!rc)
		rc = pg_lease_check(s, err);
	pg_rollback(s);
	return rc;
}

/* ---- products: the small lookups the other files share ---- */

int pg_product_id(struct store *s, const char *name, int64_t *id, struct store_err *err)
{
	PGresult *r = pg_q(s, err, "products", "SELECT id FROM products WHERE name = $1", "s", name);
	int rc = 0;
	if (!r)
		return err ? err->code : STORE_EDB;
	if (PQntuples(r) == 1)
		*id = pg_i64(r, 0, 0);
	else
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product '%s'", name ? name : "");
	PQclear(r);
	return rc;
}

const struct store_backend store_pg_backend = {
	.name = "postgresql",
	.close = pg_close,
	.txn_begin = pg_txn_begin,
	.txn_commit = pg_txn_commit,
	.txn_rollback = pg_txn_rollback,
	.product_add = pg_product_add,
	.product_get = pg_product_get,
	.product_firmware = pg_product_firmware,
	.product_query = pg_product_query,
	.import_csv = pg_import_csv,
	.claim = pg_claim,
	.mark_sent = pg_mark_sent,
	.mark_verified = pg_mark_verified,
	.release = pg_release,
	.fail = pg_fail,
	.retire = pg_retire,
	.recover = pg_recover,
	.check = pg_check,
	.batch_add = pg_batch_add,
	.batch_set = pg_batch_set,
	.batch_query = pg_batch_query,
	.batch_active = pg_batch_active,
	.audit_append = pg_audit_append,
	.query_records = pg_query_records,
	.query_stats = pg_query_stats,
	.query_audit = pg_query_audit,
	.uplink_cursor = pg_uplink_cursor,
	.uplink_advance = pg_uplink_advance,
	.uplink_pending = pg_uplink_pending,
	.lease_fill = pg_lease_fill,
	.lease_release = pg_lease_release,
	.lease_available = pg_lease_available,
	.identity_set = pg_identity_set,
	.identity_get = pg_identity_get,
	.cert_live = pg_cert_live,
	.cert_add = pg_cert_add,
	.cert_delivered = pg_cert_delivered,
	.cert_query = pg_cert_query,
	.hmac_product_set = pg_hmac_product_set,
	.hmac_product_get = pg_hmac_product_get,
	.hmac_annotate = pg_hmac_annotate,
	.hmac_device_get = pg_hmac_device_get,
	.hmac_set = pg_hmac_set,
};
