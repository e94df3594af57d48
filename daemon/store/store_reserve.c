/* The claim: a device gets a record (its own again, or the first available
 * one of the product, within its batch's room) and a new job, in one
 * BEGIN IMMEDIATE transaction (see store_claim.c for the rest of the
 * lifecycle). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "espfab/store_state.h"
#include "store_int.h"

static int load_values(struct store *s, struct store_record *r, int sealed, struct store_err *err)
{
	const struct store_product *p = r->product;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc;

	for (size_t f = 0; f < p->n_fields; f++)
		n += strcmp(p->fields[f].type, "namespace") != 0;
	r->values = calloc(n ? n : 1, sizeof(*r->values));
	if (!r->values)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	rc = store_prep(s, &st, "SELECT value FROM record_values WHERE record_id = ? AND pos = ?", err);
	if (rc)
		return rc;
	for (size_t f = 0; f < p->n_fields; f++) {
		struct store_value *v;
		const void *b;
		size_t len;
		if (!strcmp(p->fields[f].type, "namespace"))
			continue;
		v = &r->values[r->n_values++];
		v->field = &p->fields[f];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, r->rowid);
		sqlite3_bind_int(st, 2, (int)f);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = store_fail_err(err, STORE_EDB, "record '%s' has no value for '%s'", r->record_id,
					    p->fields[f].key);
			goto out;
		}
		b = sqlite3_column_blob(st, 0);
		len = (size_t)sqlite3_column_bytes(st, 0);
		if (sealed) {
			char aad[256];
			store_value_aad(aad, sizeof(aad), p->id, r->record_id, (int)f);
			rc = store_unseal(s, b, len, aad, &v->data, &v->len, err);
			if (rc)
				goto out;
		} else {
			v->data = malloc(len + 1);
			if (!v->data) {
				rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
				goto out;
			}
			if (len)
				memcpy(v->data, b, len);
			v->data[len] = 0;
			v->len = len;
		}
	}
	rc = 0;
out:
	/* SQLite's copy of a plaintext value lives in its page cache, like
	 * every row it reads; nothing more to wipe on this side. */
	store_unprep(s, st);
	return rc;
}

/* CLAIM, phase 1: the batch (if any) is the product's, active, and open to
 * this port. */
static int claim_check_batch(struct store *s, const struct store_claim_req *req, int64_t pid, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st, "SELECT product_id, state, ports FROM batches WHERE id = ?", err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, req->batch_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)req->batch_id);
		goto out;
	}
	if (sqlite3_column_int64(st, 0) != pid) {
		rc = store_fail_err(err, STORE_EBATCH, "batch %lld is not for product '%s'", (long long)req->batch_id,
				    req->product);
		goto out;
	}
	if (store_batch_state_parse((const char *)sqlite3_column_text(st, 1)) != STORE_BATCH_ACTIVE) {
		rc = store_fail_err(err, STORE_EBATCH, "batch %lld is %s", (long long)req->batch_id,
				    sqlite3_column_text(st, 1));
		goto out;
	}
	/* The batch's port filter, compared with the name the caller gives its
	 * port (the daemon's port name). */
	if (sqlite3_column_type(st, 2) == SQLITE_TEXT) {
		json_t *ports = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
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
	store_unprep(s, st);
	return rc;
}

/* CLAIM, phase 2: the device's record of the product if it holds one
 * (*rec_state its state), else the first available one, within the batch's
 * room. */
static int claim_pick_record(struct store *s, const struct store_claim_req *req, int64_t pid, const char *mac,
			     int64_t *rowid, char *rec_state, size_t cap, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st, "SELECT id, state FROM records WHERE product_id = ? AND mac = ?", err);

	*rowid = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, pid);
	store_bind_text(st, 2, mac);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*rowid = sqlite3_column_int64(st, 0);
		store_col_copy(rec_state, cap, st, 1);
	} else if (rc != SQLITE_DONE) {
		rc = store_db_err(s, err, "records");
		goto out;
	}
	rc = 0;
	store_unprep(s, st);
	st = NULL;
	if (*rowid && store_record_state_parse(rec_state) == STORE_RECORD_RETIRED) {
		rc = store_fail_err(err, STORE_ERETIRED, "the record of %s was retired: refusing to provision it", mac);
		goto out;
	}
	if (*rowid)
		goto out;
	if (req->batch_id) {
		/* A batch hands out at most count new records at a time:
		 * verified plus in flight. */
		rc = store_prep(s, &st,
				"SELECT b.count - b.n_verified - (SELECT count(*) FROM jobs j WHERE "
				"j.batch_id = b.id AND j.state IN ('reserved', 'sent')) FROM batches b WHERE b.id = ?",
				err);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, req->batch_id);
		if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) <= 0) {
			rc = store_fail_err(err, STORE_EBATCH, "batch %lld has no room for another device",
					    (long long)req->batch_id);
			goto out;
		}
		store_unprep(s, st);
		st = NULL;
	}
	/* The station's own leased records first; never another's. */
	rc = store_lease_pick(s, pid, req->station, rowid, err);
	if (!rc && !*rowid)
		rc = store_fail_err(err, STORE_EEMPTY, "no available record left for product '%s'", req->product);
out:
	store_unprep(s, st);
	return rc;
}

/* CLAIM, phase 3: the new job, and the record bound to it. reused: the
 * device held the record already. */
static int claim_open_job(struct store *s, const struct store_claim_req *req, const char *mac, const char *now,
			  int64_t rowid, int reused, int64_t *job, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st,
			    "INSERT INTO jobs (batch_id, record_id, station, port, mac, chip, state, created) "
			    "VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?)",
			    err);

	if (rc)
		return rc;
	store_bind_opt_int(st, 1, req->batch_id ? req->batch_id : -1);
	sqlite3_bind_int64(st, 2, rowid);
	store_bind_text(st, 3, req->station);
	store_bind_text(st, 4, req->port);
	store_bind_text(st, 5, mac);
	store_bind_text(st, 6, req->chip);
	store_bind_text(st, 7, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "jobs");
	store_unprep(s, st);
	if (rc)
		return rc;
	*job = sqlite3_last_insert_rowid(s->db);
	if (!reused) {
		rc = store_run(s, err,
			       "UPDATE records SET state = 'reserved', mac = ?, station = ?, port = ?, job_id = ? "
			       "WHERE id = ? AND state = 'available'",
			       "sssii", mac, req->station, req->port, *job, rowid);
		if (!rc && sqlite3_changes(s->db) != 1)
			rc = store_fail_err(err, STORE_EDB, "record changed under the write lock");
		return rc;
	}
	/* The same MAC again: idempotent. Jobs it still had open (its station
	 * crashed, hung or lost track) are superseded by this one: a reserved
	 * one is released, a sent one interrupted, so their late
	 * mark_sent/verified calls are refused. */
	rc = store_run(s, err,
		       "UPDATE jobs SET state = CASE state WHEN 'reserved' THEN 'released' ELSE 'interrupted' END, "
		       "error = 'superseded by a new claim of the same MAC', finished = ? "
		       "WHERE record_id = ? AND id <> ? AND state IN ('reserved', 'sent')",
		       "sii", now, rowid, *job);
	if (!rc)
		rc = store_run(s, err, "UPDATE records SET station = ?, port = ?, job_id = ? WHERE id = ?", "ssii",
			       req->station, req->port, *job, rowid);
	return rc;
}

/* CLAIM, phase 4: what the caller gets: the record with its product and
 * values. *out is the caller's (also on failure: store_record_free). */
static int claim_load(struct store *s, int64_t pid, int64_t rowid, int64_t job, const char *mac, int reused,
		      struct store_record **out, struct store_err *err)
{
	struct store_record *r = calloc(1, sizeof(*r));
	sqlite3_stmt *st = NULL;
	int rc, sealed;

	*out = r;
	if (!r)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	r->job_id = job;
	r->rowid = rowid;
	r->reused = reused;
	memcpy(r->mac, mac, sizeof(r->mac));
	rc = store_prep(s, &st, "SELECT record_id, sealed FROM records WHERE id = ?", err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_step(st) != SQLITE_ROW || !(r->record_id = store_col_strdup(st, 0))) {
		rc = store_db_err(s, err, "records");
		store_unprep(s, st);
		return rc;
	}
	sealed = sqlite3_column_int(st, 1);
	store_unprep(s, st);
	rc = store_product_load(s, pid, &r->product, err);
	return rc ? rc : load_values(s, r, sealed, err);
}

int store_claim(struct store *s, const struct store_claim_req *req, struct store_record **out,
		struct store_err *err)
{
	STORE_VIA_BACKEND(s, claim, (s, req, out, err));
	struct store_record *r = NULL;
	char mac[STORE_MAC_LEN + 1], now[32];
	char rec_state[16] = "";
	int64_t pid, rowid = 0, job = 0;
	int rc;

	*out = NULL;
	if (!req->product || !req->station || !*req->station || !req->port || !*req->port)
		return store_fail_err(err, STORE_EINPUT, "claim needs a product, station and port");
	if (store_mac_normalise(req->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", req->mac ? req->mac : "");
	store_now(now, sizeof(now));
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = store_product_id(s, req->product, &pid, err);
	if (!rc && req->batch_id)
		rc = claim_check_batch(s, req, pid, err);
	if (!rc)
		rc = claim_pick_record(s, req, pid, mac, &rowid, rec_state, sizeof(rec_state), err);
	if (!rc)
		rc = claim_open_job(s, req, mac, now, rowid, rec_state[0] != '\0', &job, err);
	if (!rc)
		rc = claim_load(s, pid, rowid, job, mac, rec_state[0] != '\0', &r, err);
	if (!rc)
		rc = store_commit(s, err);
	if (rc) {
		store_rollback(s);
		store_record_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
