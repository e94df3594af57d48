/* The store on PostgreSQL: the connection, statements, transactions,
 * migrations, and the small calls (audit, uplink cursors, check).
 *
 * DURABILITY. Every state change is one transaction whose COMMIT returns
 * after the server flushed its WAL (synchronous_commit is set to on for
 * the session whatever the server's default, so a DBA's "off" cannot
 * quietly weaken a claim). A COMMIT the link broke under has an unknown
 * outcome: the call reports STORE_EOFFLINE and the caller writes nothing;
 * re-claiming the same MAC gets the same record back, so nothing is lost.
 *
 * CONCURRENCY. READ COMMITTED with explicit row locks: a claim takes the
 * lowest available record with FOR UPDATE SKIP LOCKED (stations never wait
 * for each other's picks), a job transition locks its job and record rows,
 * a claim in a batch locks the batch row while it counts the batch's room.
 *
 * OUTAGES. A call made while the connection is down re-connects first
 * (PQreset); if the server is still gone it fails with STORE_EOFFLINE at
 * once, and the caller decides how long to back off. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define PG_MAX_PARAMS 20
/* Matches the SQLite store's busy timeout: a wedged row lock shows up as
 * STORE_EBUSY rather than a hang. */
#define PG_SESSION_SQL                                                                                        \
	"SET synchronous_commit = on; SET lock_timeout = '15s'; SET client_min_messages = warning; "        \
	"SET idle_in_transaction_session_timeout = '60s'"
/* Any constant: stations starting together take it to migrate one at a time. */
#define PG_MIGRATE_LOCK 0x65737066 /* "espf" */

int store_pg_is_uri(const char *db)
{
	return db && (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11) ||
		      !strncmp(db, "service=", 8));
}

/* libpq messages run over several lines and end in a newline: the first
 * line is the news. */
static const char *first_line(const char *m, char *buf, size_t cap)
{
	size_t n = 0;
	if (!m)
		m = "";
	while (m[n] && m[n] != '\n' && n + 1 < cap)
		n++;
	memcpy(buf, m, n);
	buf[n] = '\0';
	return buf;
}

static int sqlstate_code(const char *st)
{
	if (!st)
		return STORE_EDB;
	if (!strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") || !strcmp(st, "57P03"))
		return STORE_EOFFLINE;
	if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03"))
		return STORE_EBUSY;
	if (!strncmp(st, "53", 2) || !strncmp(st, "58", 2))
		return STORE_EIO;
	return STORE_EDB;
}

int pg_err(struct store *s, const PGresult *r, struct store_err *err, const char *what)
{
	struct store_pg *pg = pg_of(s);
	char line[200];
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	int code = r ? sqlstate_code(PQresultErrorField(r, PG_DIAG_SQLSTATE)) : STORE_EOFFLINE;

	if (PQstatus(pg->c) != CONNECTION_OK)
		code = STORE_EOFFLINE;
	if (code == STORE_EOFFLINE) {
		/* The transaction, if any, went with the connection. */
		if (pg->txn)
			pg->txn_lost = 1;
		pg->call = 0;
		return store_fail_err(err, code, "%s: %s: database server unreachable: %s", pg->where, what,
				      first_line(msg ? msg : PQerrorMessage(pg->c), line, sizeof(line)));
	}
	return store_fail_err(err, code, "%s: %s", what, first_line(msg ? msg : PQerrorMessage(pg->c), line, sizeof(line)));
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static int session_setup(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	PGresult *r = PQexec(pg->c, pg->readonly ? PG_SESSION_SQL "; SET default_transaction_read_only = on"
						 : PG_SESSION_SQL);
	int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_err(s, r, err, "session");
	PQclear(r);
	return rc;
}

/* Outside any transaction, a lost connection is made again before a call. */
static int pg_alive(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	char line[200];

	if (PQstatus(pg->c) == CONNECTION_OK)
		return 0;
	if (pg->txn || pg->call) {
		pg->txn_lost = 1;
		return store_fail_err(err, STORE_EOFFLINE, "%s: database server unreachable inside a transaction",
				      pg->where);
	}
	PQreset(pg->c);
	if (PQstatus(pg->c) != CONNECTION_OK)
		return store_fail_err(err, STORE_EOFFLINE, "%s: database server unreachable: %s", pg->where,
				      first_line(PQerrorMessage(pg->c), line, sizeof(line)));
	return session_setup(s, err);
}

static PGresult *vq(struct store *s, struct store_err *err, const char *what, const char *sql, const char *types,
		    va_list ap)
{
	struct store_pg *pg = pg_of(s);
	const char *vals[PG_MAX_PARAMS];
	int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][24];
	int n = 0;

	if (pg_alive(s, err))
		return NULL;
	for (; types[n]; n++) {
		if (n >= PG_MAX_PARAMS) {
			store_fail_err(err, STORE_EDB, "%s: too many parameters", what);
			return NULL;
		}
		lens[n] = 0;
		fmts[n] = 0;
		switch (types[n]) {
		case 'i':
			snprintf(nums[n], sizeof(nums[n]), "%lld", (long long)va_arg(ap, int64_t));
			vals[n] = nums[n];
			break;
		case 'I':
		case 'N': {
			int64_t v = va_arg(ap, int64_t);
			snprintf(nums[n], sizeof(nums[n]), "%lld", (long long)v);
			vals[n] = v > 0 || (v == 0 && types[n] == 'N') ? nums[n] : NULL;
			break;
		}
		case 'b':
			vals[n] = va_arg(ap, const char *);
			lens[n] = (int)va_arg(ap, size_t);
			fmts[n] = 1;
			if (!vals[n])
				vals[n] = "";
			break;
		default:
			vals[n] = va_arg(ap, const char *);
			break;
		}
	}
	PGresult *r = PQexecParams(pg->c, sql, n, NULL, vals, lens, fmts, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		pg_err(s, r, err, what);
		PQclear(r);
		return NULL;
	}
	return r;
}

PGresult *pg_q(struct store *s, struct store_err *err, const char *what, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	PGresult *r = vq(s, err, what, sql, types, ap);
	va_end(ap);
	return r;
}

int pg_x(struct store *s, struct store_err *err, int64_t *n, const char *what, const char *sql, const char *types,
	 ...)
{
	va_list ap;
	va_start(ap, types);
	PGresult *r = vq(s, err, what, sql, types, ap);
	va_end(ap);
	if (!r)
		return err ? err->code : STORE_EDB;
	if (n)
		*n = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

static int simple(struct store *s, const char *sql, struct store_err *err)
{
	return pg_x(s, err, NULL, sql, sql, "");
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *pg_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

json_t *pg_json(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	switch (PQftype(r, col)) {
	case 20: /* int8 */
	case 21: /* int2 */
	case 23: /* int4 */
		return json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
	default:
		return json_string(PQgetvalue(r, row, col));
	}
}

int pg_bytea(const PGresult *r, int row, int col, uint8_t **out, size_t *len, struct store_err *err)
{
	size_t n = 0;
	unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);

	*out = NULL;
	*len = 0;
	if (!u)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	uint8_t *b = malloc(n + 1);
	if (b) {
		memcpy(b, u, n);
		b[n] = 0;
	}
	OPENSSL_cleanse(u, n);
	PQfreemem(u);
	if (!b)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	*out = b;
	*len = n;
	return 0;
}

/* ---- transactions ---- */

int pg_begin(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	int rc;

	if (!pg->txn) {
		if ((rc = simple(s, "BEGIN", err)))
			return rc;
		pg->call = 1;
		return 0;
	}
	if (pg->txn_lost)
		return store_fail_err(err, STORE_EDB, "%s: the enclosing transaction was rolled back", pg->where);
	if ((rc = simple(s, "SAVEPOINT op", err)))
		return rc;
	pg->txn_sp = 1;
	return 0;
}

int pg_commit(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	int rc;

	if (pg->txn) {
		rc = pg->txn_sp ? simple(s, "RELEASE SAVEPOINT op", err) : 0;
		if (rc) {
			pg_rollback(s);
			return rc;
		}
		pg->txn_sp = 0;
		return pg->txn_lost ? store_fail_err(err, STORE_EDB, "%s: the enclosing transaction was rolled back",
						     pg->where)
				    : 0;
	}
	PGresult *r = pg_q(s, err, "COMMIT", "COMMIT", "");
	/* A transaction already aborted answers COMMIT with ROLLBACK. */
	rc = r && !strcmp(PQcmdStatus(r), "COMMIT") ? 0
	     : r ? store_fail_err(err, STORE_EDB, "%s: the transaction was rolled back", pg->where)
		 : (err ? err->code : STORE_EDB);
	PQclear(r);
	pg->call = 0;
	if (rc && rc == STORE_EOFFLINE)
		store_fail_err(err, STORE_EOFFLINE, "%s: the connection broke during COMMIT: the outcome is unknown",
			       pg->where);
	if (rc)
		pg_rollback(s);
	return rc;
}

void pg_rollback(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	PGresult *r;

	if (PQstatus(pg->c) != CONNECTION_OK) {
		pg->call = pg->txn_sp = 0;
		if (pg->txn)
			pg->txn_lost = 1;
		return;
	}
	if (pg->txn) {
		if (pg->txn_sp) {
			r = PQexec(pg->c, "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op");
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				pg->txn_lost = 1;
			PQclear(r);
		}
		pg->txn_sp = 0;
		return;
	}
	if (PQtransactionStatus(pg->c) != PQTRANS_IDLE) {
		r = PQexec(pg->c, "ROLLBACK");
		PQclear(r);
	}
	pg->call = 0;
}

int pg_end(struct store *s, int rc, struct store_err *err)
{
	if (!rc)
		return pg_commit(s, err);
	pg_rollback(s);
	return rc;
}

int pg_txn_begin(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	int rc;

	if (pg->txn || pg->call)
		return store_fail_err(err, STORE_EINPUT, "%s: a transaction is already open", pg->where);
	if ((rc = simple(s, "BEGIN", err)))
		return rc;
	pg->txn = 1;
	pg->txn_sp = pg->txn_lost = 0;
	return 0;
}

int pg_txn_commit(struct store *s, struct store_err *err)
{
	struct store_pg *pg = pg_of(s);
	int lost = pg->txn_lost;

	if (!pg->txn)
		return store_fail_err(err, STORE_EINPUT, "%s: no transaction is open", pg->where);
	pg->txn = pg->txn_sp = pg->txn_lost = 0;
	if (lost) {
		pg_rollback(s);
		return store_fail_err(err, STORE_EDB, "%s: the enclosing transaction was rolled back", pg->where);
	}
	return pg_commit(s, err);
}

void pg_txn_rollback(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	if (!pg->txn)
		return;
	pg->txn = pg->txn_sp = pg->txn_lost = 0;
	pg_rollback(s);
}

/* ---- open, migrations ---- */

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
static int migrate(struct store *s, struct store_err *err)
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
	    (rc = simple(s, "CREATE TABLE espfab_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
			 "applied TEXT NOT NULL)", err)))
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

static void pg_close(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	if (pg) {
		if (pg->c)
			PQfinish(pg->c);
		if (pg->uri) {
			OPENSSL_cleanse(pg->uri, strlen(pg->uri));
			free(pg->uri);
		}
		free(pg);
	}
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s->path);
	free(s);
}

int store_pg_open(struct store **out, const char *uri, unsigned flags, const uint8_t *seal_key,
		  struct store_err *err)
{
	struct store *s = NULL;
	struct store_pg *pg = NULL;
	char line[200], passfile[4096];
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	pg = calloc(1, sizeof(*pg));
	if (!s || !pg || !(pg->uri = strdup(uri)) || !(s->path = strdup("postgresql"))) {
		free(s);
		if (pg)
			free(pg->uri);
		free(pg);
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	}
	s->be = &store_pg_backend;
	s->conn = pg;
	pg->readonly = (flags & STORE_OPEN_READONLY) != 0;
	if (seal_key) {
		memcpy(s->key, seal_key, STORE_SEAL_KEY_LEN);
		s->has_key = 1;
	}
	snprintf(pg->where, sizeof(pg->where), "postgresql");
	/* Defaults first; the setting (expanded as dbname) overrides them. The
	 * password comes from the systemd credential "pgpass" when the unit
	 * passes one, else libpq's own ~/.pgpass or PGPASSFILE: never from
	 * the command line. tcp_user_timeout and keepalives make a vanished
	 * server an error within seconds instead of a hung station. */
	const char *keys[8], *vals[8];
	int n = 0;
	keys[n] = "connect_timeout", vals[n++] = "5";
	keys[n] = "application_name", vals[n++] = "espfab";
	keys[n] = "keepalives_idle", vals[n++] = "5";
	keys[n] = "keepalives_interval", vals[n++] = "2";
	keys[n] = "tcp_user_timeout", vals[n++] = "10000";
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	if (cred && *cred && (size_t)snprintf(passfile, sizeof(passfile), "%s/pgpass", cred) < sizeof(passfile)) {
		FILE *f = fopen(passfile, "r");
		if (f) {
			fclose(f);
			keys[n] = "passfile", vals[n++] = passfile;
		}
	}
	keys[n] = "dbname", vals[n++] = pg->uri;
	keys[n] = NULL, vals[n] = NULL;
	pg->c = PQconnectdbParams(keys, vals, 1);
	if (!pg->c) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	if (PQstatus(pg->c) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password. */
		rc = store_fail_err(err, STORE_EOFFLINE, "postgresql: cannot connect: %s",
				    first_line(PQerrorMessage(pg->c), line, sizeof(line)));
		goto out;
	}
	PQsetNoticeProcessor(pg->c, quiet_notices, NULL);
	snprintf(pg->where, sizeof(pg->where), "postgresql %s@%s:%s", PQdb(pg->c),
		 PQhost(pg->c) ? PQhost(pg->c) : "", PQport(pg->c) ? PQport(pg->c) : "");
	if ((rc = session_setup(s, err)) || (rc = migrate(s, err)))
		goto out;
	if (s->has_key && !pg->readonly && (rc = pg_seal_check(s, 0, err)))
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (s)
		pg_close(s);
	return rc;
}

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
		    "image_sha256, flash_md5, baud, retries, duration_ms, result, error) VALUES ($1, $2, $3, $4, $5, "
		    "$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
		    "ssssssssIIssNNNss", now, a->event ? a->event : event ? event : "note", a->station, a->port, a->chip,
		    a->mac, a->product, a->record_id, a->batch_id, a->job_id, a->image_sha256, a->flash_md5, a->baud,
		    a->retries, a->duration_ms, a->result ? a->result : result ? result : "unknown", a->error);
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
	return pg_end(s, pg_audit_insert(s, &e, NULL, NULL, err), err);
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
	 "SELECT CAST(b.id AS TEXT) FROM batches b WHERE b.n_verified <> (SELECT count(*) FROM jobs j "
	 "WHERE j.batch_id = b.id AND j.state = 'verified') LIMIT 1"},
};

int pg_check(struct store *s, struct store_err *err)
{
	/* One snapshot for every rule, so a station working meanwhile cannot
	 * make two rules see two different moments. */
	int rc = pg_begin(s, err);
	if (rc)
		return rc;
	if (!pg_of(s)->txn)
		rc = simple(s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
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
};
