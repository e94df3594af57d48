/* The record lifecycle on PostgreSQL (store.h has the invariant; the
 * SQLite twin is store_claim.c). Each call is one transaction that locks
 * the rows it changes: the claim's pick with FOR UPDATE SKIP LOCKED, so N
 * stations claiming at once each take a different record without waiting
 * for one another; a job transition its job and record rows. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

struct job_row {
	int64_t id, batch_id, record_rowid, rec_job_id;
	char state[16], rec_state[16];
	char mac[STORE_MAC_LEN + 1], rec_mac[STORE_MAC_LEN + 1];
	char station[128], port[256], chip[64], product[72], record_id[132];
};

static void copy_str(char *dst, size_t n, const PGresult *r, int col)
{
	const char *t = pg_str(r, 0, col);
	snprintf(dst, n, "%s", t ? t : "");
}

/* The job and its record, both locked until the transaction ends: the
 * record first, then the job, the order a claim takes them in (a claim of
 * a known MAC locks the record, then supersedes its jobs), so a claim and
 * a transition of one record never deadlock. A job's record never changes. */
static int load_job(struct store *s, int64_t job_id, struct job_row *j, struct store_err *err)
{
	/* One round trip: the MATERIALIZED CTE locks the record while it is
	 * read, before the join above it yields the job row that the outer
	 * FOR UPDATE then locks, so the order stays record, then job. */
	PGresult *r = pg_q(s, err, "jobs",
			   "WITH r AS MATERIALIZED (SELECT id, state, mac, job_id, product_id, record_id FROM records "
			   "WHERE id = (SELECT record_id FROM jobs WHERE id = $1) FOR UPDATE) "
			   "SELECT j.state, j.record_id, coalesce(j.batch_id, 0), j.mac, j.station, j.port, j.chip, "
			   "r.state, r.mac, coalesce(r.job_id, 0), p.name, r.record_id "
			   "FROM r JOIN jobs j ON j.record_id = r.id JOIN products p ON p.id = r.product_id "
			   "WHERE j.id = $1 FOR UPDATE OF j",
			   "i", job_id);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return store_fail_err(err, STORE_ENOTFOUND, "no job %lld", (long long)job_id);
	}
	memset(j, 0, sizeof(*j));
	j->id = job_id;
	copy_str(j->state, sizeof(j->state), r, 0);
	j->record_rowid = pg_i64(r, 0, 1);
	j->batch_id = pg_i64(r, 0, 2);
	copy_str(j->mac, sizeof(j->mac), r, 3);
	copy_str(j->station, sizeof(j->station), r, 4);
	copy_str(j->port, sizeof(j->port), r, 5);
	copy_str(j->chip, sizeof(j->chip), r, 6);
	copy_str(j->rec_state, sizeof(j->rec_state), r, 7);
	copy_str(j->rec_mac, sizeof(j->rec_mac), r, 8);
	j->rec_job_id = pg_i64(r, 0, 9);
	copy_str(j->product, sizeof(j->product), r, 10);
	copy_str(j->record_id, sizeof(j->record_id), r, 11);
	PQclear(r);
	return 0;
}

static int audit_job(struct store *s, const struct job_row *j, const struct store_audit_entry *given,
		     const char *event, const char *result, const char *error, struct store_err *err)
{
	struct store_audit_entry a = {.baud = -1, .retries = -1, .duration_ms = -1};
	if (given)
		a = *given;
	a.station = j->station;
	a.port = j->port;
	a.mac = j->mac;
	a.chip = a.chip ? a.chip : (j->chip[0] ? j->chip : NULL);
	a.product = j->product;
	a.record_id = j->record_id;
	a.batch_id = j->batch_id;
	a.job_id = j->id;
	if (!a.error)
		a.error = error;
	return pg_audit_insert(s, &a, event, result, err);
}

static int job_begin(struct store *s, int64_t job_id, struct job_row *j, char *now, size_t now_len,
		     struct store_err *err)
{
	store_now(now, now_len);
	int rc = pg_begin(s, err);
	if (rc)
		return rc;
	rc = load_job(s, job_id, j, err);
	if (rc)
		pg_rollback(s);
	return rc;
}

static int job_bind_record(struct store *s, const struct job_row *j, const char *now, struct store_err *err)
{
	return pg_x(s, err, NULL, "records",
		    "UPDATE records SET state = 'sent', bound = 1, bound_at = $1, job_id = NULL WHERE id = $2", "si", now,
		    j->record_rowid);
}

static int job_unreserve_record(struct store *s, const struct job_row *j, struct store_err *err)
{
	if (j->rec_job_id != j->id)
		return 0;
	if (!strcmp(j->rec_state, "reserved"))
		return pg_x(s, err, NULL, "records",
			    "UPDATE records SET state = 'available', mac = NULL, station = NULL, port = NULL, "
			    "job_id = NULL WHERE id = $1",
			    "i", j->record_rowid);
	return pg_x(s, err, NULL, "records", "UPDATE records SET job_id = NULL WHERE id = $1", "i", j->record_rowid);
}

/* The record's values, unsealed, in template order. */
static int load_values(struct store *s, struct store_record *r, int sealed, struct store_err *err)
{
	const struct store_product *p = r->product;
	size_t n = 0;
	int rc = 0, row = 0;

	for (size_t f = 0; f < p->n_fields; f++)
		n += strcmp(p->fields[f].type, "namespace") != 0;
	r->values = calloc(n ? n : 1, sizeof(*r->values));
	if (!r->values)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	PGresult *res = pg_q(s, err, "record_values", "SELECT pos, value FROM record_values WHERE record_id = $1 ORDER BY pos",
			     "i", r->rowid);
	if (!res)
		return RC(err);
	int nrows = PQntuples(res);
	for (size_t f = 0; f < p->n_fields; f++) {
		struct store_value *v;
		uint8_t *b = NULL;
		size_t len = 0;
		if (!strcmp(p->fields[f].type, "namespace"))
			continue;
		v = &r->values[r->n_values++];
		v->field = &p->fields[f];
		while (row < nrows && pg_i64(res, row, 0) < (int64_t)f)
			row++;
		if (row >= nrows || pg_i64(res, row, 0) != (int64_t)f) {
			rc = store_fail_err(err, STORE_EDB, "record '%s' has no value for '%s'", r->record_id,
					    p->fields[f].key);
			goto out;
		}
		if ((rc = pg_bytea(res, row, 1, &b, &len, err)))
			goto out;
		if (sealed) {
			char aad[256];
			store_value_aad(aad, sizeof(aad), p->id, r->record_id, (int)f);
			rc = store_unseal(s, b, len, aad, &v->data, &v->len, err);
			free(b); /* ciphertext */
			if (rc)
				goto out;
		} else {
			v->data = b;
			v->len = len;
		}
	}
out:
	/* libpq's copy of the result holds plaintext when the store is not
	 * sealed: wipe it before it goes back to the heap. */
	for (int i = 0; i < nrows; i++)
		OPENSSL_cleanse(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
	PQclear(res);
	return rc;
}

/* The batch checks of a claim (store_claim.c has the rules). need_room: a
 * new record is to be handed out, so the batch row is locked while its
 * room is counted: stations of one batch take turns only for that. */
static int claim_batch(struct store *s, const struct store_claim_req *req, int64_t pid, int need_room,
		       struct store_err *err)
{
	int rc = 0;
	PGresult *r = pg_q(s, err, "batches",
			   need_room ? "SELECT product_id, state, ports, count - n_verified FROM batches WHERE id = $1 FOR UPDATE"
				     : "SELECT product_id, state, ports, count - n_verified FROM batches WHERE id = $1",
			   "i", req->batch_id);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)req->batch_id);
		goto out;
	}
	if (pg_i64(r, 0, 0) != pid) {
		rc = store_fail_err(err, STORE_EBATCH, "batch %lld is not for product '%s'", (long long)req->batch_id,
				    req->product);
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 1), "active")) {
		rc = store_fail_err(err, STORE_EBATCH, "batch %lld is %s", (long long)req->batch_id, PQgetvalue(r, 0, 1));
		goto out;
	}
	if (!PQgetisnull(r, 0, 2)) {
		json_t *ports = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
		int ok = !json_array_size(ports);
		for (size_t i = 0; !ok && i < json_array_size(ports); i++)
			ok = json_is_string(json_array_get(ports, i)) &&
			     !strcmp(json_string_value(json_array_get(ports, i)), req->port);
		json_decref(ports);
		if (!ok) {
			rc = store_fail_err(err, STORE_EBATCH, "port %s is not one of batch %lld's ports", req->port,
					    (long long)req->batch_id);
			goto out;
		}
	}
	if (need_room) {
		int64_t room = pg_i64(r, 0, 3);
		PQclear(r);
		r = pg_q(s, err, "jobs", "SELECT count(*) FROM jobs WHERE batch_id = $1 AND state IN ('reserved', 'sent')",
			 "i", req->batch_id);
		if (!r)
			return RC(err);
		if (room - pg_i64(r, 0, 0) <= 0)
			rc = store_fail_err(err, STORE_EBATCH, "batch %lld has no room for another device",
					    (long long)req->batch_id);
	}
out:
	PQclear(r);
	return rc;
}

#define CLAIM_MAC_RACE 1 /* claim_once: lost a race for a new MAC; try again */

static int claim_once(struct store *s, const struct store_claim_req *req, struct store_record **out,
		      struct store_err *err)
{
	struct store_record *r = NULL;
	PGresult *res = NULL;
	char mac[STORE_MAC_LEN + 1], now[32];
	char rec_state[16] = "", *rec_id = NULL;
	int64_t pid = 0, rowid = 0, job = 0, n = 0;
	int rc, sealed = 0;

	*out = NULL;
	if (!req->product || !req->station || !*req->station || !req->port || !*req->port)
		return store_fail_err(err, STORE_EINPUT, "claim needs a product, station and port");
	if (store_mac_normalise(req->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", req->mac ? req->mac : "");
	store_now(now, sizeof(now));
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_product_id(s, req->product, &pid, err)))
		goto out;
	/* Does this device hold a record of the product already? */
	res = pg_q(s, err, "records",
		   "SELECT id, state, record_id, sealed FROM records WHERE product_id = $1 AND mac = $2 FOR UPDATE", "is",
		   pid, mac);
	if (!res) {
		rc = RC(err);
		goto out;
	}
	if (PQntuples(res) == 1) {
		rowid = pg_i64(res, 0, 0);
		copy_str(rec_state, sizeof(rec_state), res, 1);
		rec_id = strdup(PQgetvalue(res, 0, 2));
		sealed = (int)pg_i64(res, 0, 3);
	}
	PQclear(res);
	res = NULL;
	if (req->batch_id && (rc = claim_batch(s, req, pid, !rowid, err)))
		goto out;
	if (rowid && !strcmp(rec_state, "retired")) {
		rc = store_fail_err(err, STORE_ERETIRED, "the record of %s was retired: refusing to provision it", mac);
		goto out;
	}
	if (!rowid) {
		/* The lowest available record nobody else is taking right now. */
		res = pg_q(s, err, "records",
			   "SELECT id, record_id, sealed FROM records WHERE product_id = $1 AND state = 'available' "
			   "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
			   "i", pid);
		if (!res) {
			rc = RC(err);
			goto out;
		}
		if (PQntuples(res) != 1) {
			rc = store_fail_err(err, STORE_EEMPTY, "no available record left for product '%s'", req->product);
			goto out;
		}
		rowid = pg_i64(res, 0, 0);
		rec_id = strdup(PQgetvalue(res, 0, 1));
		sealed = (int)pg_i64(res, 0, 2);
		PQclear(res);
		res = NULL;
	}
	if (!rec_id) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	res = pg_q(s, err, "jobs",
		   "INSERT INTO jobs (batch_id, record_id, station, port, mac, chip, state, created) "
		   "VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7) RETURNING id",
		   "Iisssss", req->batch_id, rowid, req->station, req->port, mac, req->chip, now);
	if (!res) {
		rc = RC(err);
		goto out;
	}
	job = pg_i64(res, 0, 0);
	PQclear(res);
	res = NULL;
	if (!rec_state[0]) {
		rc = pg_x(s, err, &n, "records",
			  "UPDATE records SET state = 'reserved', mac = $1, station = $2, port = $3, job_id = $4 "
			  "WHERE id = $5 AND state = 'available'",
			  "sssii", mac, req->station, req->port, job, rowid);
		if (!rc && n != 1)
			rc = store_fail_err(err, STORE_EDB, "record changed under its row lock");
		/* Two stations claiming one new MAC at once: the unique index
		 * stops the second (after the first committed); its retry
		 * finds the first one's record, as SQLite's lock would. */
		if (rc == STORE_EDB && err && strstr(err->msg, "records_mac")) {
			store_fail_err(err, STORE_EBUSY, "another station claimed %s at the same moment: retry", mac);
			rc = CLAIM_MAC_RACE;
		}
	} else {
		rc = pg_x(s, err, NULL, "jobs",
			  "UPDATE jobs SET state = CASE state WHEN 'reserved' THEN 'released' ELSE 'interrupted' END, "
			  "error = 'superseded by a new claim of the same MAC', finished = $1 "
			  "WHERE record_id = $2 AND id <> $3 AND state IN ('reserved', 'sent')",
			  "sii", now, rowid, job);
		if (!rc)
			rc = pg_x(s, err, NULL, "records", "UPDATE records SET station = $1, port = $2, job_id = $3 WHERE id = $4",
				  "ssii", req->station, req->port, job, rowid);
	}
	if (rc)
		goto out;
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	r->job_id = job;
	r->rowid = rowid;
	r->reused = rec_state[0] != '\0';
	memcpy(r->mac, mac, sizeof(mac));
	r->record_id = rec_id; /* the record's id never changes (the triggers refuse it) */
	rec_id = NULL;
	if ((rc = pg_product_load(s, pid, &r->product, err)) || (rc = load_values(s, r, sealed, err)))
		goto out;
	if ((rc = pg_commit(s, err)))
		goto out;
	*out = r;
	r = NULL;
out:
	PQclear(res);
	free(rec_id);
	if (rc)
		pg_rollback(s);
	store_record_free(r);
	return rc;
}

int pg_claim(struct store *s, const struct store_claim_req *req, struct store_record **out, struct store_err *err)
{
	int rc, tries = 0;

	do
		rc = claim_once(s, req, out, err);
	while (rc == CLAIM_MAC_RACE && ++tries < 5);
	return rc == CLAIM_MAC_RACE ? STORE_EBUSY : rc;
}

int pg_mark_sent(struct store *s, int64_t job_id, struct store_err *err)
{
	struct job_row j;
	char now[32];
	int rc;

	if ((rc = job_begin(s, job_id, &j, now, sizeof(now), err)))
		return rc;
	if (strcmp(j.state, "reserved")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not reserved: write nothing", (long long)job_id,
				    j.state);
		goto out;
	}
	if (strcmp(j.rec_mac, j.mac) || (strcmp(j.rec_state, "reserved") && strcmp(j.rec_state, "sent") &&
					 strcmp(j.rec_state, "verified"))) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld: record '%s' is %s for %s: write nothing",
				    (long long)job_id, j.record_id, j.rec_state, j.rec_mac[0] ? j.rec_mac : "no MAC");
		goto out;
	}
	rc = pg_x(s, err, NULL, "jobs", "UPDATE jobs SET state = 'sent', sent_at = $1 WHERE id = $2", "si", now, job_id);
	if (!rc && !strcmp(j.rec_state, "reserved"))
		rc = job_bind_record(s, &j, now, err);
out:
	return pg_end(s, rc, err);
}

static int batch_count(struct store *s, int64_t batch, const char *col, const char *now, struct store_err *err)
{
	if (!batch)
		return 0;
	if (!strcmp(col, "verified"))
		return pg_x(s, err, NULL, "batches",
			    "UPDATE batches SET n_verified = n_verified + 1, "
			    "state = CASE WHEN n_verified + 1 >= count AND state IN ('active', 'paused') THEN 'done' "
			    "ELSE state END, "
			    "finished = CASE WHEN n_verified + 1 >= count AND finished IS NULL THEN $1 ELSE finished END "
			    "WHERE id = $2",
			    "si", now, batch);
	return pg_x(s, err, NULL, "batches", "UPDATE batches SET n_failed = n_failed + 1 WHERE id = $1", "i", batch);
}

static int job_close(struct store *s, const struct job_row *j, const char *state, const char *reason,
		     const char *now, const char *count, const struct store_audit_entry *audit, const char *event,
		     const char *result, struct store_err *err)
{
	int rc = pg_x(s, err, NULL, "jobs", "UPDATE jobs SET state = $1, error = $2, finished = $3 WHERE id = $4",
		      "sssi", state, reason, now, j->id);
	if (!rc && count)
		rc = batch_count(s, j->batch_id, count, now, err);
	if (!rc)
		rc = audit_job(s, j, audit, event, result, reason, err);
	return rc;
}

int pg_mark_verified(struct store *s, int64_t job_id, const struct store_audit_entry *audit, struct store_err *err)
{
	struct job_row j;
	char now[32];
	int rc;

	if ((rc = job_begin(s, job_id, &j, now, sizeof(now), err)))
		return rc;
	if (strcmp(j.state, "sent")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not sent", (long long)job_id, j.state);
		goto out;
	}
	if (strcmp(j.rec_state, "retired"))
		rc = pg_x(s, err, NULL, "records", "UPDATE records SET state = 'verified', verified_at = $1 WHERE id = $2",
			  "si", now, j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, "verified", NULL, now, "verified", audit, "provision", "ok", err);
out:
	return pg_end(s, rc, err);
}

int pg_release(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	       struct store_err *err)
{
	struct job_row j;
	char now[32];
	int rc;

	if ((rc = job_begin(s, job_id, &j, now, sizeof(now), err)))
		return rc;
	if (strcmp(j.state, "reserved")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s: only a reserved job can be released",
				    (long long)job_id, j.state);
		goto out;
	}
	rc = job_unreserve_record(s, &j, err);
	if (!rc)
		rc = job_close(s, &j, "released", reason, now, "failed", audit, "provision", "released", err);
out:
	return pg_end(s, rc, err);
}

int pg_fail(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	    struct store_err *err)
{
	struct job_row j;
	char now[32];
	int rc;

	if ((rc = job_begin(s, job_id, &j, now, sizeof(now), err)))
		return rc;
	if (strcmp(j.state, "reserved") && strcmp(j.state, "sent")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s already", (long long)job_id, j.state);
		goto out;
	}
	/* As on SQLite: fail() of a job never marked sent binds, rather than
	 * guess that nothing left the station. */
	if (!strcmp(j.rec_state, "reserved") && j.rec_job_id == job_id)
		rc = job_bind_record(s, &j, now, err);
	else if (j.rec_job_id == job_id)
		rc = pg_x(s, err, NULL, "records", "UPDATE records SET job_id = NULL WHERE id = $1", "i", j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, "failed", reason, now, "failed", audit, "provision", "failed", err);
out:
	return pg_end(s, rc, err);
}

int pg_retire(struct store *s, const char *product, const char *record_id, const char *reason,
	      struct store_err *err)
{
	PGresult *res = NULL;
	char state[16] = "", mac[STORE_MAC_LEN + 1] = "", pname[72] = "";
	int64_t pid, rowid = 0;
	int rc, n;

	if (!reason || !*reason)
		return store_fail_err(err, STORE_EINPUT, "retiring a record needs a reason");
	if (!record_id || !*record_id)
		return store_fail_err(err, STORE_EINPUT, "retiring needs a record id");
	if ((rc = pg_begin(s, err)))
		return rc;
	if (product && (rc = pg_product_id(s, product, &pid, err)))
		goto out;
	res = pg_q(s, err, "records",
		   "SELECT r.id, r.state, coalesce(r.mac, ''), p.name FROM records r JOIN products p ON p.id = r.product_id "
		   "WHERE r.record_id = $1 AND ($2::text IS NULL OR p.name = $2) FOR UPDATE OF r",
		   "ss", record_id, product);
	if (!res) {
		rc = RC(err);
		goto out;
	}
	n = PQntuples(res);
	if (n == 0) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no record '%s'", record_id);
		goto out;
	}
	if (n > 1) {
		rc = store_fail_err(err, STORE_EINPUT, "record id '%s' exists in several products: give --product",
				    record_id);
		goto out;
	}
	rowid = pg_i64(res, 0, 0);
	copy_str(state, sizeof(state), res, 1);
	copy_str(mac, sizeof(mac), res, 2);
	copy_str(pname, sizeof(pname), res, 3);
	if (!strcmp(state, "retired") || !strcmp(state, "reserved")) {
		rc = store_fail_err(err, STORE_ESTATE, "record '%s' is %s%s", record_id, state,
				    !strcmp(state, "reserved") ? " (a device is being provisioned with it): retry" : "");
		goto out;
	}
	rc = pg_x(s, err, NULL, "records", "UPDATE records SET state = 'retired', retired_reason = $1 WHERE id = $2", "si",
		  reason, rowid);
	if (rc)
		goto out;
	struct store_audit_entry a = {.mac = mac[0] ? mac : NULL, .product = pname, .record_id = record_id,
				      .baud = -1, .retries = -1, .duration_ms = -1, .error = reason};
	rc = pg_audit_insert(s, &a, "retire", "retired", err);
out:
	PQclear(res);
	return pg_end(s, rc, err);
}

int pg_recover(struct store *s, const char *station, struct store_recovery *rep, struct store_err *err)
{
	struct store_recovery r = {0};
	PGresult *res = NULL;
	char now[32];
	int rc;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	store_now(now, sizeof(now));
	if ((rc = pg_begin(s, err)))
		return rc;
	res = pg_q(s, err, "jobs",
		   "SELECT id FROM jobs WHERE state IN ('reserved', 'sent') AND ($1::text IS NULL OR station = $1) "
		   "ORDER BY id",
		   "s", station);
	if (!res) {
		rc = RC(err);
		goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct job_row j;
		if ((rc = load_job(s, pg_i64(res, i, 0), &j, err)))
			goto out;
		if (!strcmp(j.state, "reserved")) {
			rc = job_unreserve_record(s, &j, err);
			if (!rc)
				rc = job_close(s, &j, "released", "interrupted before send", now, NULL, NULL, "recover",
					       "interrupted", err);
			r.released++;
		} else if (!strcmp(j.state, "sent")) {
			rc = job_close(s, &j, "interrupted", "interrupted after send", now, NULL, NULL, "recover",
				       "interrupted", err);
			r.interrupted++;
		}
		if (rc)
			goto out;
	}
out:
	PQclear(res);
	rc = pg_end(s, rc, err);
	if (!rc && rep)
		*rep = r;
	return rc;
}
