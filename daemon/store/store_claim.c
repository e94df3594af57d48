/* The record lifecycle (see store.h for the invariant). Each function is one
 * BEGIN IMMEDIATE transaction: it reads the current state, checks the
 * transition is allowed, writes, and commits, so two stations racing for
 * the same record serialise on the write lock and the second sees the
 * first's result. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

struct job_row {
	int64_t id, batch_id, record_rowid, rec_job_id;
	char state[16], rec_state[16];
	char mac[STORE_MAC_LEN + 1], rec_mac[STORE_MAC_LEN + 1];
	char station[128], port[256], chip[64], product[72], record_id[132];
};

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int load_job(struct store *s, int64_t job_id, struct job_row *j, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st,
			    "SELECT j.state, j.record_id, coalesce(j.batch_id, 0), j.mac, j.station, j.port, "
			    "j.chip, r.state, r.mac, coalesce(r.job_id, 0), p.name, r.record_id "
			    "FROM jobs j JOIN records r ON r.id = j.record_id JOIN products p ON p.id = r.product_id "
			    "WHERE j.id = ?",
			    err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		memset(j, 0, sizeof(*j));
		j->id = job_id;
		copy_col(j->state, sizeof(j->state), st, 0);
		j->record_rowid = sqlite3_column_int64(st, 1);
		j->batch_id = sqlite3_column_int64(st, 2);
		copy_col(j->mac, sizeof(j->mac), st, 3);
		copy_col(j->station, sizeof(j->station), st, 4);
		copy_col(j->port, sizeof(j->port), st, 5);
		copy_col(j->chip, sizeof(j->chip), st, 6);
		copy_col(j->rec_state, sizeof(j->rec_state), st, 7);
		copy_col(j->rec_mac, sizeof(j->rec_mac), st, 8);
		j->rec_job_id = sqlite3_column_int64(st, 9);
		copy_col(j->product, sizeof(j->product), st, 10);
		copy_col(j->record_id, sizeof(j->record_id), st, 11);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no job %lld", (long long)job_id);
	} else {
		rc = store_db_err(s, err, "jobs");
	}
	store_unprep(s, st);
	return rc;
}

/* Runs one statement with up to four int64/text parameters given as a
 * printf-like type string: 'i' int64, 's' text. */
static int run(struct store *s, struct store_err *err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc = store_prep(s, &st, sql, err);
	if (rc)
		return rc;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else
			store_bind_text(st, i + 1, va_arg(ap, const char *));
	}
	va_end(ap);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "update");
	store_unprep(s, st);
	return rc;
}

/* The audit row of a job's end: the caller's facts, the job's identity. */
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
	return store_audit_insert(s, &a, event, result, err);
}

/* Opens a job transition: one BEGIN IMMEDIATE transaction holding the job's
 * row as it is now. On failure nothing is left open. */
static int job_begin(struct store *s, int64_t job_id, struct job_row *j, char *now, size_t now_len,
		     struct store_err *err)
{
	store_now(now, now_len);
	int rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = load_job(s, job_id, j, err);
	if (rc)
		store_rollback(s);
	return rc;
}

/* The record this job reserved is bound to its MAC for good: bytes may have
 * left the station. */
static int job_bind_record(struct store *s, const struct job_row *j, const char *now, struct store_err *err)
{
	return run(s, err, "UPDATE records SET state = 'sent', bound = 1, bound_at = ?, job_id = NULL WHERE id = ?",
		   "si", now, j->record_rowid);
}

/* Undoes only what this job did to its record: its own reservation returns
 * the record to 'available'; a record bound by an earlier job stays bound
 * (the trigger would refuse anyway) and just forgets this job. */
static int job_unreserve_record(struct store *s, const struct job_row *j, struct store_err *err)
{
	if (j->rec_job_id != j->id)
		return 0;
	if (!strcmp(j->rec_state, "reserved"))
		return run(s, err,
			   "UPDATE records SET state = 'available', mac = NULL, station = NULL, port = NULL, "
			   "job_id = NULL WHERE id = ?",
			   "i", j->record_rowid);
	return run(s, err, "UPDATE records SET job_id = NULL WHERE id = ?", "i", j->record_rowid);
}

void store_record_free(struct store_record *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_values; i++) {
		if (r->values[i].data) {
			OPENSSL_cleanse(r->values[i].data, r->values[i].len);
			free(r->values[i].data);
		}
	}
	free(r->values);
	free(r->record_id);
	store_product_free(r->product);
	free(r);
}

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

int store_claim(struct store *s, const struct store_claim_req *req, struct store_record **out,
		struct store_err *err)
{
	STORE_VIA_BACKEND(s, claim, (s, req, out, err));
	struct store_record *r = NULL;
	sqlite3_stmt *st = NULL;
	char mac[STORE_MAC_LEN + 1], now[32];
	char rec_state[16] = "";
	int64_t pid, rowid = 0;
	int rc, sealed = 0;

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
	if (rc)
		goto out;
	if (req->batch_id) {
		rc = store_prep(s, &st, "SELECT product_id, state, ports FROM batches WHERE id = ?", err);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, req->batch_id);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)req->batch_id);
			goto out;
		}
		if (sqlite3_column_int64(st, 0) != pid) {
			rc = store_fail_err(err, STORE_EBATCH, "batch %lld is not for product '%s'",
					    (long long)req->batch_id, req->product);
			goto out;
		}
		if (strcmp((const char *)sqlite3_column_text(st, 1), "active")) {
			rc = store_fail_err(err, STORE_EBATCH, "batch %lld is %s", (long long)req->batch_id,
					    sqlite3_column_text(st, 1));
			goto out;
		}
		/* The batch's port filter, compared with the name the caller
		 * gives its port (the daemon's port name). */
		if (sqlite3_column_type(st, 2) == SQLITE_TEXT) {
			json_t *ports = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
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
		store_unprep(s, st);
		st = NULL;
	}
	/* Does this device hold a record of the product already? */
	rc = store_prep(s, &st, "SELECT id, state FROM records WHERE product_id = ? AND mac = ?", err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, pid);
	store_bind_text(st, 2, mac);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rowid = sqlite3_column_int64(st, 0);
		copy_col(rec_state, sizeof(rec_state), st, 1);
	} else if (rc != SQLITE_DONE) {
		rc = store_db_err(s, err, "records");
		goto out;
	}
	store_unprep(s, st);
	st = NULL;
	if (rowid && !strcmp(rec_state, "retired")) {
		rc = store_fail_err(err, STORE_ERETIRED, "the record of %s was retired: refusing to provision it", mac);
		goto out;
	}
	if (!rowid) {
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
		rc = store_prep(s, &st,
				"SELECT id FROM records WHERE product_id = ? AND state = 'available' ORDER BY id LIMIT 1",
				err);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, pid);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = store_fail_err(err, STORE_EEMPTY, "no available record left for product '%s'",
					    req->product);
			goto out;
		}
		rowid = sqlite3_column_int64(st, 0);
		store_unprep(s, st);
		st = NULL;
	}
	rc = store_prep(s, &st,
			"INSERT INTO jobs (batch_id, record_id, station, port, mac, chip, state, created) "
			"VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?)",
			err);
	if (rc)
		goto out;
	store_bind_opt_int(st, 1, req->batch_id ? req->batch_id : -1);
	sqlite3_bind_int64(st, 2, rowid);
	store_bind_text(st, 3, req->station);
	store_bind_text(st, 4, req->port);
	store_bind_text(st, 5, mac);
	store_bind_text(st, 6, req->chip);
	store_bind_text(st, 7, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_db_err(s, err, "jobs");
		goto out;
	}
	int64_t job = sqlite3_last_insert_rowid(s->db);
	store_unprep(s, st);
	st = NULL;
	if (!rec_state[0]) {
		rc = run(s, err,
			 "UPDATE records SET state = 'reserved', mac = ?, station = ?, port = ?, job_id = ? "
			 "WHERE id = ? AND state = 'available'",
			 "sssii", mac, req->station, req->port, job, rowid);
		if (!rc && sqlite3_changes(s->db) != 1)
			rc = store_fail_err(err, STORE_EDB, "record changed under the write lock");
	} else {
		/* The same MAC again: idempotent. Jobs it still had open (its
		 * station crashed, hung or lost track) are superseded by this one:
		 * a reserved one is released, a sent one interrupted, so their late
		 * mark_sent/verified calls are refused. */
		rc = run(s, err,
			 "UPDATE jobs SET state = CASE state WHEN 'reserved' THEN 'released' ELSE 'interrupted' END, "
			 "error = 'superseded by a new claim of the same MAC', finished = ? "
			 "WHERE record_id = ? AND id <> ? AND state IN ('reserved', 'sent')",
			 "sii", now, rowid, job);
		if (!rc)
			rc = run(s, err, "UPDATE records SET station = ?, port = ?, job_id = ? WHERE id = ?", "ssii",
				 req->station, req->port, job, rowid);
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
	rc = store_prep(s, &st, "SELECT record_id, sealed FROM records WHERE id = ?", err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, rowid);
	if (sqlite3_step(st) != SQLITE_ROW || !(r->record_id = store_col_strdup(st, 0))) {
		rc = store_db_err(s, err, "records");
		goto out;
	}
	sealed = sqlite3_column_int(st, 1);
	store_unprep(s, st);
	st = NULL;
	rc = store_product_load(s, pid, &r->product, err);
	if (rc)
		goto out;
	rc = load_values(s, r, sealed, err);
	if (rc)
		goto out;
	rc = store_commit(s, err);
	if (rc)
		goto out;
	*out = r;
	r = NULL;
out:
	store_unprep(s, st);
	if (rc)
		store_rollback(s);
	store_record_free(r);
	return rc;
}

int store_mark_sent(struct store *s, int64_t job_id, struct store_err *err)
{
	STORE_VIA_BACKEND(s, mark_sent, (s, job_id, err));
	struct job_row j;
	char now[32];
	int rc;

	rc = job_begin(s, job_id, &j, now, sizeof(now), err);
	if (rc)
		return rc;
	if (strcmp(j.state, "reserved")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not reserved: write nothing",
				    (long long)job_id, j.state);
		goto out;
	}
	if (strcmp(j.rec_mac, j.mac) || (strcmp(j.rec_state, "reserved") && strcmp(j.rec_state, "sent") &&
					 strcmp(j.rec_state, "verified"))) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld: record '%s' is %s for %s: write nothing",
				    (long long)job_id, j.record_id, j.rec_state, j.rec_mac[0] ? j.rec_mac : "no MAC");
		goto out;
	}
	rc = run(s, err, "UPDATE jobs SET state = 'sent', sent_at = ? WHERE id = ?", "si", now, job_id);
	if (!rc && !strcmp(j.rec_state, "reserved"))
		rc = job_bind_record(s, &j, now, err);
out:
	return store_end(s, rc, err);
}

static int batch_count(struct store *s, int64_t batch, const char *col, const char *now, struct store_err *err)
{
	if (!batch)
		return 0;
	if (!strcmp(col, "verified"))
		return run(s, err,
			   "UPDATE batches SET n_verified = n_verified + 1, "
			   "state = CASE WHEN n_verified + 1 >= count AND state IN ('active', 'paused') THEN 'done' "
			   "ELSE state END, "
			   "finished = CASE WHEN n_verified + 1 >= count AND finished IS NULL THEN ? ELSE finished END "
			   "WHERE id = ?",
			   "si", now, batch);
	return run(s, err, "UPDATE batches SET n_failed = n_failed + 1 WHERE id = ?", "i", batch);
}

/* Ends a job in state with its reason (NULL keeps none), counts it in its
 * batch (count: "verified", "failed" or NULL) and audits the attempt. */
static int job_close(struct store *s, const struct job_row *j, const char *state, const char *reason,
		     const char *now, const char *count, const struct store_audit_entry *audit, const char *event,
		     const char *result, struct store_err *err)
{
	int rc = run(s, err, "UPDATE jobs SET state = ?, error = ?, finished = ? WHERE id = ?", "sssi", state, reason,
		     now, j->id);
	if (!rc && count)
		rc = batch_count(s, j->batch_id, count, now, err);
	if (!rc)
		rc = audit_job(s, j, audit, event, result, reason, err);
	return rc;
}

int store_mark_verified(struct store *s, int64_t job_id, const struct store_audit_entry *audit,
			struct store_err *err)
{
	STORE_VIA_BACKEND(s, mark_verified, (s, job_id, audit, err));
	struct job_row j;
	char now[32];
	int rc;

	rc = job_begin(s, job_id, &j, now, sizeof(now), err);
	if (rc)
		return rc;
	if (strcmp(j.state, "sent")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not sent", (long long)job_id, j.state);
		goto out;
	}
	if (strcmp(j.rec_state, "retired"))
		rc = run(s, err, "UPDATE records SET state = 'verified', verified_at = ? WHERE id = ?", "si", now,
			 j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, "verified", NULL, now, "verified", audit, "provision", "ok", err);
out:
	return store_end(s, rc, err);
}

int store_release(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
		  struct store_err *err)
{
	STORE_VIA_BACKEND(s, release, (s, job_id, reason, audit, err));
	struct job_row j;
	char now[32];
	int rc;

	rc = job_begin(s, job_id, &j, now, sizeof(now), err);
	if (rc)
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
	return store_end(s, rc, err);
}

int store_fail(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	       struct store_err *err)
{
	STORE_VIA_BACKEND(s, fail, (s, job_id, reason, audit, err));
	struct job_row j;
	char now[32];
	int rc;

	rc = job_begin(s, job_id, &j, now, sizeof(now), err);
	if (rc)
		return rc;
	if (strcmp(j.state, "reserved") && strcmp(j.state, "sent")) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s already", (long long)job_id, j.state);
		goto out;
	}
	/* fail() on a job never marked sent means the caller may have written
	 * without asking: bind, which can never hand the record to another
	 * device, rather than guess that nothing left the station. */
	if (!strcmp(j.rec_state, "reserved") && j.rec_job_id == job_id)
		rc = job_bind_record(s, &j, now, err);
	else if (j.rec_job_id == job_id)
		rc = run(s, err, "UPDATE records SET job_id = NULL WHERE id = ?", "i", j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, "failed", reason, now, "failed", audit, "provision", "failed", err);
out:
	return store_end(s, rc, err);
}

int store_retire(struct store *s, const char *product, const char *record_id, const char *reason,
		 struct store_err *err)
{
	STORE_VIA_BACKEND(s, retire, (s, product, record_id, reason, err));
	sqlite3_stmt *st = NULL;
	char state[16] = "", mac[STORE_MAC_LEN + 1] = "";
	int64_t pid, rowid = 0;
	int rc;

	if (!reason || !*reason)
		return store_fail_err(err, STORE_EINPUT, "retiring a record needs a reason");
	if (!record_id || !*record_id)
		return store_fail_err(err, STORE_EINPUT, "retiring needs a record id");
	rc = store_begin(s, err);
	if (rc)
		return rc;
	if (product) {
		rc = store_product_id(s, product, &pid, err);
		if (rc)
			goto out;
	}
	rc = store_prep(s, &st,
			"SELECT r.id, r.state, coalesce(r.mac, ''), p.name FROM records r JOIN products p "
			"ON p.id = r.product_id WHERE r.record_id = ?1 AND (?2 IS NULL OR p.name = ?2)",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, record_id);
	store_bind_text(st, 2, product);
	char pname[72] = "";
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		n++;
		rowid = sqlite3_column_int64(st, 0);
		copy_col(state, sizeof(state), st, 1);
		copy_col(mac, sizeof(mac), st, 2);
		copy_col(pname, sizeof(pname), st, 3);
	}
	store_unprep(s, st);
	st = NULL;
	if (n == 0) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no record '%s'", record_id);
		goto out;
	}
	if (n > 1) {
		rc = store_fail_err(err, STORE_EINPUT, "record id '%s' exists in several products: give --product",
				    record_id);
		goto out;
	}
	if (!strcmp(state, "retired") || !strcmp(state, "reserved")) {
		rc = store_fail_err(err, STORE_ESTATE, "record '%s' is %s%s", record_id, state,
				    !strcmp(state, "reserved") ? " (a device is being provisioned with it): retry" : "");
		goto out;
	}
	rc = run(s, err, "UPDATE records SET state = 'retired', retired_reason = ? WHERE id = ?", "si", reason, rowid);
	if (rc)
		goto out;
	struct store_audit_entry a = {.mac = mac[0] ? mac : NULL, .product = pname, .record_id = record_id,
				      .baud = -1, .retries = -1, .duration_ms = -1, .error = reason};
	rc = store_audit_insert(s, &a, "retire", "retired", err);
out:
	store_unprep(s, st);
	return store_end(s, rc, err);
}

int store_recover(struct store *s, const char *station, struct store_recovery *rep, struct store_err *err)
{
	STORE_VIA_BACKEND(s, recover, (s, station, rep, err));
	sqlite3_stmt *st = NULL;
	struct store_recovery r = {0};
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	char now[32];
	int rc;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	store_now(now, sizeof(now));
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = store_prep(s, &st,
			"SELECT id FROM jobs WHERE state IN ('reserved', 'sent') AND (?1 IS NULL OR station = ?1) "
			"ORDER BY id",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, station);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			int64_t *ni = realloc(ids, nc * sizeof(*ni));
			if (!ni) {
				rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
				goto out;
			}
			ids = ni;
			cap = nc;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	store_unprep(s, st);
	st = NULL;
	for (size_t i = 0; i < n; i++) {
		struct job_row j;
		rc = load_job(s, ids[i], &j, err);
		if (rc)
			goto out;
		if (!strcmp(j.state, "reserved")) {
			/* Never marked sent: by the mark_sent-before-write rule no
			 * byte of the image left the station. */
			rc = job_unreserve_record(s, &j, err);
			if (!rc)
				rc = job_close(s, &j, "released", "interrupted before send", now, NULL, NULL, "recover",
					       "interrupted", err);
			r.released++;
		} else {
			/* Bytes may be on the device: it keeps its record. */
			rc = job_close(s, &j, "interrupted", "interrupted after send", now, NULL, NULL, "recover",
				       "interrupted", err);
			r.interrupted++;
		}
		if (rc)
			goto out;
	}
out:
	free(ids);
	store_unprep(s, st);
	rc = store_end(s, rc, err);
	if (!rc && rep)
		*rep = r;
	return rc;
}
