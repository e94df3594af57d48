/* The record lifecycle after the claim (store_reserve.c; see store.h for the invariant). Each function is one
 * BEGIN IMMEDIATE transaction: it reads the current state, checks the
 * transition is allowed, writes, and commits, so two stations racing for
 * the same record serialise on the write lock and the second sees the
 * first's result. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "espfab/store_state.h"
#include "store_int.h"

struct job_row {
	int64_t id, batch_id, record_rowid, rec_job_id;
	enum store_job_state state;
	enum store_record_state rec_state;
	char mac[STORE_MAC_LEN + 1], rec_mac[STORE_MAC_LEN + 1];
	char station[128], port[256], chip[64], product[72], record_id[132];
};

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
		j->state = (enum store_job_state)store_job_state_parse((const char *)sqlite3_column_text(st, 0));
		j->record_rowid = sqlite3_column_int64(st, 1);
		j->batch_id = sqlite3_column_int64(st, 2);
		store_col_copy(j->mac, sizeof(j->mac), st, 3);
		store_col_copy(j->station, sizeof(j->station), st, 4);
		store_col_copy(j->port, sizeof(j->port), st, 5);
		store_col_copy(j->chip, sizeof(j->chip), st, 6);
		j->rec_state = (enum store_record_state)store_record_state_parse((const char *)sqlite3_column_text(st, 7));
		store_col_copy(j->rec_mac, sizeof(j->rec_mac), st, 8);
		j->rec_job_id = sqlite3_column_int64(st, 9);
		store_col_copy(j->product, sizeof(j->product), st, 10);
		store_col_copy(j->record_id, sizeof(j->record_id), st, 11);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no job %lld", (long long)job_id);
	} else {
		rc = store_db_err(s, err, "jobs");
	}
	store_unprep(s, st);
	return rc;
}

/* The audit row of a job's end: the caller's facts, the job's identity. */
static void job_entry(const struct job_row *j, const struct store_audit_entry *given, const char *error,
		      struct store_audit_entry *out)
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
	*out = a;
}

static int audit_job(struct store *s, const struct job_row *j, const struct store_audit_entry *given,
		     const char *event, const char *result, const char *error, struct store_err *err)
{
	struct store_audit_entry a;

	job_entry(j, given, error, &a);
	return store_audit_insert(s, &a, event, result, err);
}

/* The job's end arrives again under a stored delivery id (store.h, EXACTLY
 * ONCE): 1, and the call writes nothing; before the state check, which
 * would refuse the repeat of a job it already closed. */
static int job_delivered(struct store *s, const struct job_row *j, const struct store_audit_entry *given,
			 const char *event, const char *result, const char *error, struct store_err *err)
{
	struct store_audit_entry a;

	if (!given || !given->delivery)
		return 0;
	job_entry(j, given, error, &a);
	return store_delivery_seen(s, &a, event, result, err);
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
	return store_run(s, err, "UPDATE records SET state = 'sent', bound = 1, bound_at = ?, job_id = NULL WHERE id = ?",
		   "si", now, j->record_rowid);
}

/* Undoes only what this job did to its record: its own reservation returns
 * the record to 'available'; a record bound by an earlier job stays bound
 * (the trigger would refuse anyway) and just forgets this job. */
static int job_unreserve_record(struct store *s, const struct job_row *j, struct store_err *err)
{
	if (j->rec_job_id != j->id)
		return 0;
	if (j->rec_state == STORE_RECORD_RESERVED)
		return store_run(s, err,
			   "UPDATE records SET state = 'available', mac = NULL, station = NULL, port = NULL, "
			   "job_id = NULL WHERE id = ?",
			   "i", j->record_rowid);
	return store_run(s, err, "UPDATE records SET job_id = NULL WHERE id = ?", "i", j->record_rowid);
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

int store_mark_sent(struct store *s, int64_t job_id, struct store_err *err)
{
	STORE_VIA_BACKEND(s, mark_sent, (s, job_id, err));
	struct job_row j;
	char now[32];
	int rc;

	rc = job_begin(s, job_id, &j, now, sizeof(now), err);
	if (rc)
		return rc;
	if (!store_state_allowed(STORE_LC_JOB, j.state, STORE_JOB_SENT)) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not reserved: write nothing",
				    (long long)job_id, store_job_state_name(j.state));
		goto out;
	}
	/* The record is this job's reservation, or bound to the same MAC by an
	 * earlier job (a device provisioned again). */
	if (strcmp(j.rec_mac, j.mac) || (j.rec_state != STORE_RECORD_RESERVED && j.rec_state != STORE_RECORD_SENT &&
					 j.rec_state != STORE_RECORD_VERIFIED)) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld: record '%s' is %s for %s: write nothing",
				    (long long)job_id, j.record_id, store_record_state_name(j.rec_state),
				    j.rec_mac[0] ? j.rec_mac : "no MAC");
		goto out;
	}
	rc = store_run(s, err, "UPDATE jobs SET state = ?, sent_at = ? WHERE id = ?", "ssi",
		       store_job_state_name(STORE_JOB_SENT), now, job_id);
	if (!rc && j.rec_state == STORE_RECORD_RESERVED)
		rc = job_bind_record(s, &j, now, err);
out:
	return store_end(s, rc, err);
}

static int batch_count(struct store *s, int64_t batch, const char *col, const char *now, struct store_err *err)
{
	if (!batch)
		return 0;
	if (!strcmp(col, "verified"))
		return store_run(s, err,
			   "UPDATE batches SET n_verified = n_verified + 1, "
			   "state = CASE WHEN n_verified + 1 >= count AND state IN ('active', 'paused') THEN 'done' "
			   "ELSE state END, "
			   "finished = CASE WHEN n_verified + 1 >= count AND finished IS NULL THEN ? ELSE finished END "
			   "WHERE id = ?",
			   "si", now, batch);
	return store_run(s, err, "UPDATE batches SET n_failed = n_failed + 1 WHERE id = ?", "i", batch);
}

/* Ends a job in state with its reason (NULL keeps none), counts it in its
 * batch (count: "verified", "failed" or NULL) and audits the attempt. The
 * transition must be one of store_state.c's. */
static int job_close(struct store *s, const struct job_row *j, enum store_job_state state, const char *reason,
		     const char *now, const char *count, const struct store_audit_entry *audit, const char *event,
		     const char *result, struct store_err *err)
{
	int rc;

	if (!store_state_allowed(STORE_LC_JOB, j->state, state))
		return store_fail_err(err, STORE_ESTATE, "job %lld is %s: it cannot become %s", (long long)j->id,
				      store_job_state_name(j->state), store_job_state_name(state));
	rc = store_run(s, err, "UPDATE jobs SET state = ?, error = ?, finished = ? WHERE id = ?", "sssi",
		       store_job_state_name(state), reason, now, j->id);
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
	if ((rc = job_delivered(s, &j, audit, "provision", "ok", NULL, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!store_state_allowed(STORE_LC_JOB, j.state, STORE_JOB_VERIFIED)) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s, not sent", (long long)job_id,
				    store_job_state_name(j.state));
		goto out;
	}
	if (j.rec_state != STORE_RECORD_RETIRED)
		rc = store_run(s, err, "UPDATE records SET state = 'verified', verified_at = ? WHERE id = ?", "si", now,
			 j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, STORE_JOB_VERIFIED, NULL, now, "verified", audit, "provision", "ok", err);
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
	if ((rc = job_delivered(s, &j, audit, "provision", "released", reason, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!store_state_allowed(STORE_LC_JOB, j.state, STORE_JOB_RELEASED)) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s: only a reserved job can be released",
				    (long long)job_id, store_job_state_name(j.state));
		goto out;
	}
	rc = job_unreserve_record(s, &j, err);
	if (!rc)
		rc = job_close(s, &j, STORE_JOB_RELEASED, reason, now, "failed", audit, "provision", "released", err);
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
	if ((rc = job_delivered(s, &j, audit, "provision", "failed", reason, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!store_state_allowed(STORE_LC_JOB, j.state, STORE_JOB_FAILED)) {
		rc = store_fail_err(err, STORE_ESTATE, "job %lld is %s already", (long long)job_id,
				    store_job_state_name(j.state));
		goto out;
	}
	/* fail() on a job never marked sent means the caller may have written
	 * without asking: bind, which can never hand the record to another
	 * device, rather than guess that nothing left the station. */
	if (j.rec_state == STORE_RECORD_RESERVED && j.rec_job_id == job_id)
		rc = job_bind_record(s, &j, now, err);
	else if (j.rec_job_id == job_id)
		rc = store_run(s, err, "UPDATE records SET job_id = NULL WHERE id = ?", "i", j.record_rowid);
	if (!rc)
		rc = job_close(s, &j, STORE_JOB_FAILED, reason, now, "failed", audit, "provision", "failed", err);
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
		store_col_copy(state, sizeof(state), st, 1);
		store_col_copy(mac, sizeof(mac), st, 2);
		store_col_copy(pname, sizeof(pname), st, 3);
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
	if (!store_state_allowed(STORE_LC_RECORD, store_record_state_parse(state), STORE_RECORD_RETIRED)) {
		rc = store_fail_err(err, STORE_ESTATE, "record '%s' is %s%s", record_id, state,
				    store_record_state_parse(state) == STORE_RECORD_RESERVED
					    ? " (a device is being provisioned with it): retry"
					    : "");
		goto out;
	}
	rc = store_run(s, err, "UPDATE records SET state = 'retired', retired_reason = ? WHERE id = ?", "si", reason, rowid);
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
		if (j.state == STORE_JOB_RESERVED) {
			/* Never marked sent: by the mark_sent-before-write rule no
			 * byte of the image left the station. */
			rc = job_unreserve_record(s, &j, err);
			if (!rc)
				rc = job_close(s, &j, STORE_JOB_RELEASED, "interrupted before send", now, NULL, NULL, "recover",
					       "interrupted", err);
			r.released++;
		} else {
			/* Bytes may be on the device: it keeps its record. */
			rc = job_close(s, &j, STORE_JOB_INTERRUPTED, "interrupted after send", now, NULL, NULL, "recover",
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
