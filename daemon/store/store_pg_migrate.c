/* Schema migrations of the PostgreSQL store (schemas/pg/NNN_*.sql, built
 * into the program): versioned in espfab_schema, each applied once, all
 * pending ones in one transaction under an advisory lock. */
#include <stdio.h>
#include <string.h>

#include "store_pg.h"

/* Any constant: stations starting together take it to migrate one at a time. */
#define PG_MIGRATE_LOCK 0x65737066 /* "espf" */

static int schema_version(struct store *s, int *version, struct store_err *err)
{
	/* Two steps: a statement naming a missing table fails at parse time,
	 * whatever CASE guards it, and would abort the migration's transaction. */
	PGresult *r = pg_q(s, err, "espfab_schema", "SELECT to_regclass('espfab_schema') IS NOT NULL", "");
	*version = 0;
	if (!r)
		return err ? err->code : STORE_EDB;
	int exists = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (!exists)
		return 0;
	if (!(r = pg_q(s, err, "espfab_schema", "SELECT coalesce(max(version), 0) FROM espfab_schema", "")))
		return err ? err->code : STORE_EDB;
	*version = (int)pg_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

/* Applies the pending migrations in one transaction under an advisory
 * lock: a second station starting at the same moment waits on the lock,
 * then sees the new version and applies nothing. DDL is transactional, so
 * a crash leaves the old version whole. */
int pg_migrate(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	int version = 0, rc;
	int newest = store_pg_n_migrations ? store_pg_migrations[store_pg_n_migrations - 1].version : 0;

	if ((rc = schema_version(s, &version, err)))
		return rc;
	if (version > newest)
		return store_fail_err(err, STORE_ESCHEMA, "%s: database schema version %d is newer than this program's (%d)",
				      pg->where, version, newest);
	if (version == newest)
		return 0;
	if (pg->readonly)
		return store_fail_err(err, STORE_ESCHEMA, "%s: schema version %d, this program needs %d", pg->where,
				      version, newest);
	if (pg->txn)
		return store_fail_err(err, STORE_EINPUT, "%s: cannot migrate inside a transaction", pg->where);
	/* A session lock taken before the transaction: the transaction that
	 * follows then starts after the previous holder committed and sees its
	 * tables (a lock taken inside it would leave this session's catalog
	 * cache as it was when the transaction began). */
	if ((rc = pg_x(s, err, NULL, "migration lock", "SELECT pg_advisory_lock($1)", "i", (int64_t)PG_MIGRATE_LOCK)))
		return rc;
	if ((rc = pg_begin(s, err)))
		goto unlock;
	if ((rc = schema_version(s, &version, err)))
		goto out;
	if (version == 0 &&
	    (rc = pg_x(s, err, NULL, "espfab_schema",
			 "CREATE TABLE espfab_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)",
			 "")))
		goto out;
	for (size_t i = 0; i < store_pg_n_migrations; i++) {
		const struct store_migration *m = &store_pg_migrations[i];
		char now[32];
		if (m->version <= version)
			continue;
		/* Several statements: the simple query protocol runs them all. */
		PGresult *r = PQexec(pg->c, (const char *)m->sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			char what[96];
			snprintf(what, sizeof(what), "migration %s", m->name);
			rc = pg_err(s, r, err, what);
			PQclear(r);
			goto out;
		}
		PQclear(r);
		store_now(now, sizeof(now));
		if ((rc = pg_x(s, err, NULL, "espfab_schema",
			       "INSERT INTO espfab_schema (version, name, applied) VALUES ($1, $2, $3)", "iss",
			       (int64_t)m->version, m->name, now)))
			goto out;
	}
out:
	rc = pg_end(s, rc, err);
unlock:
	/* On a broken connection the server dropped the lock with it. */
	if (PQstatus(pg->c) == CONNECTION_OK)
		pg_x(s, NULL, NULL, "migration lock", "SELECT pg_advisory_unlock($1)", "i", (int64_t)PG_MIGRATE_LOCK);
	return rc;
}
