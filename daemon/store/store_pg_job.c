/* Job transitions on PostgreSQL: marked sent, verified, released, failed;
 * retire; startup recovery (store.h has the invariant; the SQLite twin is
 * store_claim.c). Each call is one transaction that locks its job and
 * record rows, record first, in the order a claim takes them. */
#include <stdlib.h>
#include <string.h>

#include "espfab/store_state.h"
#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

struct job_row {
	int64_t id, batch_id, record_rowid, rec_job_id;
	char state[16], rec_state[16];
	char mac[STORE_MAC_LEN + 1], rec_mac[STORE_MAC_LEN + 1];
	char station[128], port[256], chip[64], product[72], record_id[132];
};

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
	pg_copy_str(j->state, sizeof(j->state), r, 0);
	j->record_rowid = pg_i64(r, 0, 1);
	j->batch_id = pg_i64(r, 0, 2);
	pg_copy_str(j->mac, sizeof(j->mac), r, 3);
	pg_copy_str(j->station, sizeof(j->station), r, 4);
	pg_copy_str(j->port, sizeof(j->port), r, 5);
	pg_copy_str(j->chip, sizeof(j->chip), r, 6);
	pg_copy_str(j->rec_state, sizeof(j->rec_state), r, 7);
	pg_copy_str(j->rec_mac, sizeof(j->rec_mac), r, 8);
	j->rec_job_id = pg_i64(r, 0, 9);
	pg_copy_str(j->product, sizeof(j->product), r, 10);
	pg_copy_str(j->record_id, sizeof(j->record_id), r, 11);
	PQclear(r);
	return 0;
}

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
	return pg_audit_insert(s, &a, event, result, err);
}

/* As store_claim.c's: a stored delivery's repeat is 1 and writes nothing,
 * checked before the state rules that would refuse it. */
static int job_delivered(struct store *s, const struct job_row *j, const struct store_audit_entry *given,
			 const char *event, const char *result, const char *error, struct store_err *err)
{
	struct store_audit_entry a;

	if (!given || !given->delivery)
		return 0;
	job_entry(j, given, error, &a);
	return pg_delivery_seen(s, &a, event, result, err);
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

/* The job's transition to `to` is one of store_state.c's table: the same
 * rules as the SQLite store; j->state stays the string for messages. */
static int job_may(const struct job_row *j, enum store_job_state to)
{
	return store_state_allowed(STORE_LC_JOB, store_job_state_parse(j->state), to);
}

int pg_mark_sent(struct store *s, int64_t job_id, struct store_err *err)
{
	struct job_row j;
	char now[32];
	int rc;

	if ((rc = job_begin(s, job_id, &j, now, sizeof(now), err)))
		return rc;
	if (!job_may(&j, STORE_JOB_SENT)) {
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

static int job_close(struct store *s, const struct job_row *j, const char *state, const char *reason,
		     const char *now, const char *count, const struct store_audit_entry *audit, const char *event,
		     const char *result, struct store_err *err)
{
	int rc = pg_x(s, err, NULL, "jobs", "UPDATE jobs SET state = $1, error = $2, finished = $3 WHERE id = $4",
		      "sssi", state, reason, now, j->id);
	/* The job's own station's counter row, and its place back unless it
	 * was verified: no row another station's result needs
	 * (store_pg_batch.c). */
	if (!rc && count)
		rc = pg_batch_count(s, j->batch_id, j->station, !strcmp(count, "verified"), err);
	if (!rc && j->batch_id && strcmp(state, "verified"))
		rc = pg_place_free(s, j->id, err);
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
	if ((rc = job_delivered(s, &j, audit, "provision", "ok", NULL, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!job_may(&j, STORE_JOB_VERIFIED)) {
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
	if ((rc = job_delivered(s, &j, audit, "provision", "released", reason, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!job_may(&j, STORE_JOB_RELEASED)) {
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
	if ((rc = job_delivered(s, &j, audit, "provision", "failed", reason, err)) != 0) {
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!job_may(&j, STORE_JOB_FAILED)) {
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
	pg_copy_str(state, sizeof(state), res, 1);
	pg_copy_str(mac, sizeof(mac), res, 2);
	pg_copy_str(pname, sizeof(pname), res, 3);
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
		if (store_job_state_parse(j.state) == STORE_JOB_RESERVED) {
			rc = job_unreserve_record(s, &j, err);
			if (!rc)
				rc = job_close(s, &j, "released", "interrupted before send", now, NULL, NULL, "recover",
					       "interrupted", err);
			r.released++;
		} else if (store_job_state_parse(j.state) == STORE_JOB_SENT) {
			rc = job_close(s, &j, "interrupted", "interrupted after send", now, NULL, NULL, "recover",
				       "interrupted", err);
			r.interrupted++;
		}
		if (rc)
			goto out;
	}
	/* A batch whose last result committed but whose done mark did not
	 * (the connection broke between the two, store_pg_batch.c). */
	rc = pg_batch_done_all(s, err);
out:
	PQclear(res);
	rc = pg_end(s, rc, err);
	if (!rc && rep)
		*rep = r;
	return rc;
}
