/* Claims on PostgreSQL (store.h has the invariant; the SQLite twin is
 * store_claim.c; the job transitions after a claim are store_pg_job.c).
 * A claim is one transaction that locks the rows it changes: its pick with
 * FOR UPDATE SKIP LOCKED, so N stations claiming at once each take a
 * different record without waiting for one another; a claim of a batch
 * takes one of its places the same way (store_pg_batch.c). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

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

/* The batch checks of a claim (store_claim.c has the rules), without a
 * lock: the batch's product, state and ports; *count for its places. */
static int claim_batch(struct store *s, const struct store_claim_req *req, int64_t pid, int64_t *count,
		       struct store_err *err)
{
	int rc = 0;
	PGresult *r = pg_q(s, err, "batches", "SELECT product_id, state, ports, count FROM batches WHERE id = $1", "i",
			   req->batch_id);
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
	*count = pg_i64(r, 0, 3);
	if (!PQgetisnull(r, 0, 2)) {
		json_t *ports = json_loads(PQgetvalue(r, 0, 2), 0, NULL);
		int ok = !json_array_size(ports);
		for (size_t i = 0; !ok && i < json_array_size(ports); i++)
			ok = json_is_string(json_array_get(ports, i)) &&
			     !strcmp(json_string_value(json_array_get(ports, i)), req->port);
		json_decref(ports);
		if (!ok)
			rc = store_fail_err(err, STORE_EBATCH, "port %s is not one of batch %lld's ports", req->port,
					    (long long)req->batch_id);
	}
out:
	PQclear(r);
	return rc;
}

#define CLAIM_MAC_RACE 1 /* claim_once: lost a race for a new MAC; try again */

/* The record a claim gets, locked: the one bound to the MAC (c->rec_state
 * set) or the lowest available one nobody else is taking right now (of
 * the station's lease first, store_pg_lease.c). */
struct claim_pick {
	int64_t rowid;
	char rec_state[16]; /* "" for a new record */
	char *rec_id;       /* the caller frees it */
	int sealed;
	int64_t batch_count; /* the claim's batch's count */
};

static int claim_pick(struct store *s, const struct store_claim_req *req, int64_t pid, const char *mac,
		      struct claim_pick *c, struct store_err *err)
{
	PGresult *res = pg_q(s, err, "records",
			     "SELECT id, record_id, sealed, state FROM records WHERE product_id = $1 AND mac = $2 "
			     "FOR UPDATE",
			     "is", pid, mac);
	int rc = 0;

	if (!res)
		return RC(err);
	if (PQntuples(res) == 1)
		pg_copy_str(c->rec_state, sizeof(c->rec_state), res, 3);
	if (req->batch_id && (rc = claim_batch(s, req, pid, &c->batch_count, err)))
		goto out;
	if (!strcmp(c->rec_state, "retired")) {
		rc = store_fail_err(err, STORE_ERETIRED, "the record of %s was retired: refusing to provision it", mac);
		goto out;
	}
	if (!c->rec_state[0]) {
		PQclear(res);
		res = pg_lease_pick(s, pid, req->station, err); /* its own leased ones first, never another's */
		if (!res)
			return RC(err);
		if (PQntuples(res) != 1) {
			rc = store_fail_err(err, STORE_EEMPTY, "no available record left for product '%s'", req->product);
			goto out;
		}
	}
	c->rowid = pg_i64(res, 0, 0);
	c->sealed = (int)pg_i64(res, 0, 2);
	if (!(c->rec_id = strdup(PQgetvalue(res, 0, 1))))
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	PQclear(res);
	return rc;
}

/* A known record's older open jobs end, superseded by job. One in the
 * claim's batch hands job its place (*placed = 1): the device keeps the
 * room it held, as when the open jobs were counted; others give theirs
 * back. */
static int claim_supersede(struct store *s, const struct store_claim_req *req, const char *now,
			   const struct claim_pick *c, int64_t job, int *placed, struct store_err *err)
{
	int rc = 0;
	PGresult *res = pg_q(s, err, "jobs",
			     "UPDATE jobs SET state = CASE state WHEN 'reserved' THEN 'released' ELSE 'interrupted' END, "
			     "error = 'superseded by a new claim of the same MAC', finished = $1 "
			     "WHERE record_id = $2 AND id <> $3 AND state IN ('reserved', 'sent') "
			     "RETURNING id, coalesce(batch_id, 0)",
			     "sii", now, c->rowid, job);
	if (!res)
		return RC(err);
	for (int i = 0; !rc && i < PQntuples(res); i++) {
		int64_t old = pg_i64(res, i, 0), batch = pg_i64(res, i, 1);
		if (batch && batch == req->batch_id && !*placed)
			rc = pg_place_move(s, old, job, batch, placed, err);
		else if (batch)
			rc = pg_place_free(s, old, err);
	}
	PQclear(res);
	if (!rc)
		rc = pg_x(s, err, NULL, "records", "UPDATE records SET station = $1, port = $2, job_id = $3 WHERE id = $4",
			  "ssii", req->station, req->port, job, c->rowid);
	return rc;
}

/* The claim's job, and the record bound to it: a new record reserved for
 * the MAC, or a known one whose older open jobs are superseded; then its
 * place in the batch (a known device is never refused for room). */
static int claim_bind(struct store *s, const struct store_claim_req *req, const char *mac, const char *now,
		      const struct claim_pick *c, int64_t *job, struct store_err *err)
{
	int64_t n = 0;
	int rc, placed = 0;
	PGresult *res = pg_q(s, err, "jobs",
			     "INSERT INTO jobs (batch_id, record_id, station, port, mac, chip, state, created) "
			     "VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7) RETURNING id",
			     "Iisssss", req->batch_id, c->rowid, req->station, req->port, mac, req->chip, now);
	if (!res)
		return RC(err);
	*job = pg_i64(res, 0, 0);
	PQclear(res);
	if (c->rec_state[0]) {
		rc = claim_supersede(s, req, now, c, *job, &placed, err);
		if (!rc && req->batch_id && !placed)
			rc = pg_place_take(s, req->batch_id, c->batch_count, *job, 1, err);
		return rc;
	}
	rc = pg_x(s, err, &n, "records",
		  "UPDATE records SET state = 'reserved', mac = $1, station = $2, port = $3, job_id = $4 "
		  "WHERE id = $5 AND state = 'available'",
		  "sssii", mac, req->station, req->port, *job, c->rowid);
	if (!rc && n != 1)
		rc = store_fail_err(err, STORE_EDB, "record changed under its row lock");
	/* Two stations claiming one new MAC at once: the unique index stops
	 * the second (after the first committed); its retry finds the first
	 * one's record, as SQLite's lock would. */
	if (rc == STORE_EDB && err && strstr(err->msg, "records_mac")) {
		store_fail_err(err, STORE_EBUSY, "another station claimed %s at the same moment: retry", mac);
		rc = CLAIM_MAC_RACE;
	}
	if (!rc && req->batch_id)
		rc = pg_place_take(s, req->batch_id, c->batch_count, *job, 0, err);
	return rc;
}

static int claim_once(struct store *s, const struct store_claim_req *req, struct store_record **out,
		      struct store_err *err)
{
	struct store_record *r = NULL;
	struct claim_pick c = {0};
	char mac[STORE_MAC_LEN + 1], now[32];
	int64_t pid = 0, job = 0;
	int rc;

	*out = NULL;
	if (!req->product || !req->station || !*req->station || !req->port || !*req->port)
		return store_fail_err(err, STORE_EINPUT, "claim needs a product, station and port");
	if (store_mac_normalise(req->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", req->mac ? req->mac : "");
	store_now(now, sizeof(now));
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_product_id(s, req->product, &pid, err)) || (rc = claim_pick(s, req, pid, mac, &c, err)))
		goto out;
	if (!(r = calloc(1, sizeof(*r)))) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	r->rowid = c.rowid;
	r->reused = c.rec_state[0] != '\0';
	memcpy(r->mac, mac, sizeof(mac));
	r->record_id = c.rec_id; /* the record's id never changes (the triggers refuse it) */
	c.rec_id = NULL;
	/* The reads first (the record is locked already), then the writes,
	 * the batch place last (its batch-row lock, when a chunk of places is
	 * made, then lasts only the COMMIT). */
	if ((rc = pg_product_load(s, pid, &r->product, err)) || (rc = load_values(s, r, c.sealed, err)) ||
	    (rc = claim_bind(s, req, mac, now, &c, &job, err)))
		goto out;
	r->job_id = job;
	if ((rc = pg_commit(s, err)))
		goto out;
	*out = r;
	r = NULL;
out:
	free(c.rec_id);
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
