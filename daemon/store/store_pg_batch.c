/* A batch's room and counters on PostgreSQL (schemas/pg/006_batch_counts.sql),
 * built so that stations of one shared batch never take turns on one row.
 *
 * WHY NOT THE BATCH ROW. Counting the room under the batch row's lock, and
 * the results in its columns, made every claim and every result of a batch
 * hold that one lock through its WAL flush: one shared batch did ~360
 * devices/s with 1, 4 or 8 stations (issue 11).
 *
 * ROOM AS PLACES. A batch of count devices has places 1..count. A claim
 * takes the lowest free place with FOR UPDATE SKIP LOCKED, exactly as it
 * takes its record, so claims of one batch pass each other; a job that
 * ends unverified (released, failed, interrupted, superseded) frees its
 * place; a verified job keeps it. Held plus verified can never exceed
 * count, with no count taken under a lock. Chosen over per-station room
 * quotas: a quota a station holds but does not use (a line stopped) must
 * be taken back by the others, which brings the cross-station locks back
 * just when the batch is nearly done, and needs a rule for every way a job
 * ends; a place is given back by the job's own transition. Places are made
 * in chunks as claims need them (a batch of 100,000 costs nothing until it
 * is used), under the batch row's lock: once per PG_PLACE_CHUNK claims.
 *
 * RE-CLAIMS. A known device claimed again is never refused for room (the
 * rule of store_claim.c); in a full batch it takes a place above count.
 * A place below count that is freed goes to such a job first, so a batch
 * that let one in admits nobody new until the overflow is worked off, as
 * when held + verified was counted. The one race left: a re-claim entering
 * a full batch while another job frees a place can leave that place free
 * for a new claim (a batch one over, only ever after a re-claim).
 *
 * COUNTERS PER STATION. A result adds to its own station's row of
 * batch_counts; the totals are sums. "done" needs the total seen after the
 * last result committed (two stations' last results could each see the
 * other's uncommitted), so every commit that stored a verified result of a
 * batch then runs one statement that marks it done when the committed total
 * reached count (pg_batch_done_checks): the last result to commit always
 * sees every other one. It takes no lock unless it marks the batch. If the
 * connection breaks between the two, startup recovery marks it. */
#include <stdio.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)
/* Places made at once: a batch-row lock per this many claims. */
#define PG_PLACE_CHUNK 64

/* The lowest free place below count, skipping those other claims are
 * taking; only while the batch is active (read after the job's INSERT,
 * whose key check keeps a pause from committing under this claim). */
static const char take_sql[] =
	"UPDATE batch_places SET job_id = $1 WHERE batch_id = $2 AND place = "
	"(SELECT place FROM batch_places WHERE batch_id = $2 AND job_id IS NULL AND place <= $3 "
	"AND EXISTS (SELECT 1 FROM batches WHERE id = $2 AND state = 'active') "
	"ORDER BY place LIMIT 1 FOR UPDATE SKIP LOCKED)";
/* The same under the batch lock (the batch's state was checked under it).
 * Still SKIP LOCKED: a free place another claim has locked is as good as
 * taken (a claim's place is its last step; it rolls back only if the
 * connection or the station's round fails). Waiting for it instead could
 * deadlock two stations' rounds (espfabd's group commit), each holding
 * places the other waits for. */
static const char take_wait_sql[] =
	"UPDATE batch_places SET job_id = $1 WHERE batch_id = $2 AND place = "
	"(SELECT place FROM batch_places WHERE batch_id = $2 AND job_id IS NULL AND place <= $3 "
	"ORDER BY place LIMIT 1 FOR UPDATE SKIP LOCKED)";

/* No free place for everyone: under the batch row's lock, make the next
 * chunk, or take a free one again, or (a re-claim) take one above count. */
static int place_take_locked(struct store *s, int64_t batch, int64_t count, int64_t job, int overflow,
			     struct store_err *err)
{
	int64_t made, n = 0;
	int rc = 0;
	PGresult *r = pg_q(s, err, "batches", "SELECT state FROM batches WHERE id = $1 FOR NO KEY UPDATE", "i", batch);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "active"))
		rc = store_fail_err(err, STORE_EBATCH, "batch %lld is %s", (long long)batch,
				    PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "gone");
	PQclear(r);
	if (rc)
		return rc;
	/* A fresh statement after the lock: sees every chunk made before. */
	if (!(r = pg_q(s, err, "batch_places",
		       "SELECT coalesce(max(place), 0) FROM batch_places WHERE batch_id = $1 AND place <= $2", "ii",
		       batch, count)))
		return RC(err);
	made = pg_i64(r, 0, 0);
	PQclear(r);
	if (made < count) {
		int64_t last = made + PG_PLACE_CHUNK < count ? made + PG_PLACE_CHUNK : count;
		return pg_x(s, err, NULL, "batch_places",
			    "INSERT INTO batch_places (batch_id, place, job_id) SELECT $1, g, "
			    "CASE WHEN g = $2 THEN $4::bigint END FROM generate_series($2::bigint, $3::bigint) g",
			    "iiii", batch, made + 1, last, job);
	}
	if ((rc = pg_x(s, err, &n, "batch_places", take_wait_sql, "iii", job, batch, count)) || n == 1)
		return rc;
	if (!overflow)
		return store_fail_err(err, STORE_EBATCH, "batch %lld has no room for another device", (long long)batch);
	/* Every place insert runs under this lock: max + 1 is free. */
	return pg_x(s, err, NULL, "batch_places",
		    "INSERT INTO batch_places (batch_id, place, job_id) "
		    "SELECT $1, coalesce(max(place), 0) + 1, $2 FROM batch_places WHERE batch_id = $1",
		    "ii", batch, job);
}

int pg_place_take(struct store *s, int64_t batch, int64_t count, int64_t job, int overflow, struct store_err *err)
{
	int64_t n = 0;
	int rc = pg_x(s, err, &n, "batch_places", take_sql, "iii", job, batch, count);
	if (rc || n == 1)
		return rc;
	return place_take_locked(s, batch, count, job, overflow, err);
}

int pg_place_move(struct store *s, int64_t old, int64_t job, int64_t batch, int *moved, struct store_err *err)
{
	int64_t n = 0;
	int rc = pg_x(s, err, &n, "batch_places", "UPDATE batch_places SET job_id = $1 WHERE job_id = $2 AND batch_id = $3",
		      "iii", job, old, batch);
	if (!rc && n > 0)
		*moved = 1;
	return rc;
}

/* The freed place goes to the job of the lowest place above count, if
 * any. A separate statement after the one that freed it: its snapshot
 * then sees a re-claim's place that committed while that one waited. */
static int place_hand_over(struct store *s, int64_t batch, int64_t count, int64_t place, struct store_err *err)
{
	return pg_x(s, err, NULL, "batch_places",
		    "WITH e AS (SELECT place, job_id FROM batch_places WHERE batch_id = $1 AND place > $2 "
		    "AND job_id IS NOT NULL ORDER BY place LIMIT 1 FOR UPDATE), "
		    "x AS (UPDATE batch_places b SET job_id = NULL FROM e WHERE b.batch_id = $1 AND b.place = e.place) "
		    "UPDATE batch_places b SET job_id = e.job_id FROM e WHERE b.batch_id = $1 AND b.place = $3",
		    "iii", batch, count, place);
}

int pg_place_free(struct store *s, int64_t job, struct store_err *err)
{
	int rc = 0;
	PGresult *r = pg_q(s, err, "batch_places",
			   "UPDATE batch_places p SET job_id = NULL WHERE job_id = $1 "
			   "RETURNING p.batch_id, p.place, (SELECT count FROM batches b WHERE b.id = p.batch_id)",
			   "i", job);
	if (!r)
		return RC(err);
	for (int i = 0; !rc && i < PQntuples(r); i++)
		if (pg_i64(r, i, 1) <= pg_i64(r, i, 2))
			rc = place_hand_over(s, pg_i64(r, i, 0), pg_i64(r, i, 2), pg_i64(r, i, 1), err);
	PQclear(r);
	return rc;
}

static void done_check_queue(struct store_pg *pg, int64_t batch)
{
	for (int i = 0; i < pg->n_done_check; i++)
		if (pg->done_check[i] == batch)
			return;
	if (pg->n_done_check < PG_DONE_CHECKS)
		pg->done_check[pg->n_done_check++] = batch;
	else
		pg->done_check_all = 1;
}

int pg_batch_count(struct store *s, int64_t batch, const char *station, int verified, struct store_err *err)
{
	int rc;
	if (!batch)
		return 0;
	if (verified)
		rc = pg_x(s, err, NULL, "batch_counts",
			  "INSERT INTO batch_counts (batch_id, station, n_verified) VALUES ($1, $2, 1) "
			  "ON CONFLICT (batch_id, station) DO UPDATE SET n_verified = batch_counts.n_verified + 1",
			  "is", batch, station);
	else
		rc = pg_x(s, err, NULL, "batch_counts",
			  "INSERT INTO batch_counts (batch_id, station, n_failed) VALUES ($1, $2, 1) "
			  "ON CONFLICT (batch_id, station) DO UPDATE SET n_failed = batch_counts.n_failed + 1",
			  "is", batch, station);
	if (!rc && verified)
		done_check_queue(pg_of(s), batch);
	return rc;
}

/* batch 0: every batch still open. finished is kept if a cancel set it. */
static int done_mark(struct store *s, int64_t batch, struct store_err *err)
{
	char now[32];
	store_now(now, sizeof(now));
	return pg_x(s, err, NULL, "batches",
		    "UPDATE batches b SET state = 'done', finished = coalesce(finished, $2) "
		    "WHERE ($1 = 0 OR b.id = $1) AND b.state IN ('active', 'paused') AND "
		    "(SELECT coalesce(sum(c.n_verified), 0) FROM batch_counts c WHERE c.batch_id = b.id) >= b.count",
		    "is", batch, now);
}

void pg_batch_done_checks(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	int all = pg->done_check_all, n = pg->n_done_check;
	int64_t ids[PG_DONE_CHECKS];

	memcpy(ids, pg->done_check, sizeof(ids));
	pg_batch_done_forget(s);
	/* Best effort: a batch this misses (connection gone) is marked by
	 * pg_batch_done_all() at the next startup recovery. */
	if (all)
		done_mark(s, 0, NULL);
	for (int i = 0; !all && i < n; i++)
		done_mark(s, ids[i], NULL);
}

void pg_batch_done_forget(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	pg->n_done_check = pg->done_check_all = 0;
}

int pg_batch_done_all(struct store *s, struct store_err *err)
{
	return done_mark(s, 0, err);
}
