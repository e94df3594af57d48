/* A station's lease of records (store.h has the rules; schemas/006_lease.sql
 * the column and the triggers that end a lease when its record leaves the
 * pool; the PostgreSQL twin is store_pg_lease.c). Each call is one BEGIN
 * IMMEDIATE transaction, durable before it returns, like every other
 * transition of a record. */
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

/* The SQLite store's invariant about leases; store_pg_lease.c has the same
 * two rules in PostgreSQL's words. */
static const struct {
	const char *what;
	const char *sql;
} lease_rules[] = {
	{"a leased record is out of the pool (bound, sent, verified or retired)",
	 "SELECT record_id FROM records WHERE lease_station IS NOT NULL AND "
	 "(bound = 1 OR state NOT IN ('available', 'reserved'))"},
	{"a record leased to one station is reserved by another",
	 "SELECT record_id FROM records WHERE lease_station IS NOT NULL AND state = 'reserved' AND "
	 "station IS NOT lease_station"},
};

int store_lease_check(struct store *s, struct store_err *err)
{
	for (size_t i = 0; i < sizeof(lease_rules) / sizeof(lease_rules[0]); i++) {
		sqlite3_stmt *st = NULL;
		int rc = store_prep(s, &st, lease_rules[i].sql, err);
		if (rc)
			return rc;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			store_fail_err(err, STORE_ESTATE, "invariant broken: %s (record '%s')", lease_rules[i].what,
				       sqlite3_column_text(st, 0));
		store_unprep(s, st);
		if (rc == SQLITE_ROW)
			return STORE_ESTATE;
		if (rc != SQLITE_DONE)
			return store_db_err(s, err, "check");
	}
	return 0;
}

int store_lease_args(const char *station, struct store_err *err)
{
	if (!station || !*station || strlen(station) > 128)
		return store_fail_err(err, STORE_EINPUT, "a lease needs a station name (1 to 128 bytes)");
	return 0;
}

struct store_audit_entry store_lease_entry(const char *station, const char *product, const char *record_id,
					   const char *reason)
{
	return (struct store_audit_entry){.station = station,
					  .product = product,
					  .record_id = record_id,
					  .baud = -1,
					  .retries = -1,
					  .duration_ms = -1,
					  .error = reason};
}

static int lease_audit(struct store *s, const char *station, const char *product, const char *record_id,
		       const char *result, const char *reason, struct store_err *err)
{
	struct store_audit_entry a = store_lease_entry(station, product, record_id, reason);
	return store_audit_insert(s, &a, "lease", result, err);
}

int store_lease_pick(struct store *s, int64_t product_id, const char *station, int64_t *rowid, struct store_err *err)
{
	static const char *const sql[] = {
		"SELECT id FROM records WHERE product_id = ? AND state = 'available' AND lease_station = ? "
		"ORDER BY id LIMIT 1",
		"SELECT id FROM records WHERE product_id = ? AND state = 'available' AND lease_station IS NULL "
		"ORDER BY id LIMIT 1",
	};
	int rc = 0;

	*rowid = 0;
	for (size_t i = 0; !rc && !*rowid && i < 2; i++) {
		sqlite3_stmt *st = NULL;
		if ((rc = store_prep(s, &st, sql[i], err)))
			break;
		sqlite3_bind_int64(st, 1, product_id);
		if (i == 0)
			store_bind_text(st, 2, station);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*rowid = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, err, "records");
		store_unprep(s, st);
	}
	return rc;
}

/* The ids (and record ids) of up to want free records of the product, lowest
 * first: the claim's own order, so a lease takes what the line would have
 * taken next. */
static int lease_free_ids(struct store *s, int64_t pid, int64_t want, int64_t **ids, char ***rids, size_t *n,
			  struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st,
			    "SELECT id, record_id FROM records WHERE product_id = ? AND state = 'available' AND "
			    "lease_station IS NULL ORDER BY id LIMIT ?",
			    err);

	*n = 0;
	if (rc)
		return rc;
	*ids = calloc((size_t)want, sizeof(**ids));
	*rids = calloc((size_t)want, sizeof(**rids));
	if (!*ids || !*rids) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int64(st, 2, want);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < (size_t)want) {
		(*ids)[*n] = sqlite3_column_int64(st, 0);
		if (!((*rids)[*n] = store_col_strdup(st, 1))) {
			rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
			goto out;
		}
		(*n)++;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_err(s, err, "records");
out:
	store_unprep(s, st);
	return rc;
}

/* sql: a count over records with ? = product id, ? = station. */
static int count_records(struct store *s, const char *sql, int64_t pid, const char *station, int64_t *n,
			 struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st, sql, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, pid);
	store_bind_text(st, 2, station);
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : store_db_err(s, err, "records");
	if (!rc)
		*n = sqlite3_column_int64(st, 0);
	store_unprep(s, st);
	return rc;
}

static int lease_count(struct store *s, int64_t pid, const char *station, int64_t *held, struct store_err *err)
{
	return count_records(s,
			     "SELECT count(*) FROM records WHERE product_id = ? AND state = 'available' AND "
			     "lease_station = ?",
			     pid, station, held, err);
}

int store_lease_fill(struct store *s, const char *station, const char *product, int64_t n, int64_t *held,
		     struct store_err *err)
{
	STORE_VIA_BACKEND(s, lease_fill, (s, station, product, n, held, err));
	int64_t pid = 0, have = 0, *ids = NULL;
	char **rids = NULL;
	size_t got = 0;
	int rc;

	if (held)
		*held = 0;
	if ((rc = store_lease_args(station, err)))
		return rc;
	if (n < 0 || n > STORE_LEASE_MAX)
		return store_fail_err(err, STORE_EINPUT, "lease size %lld: expected 0..%d", (long long)n,
				      STORE_LEASE_MAX);
	if ((rc = store_begin(s, err)))
		return rc;
	if ((rc = store_product_id(s, product, &pid, err)) || (rc = lease_count(s, pid, station, &have, err)))
		goto out;
	if (have < n && (rc = lease_free_ids(s, pid, n - have, &ids, &rids, &got, err)))
		goto out;
	for (size_t i = 0; i < got && !rc; i++) {
		rc = store_run(s, err, "UPDATE records SET lease_station = ? WHERE id = ? AND state = 'available'",
			       "si", station, ids[i]);
		if (!rc && sqlite3_changes(s->db) != 1)
			rc = store_fail_err(err, STORE_EDB, "record '%s' changed under the write lock", rids[i]);
		if (!rc)
			rc = lease_audit(s, station, product, rids[i], "leased", NULL, err);
	}
out:
	for (size_t i = 0; rids && i < got; i++)
		free(rids[i]);
	free(rids);
	free(ids);
	rc = store_end(s, rc, err);
	if (!rc && held)
		*held = have + (int64_t)got;
	return rc;
}

struct lease_row {
	int64_t id;
	char *record_id, *product;
};

static void lease_rows_free(struct lease_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].record_id);
		free(rows[i].product);
	}
	free(rows);
}

/* Every record leased to the station, with its product's name. */
static int lease_rows(struct store *s, const char *station, struct lease_row **out, size_t *n,
		      struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	struct lease_row *rows = NULL;
	size_t cap = 0;
	int rc = store_prep(s, &st,
			    "SELECT r.id, r.record_id, p.name FROM records r JOIN products p ON p.id = r.product_id "
			    "WHERE r.lease_station = ? ORDER BY r.id",
			    err);

	*n = 0;
	if (rc)
		return rc;
	store_bind_text(st, 1, station);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct lease_row *nr = realloc(rows, nc * sizeof(*nr));
			if (!nr) {
				rc = STORE_ENOMEM;
				break;
			}
			rows = nr;
			cap = nc;
		}
		struct lease_row *r = &rows[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		r->record_id = store_col_strdup(st, 1);
		r->product = store_col_strdup(st, 2);
		if (!r->record_id || !r->product) {
			rc = STORE_ENOMEM;
			break;
		}
	}
	if (rc == STORE_ENOMEM)
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
	else
		rc = rc == SQLITE_DONE ? 0 : store_db_err(s, err, "records");
	store_unprep(s, st);
	*out = rows;
	return rc;
}

int store_lease_release(struct store *s, const char *station, const char *reason, int64_t *released,
			struct store_err *err)
{
	STORE_VIA_BACKEND(s, lease_release, (s, station, reason, released, err));
	struct lease_row *rows = NULL;
	size_t n = 0;
	int rc;

	if (released)
		*released = 0;
	if ((rc = store_lease_args(station, err)))
		return rc;
	if ((rc = store_begin(s, err)))
		return rc;
	if ((rc = lease_rows(s, station, &rows, &n, err)))
		goto out;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = store_run(s, err, "UPDATE records SET lease_station = NULL WHERE id = ?", "i", rows[i].id);
		if (!rc)
			rc = lease_audit(s, station, rows[i].product, rows[i].record_id, "released", reason, err);
	}
out:
	lease_rows_free(rows, n);
	rc = store_end(s, rc, err);
	if (!rc && released)
		*released = (int64_t)n;
	return rc;
}

int store_lease_available(struct store *s, const char *station, const char *product, int64_t *n, struct store_err *err)
{
	STORE_VIA_BACKEND(s, lease_available, (s, station, product, n, err));
	int64_t pid = 0;
	int rc;

	*n = 0;
	if ((rc = store_lease_args(station, err)) || (rc = store_product_id(s, product, &pid, err)))
		return rc;
	return count_records(s,
			     "SELECT count(*) FROM records WHERE product_id = ? AND state = 'available' AND "
			     "(lease_station IS NULL OR lease_station = ?)",
			     pid, station, n, err);
}
