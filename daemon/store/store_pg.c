/* The store on PostgreSQL: the connection, statements, transactions
 * (migrations: store_pg_migrate.c), and the small calls (audit, uplink cursors, check).
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
 * a claim in a batch takes a free place of the batch the same way
 * (store_pg_batch.c: no lock that another station's claim or result needs).
 *
 * OUTAGES. A call made while the connection is down re-connects first
 * (PQreset); if the server is still gone it fails with STORE_EOFFLINE at
 * once, and the caller decides how long to back off. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_pg.h"

#define PG_MAX_PARAMS 20
/* Matches the SQLite store's busy timeout: a wedged row lock shows up as
 * STORE_EBUSY rather than a hang. */
#define PG_SESSION_SQL                                                                                        \
	"SET synchronous_commit = on; SET lock_timeout = '15s'; SET client_min_messages = warning; "        \
	"SET idle_in_transaction_session_timeout = '60s'"

int store_db_is_server(const char *db)
{
	return store_pg_is_uri(db);
}

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
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	if (now < pg->retry_at_ms)
		return store_fail_err(err, STORE_EOFFLINE, "%s: database server unreachable (next try in %u ms)",
				      pg->where, (unsigned)(pg->retry_at_ms - now));
	PQreset(pg->c);
	pg->n_stmts = 0; /* the new session has none of them */
	if (PQstatus(pg->c) != CONNECTION_OK) {
		pg->retry_wait_ms = pg->retry_wait_ms ? (pg->retry_wait_ms * 2 > 2000 ? 2000 : pg->retry_wait_ms * 2) : 100;
		pg->retry_at_ms = now + pg->retry_wait_ms;
		return store_fail_err(err, STORE_EOFFLINE, "%s: database server unreachable: %s", pg->where,
				      first_line(PQerrorMessage(pg->c), line, sizeof(line)));
	}
	pg->retry_wait_ms = 0;
	pg->retry_at_ms = 0;
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
	PGresult *r = NULL;
	int slot = -1;
	for (int i = 0; i < pg->n_stmts; i++)
		if (pg->stmts[i] == sql)
			slot = i;
	if (slot < 0 && pg->n_stmts < PG_STMT_CACHE) {
		char name[16];
		snprintf(name, sizeof(name), "e%d", pg->n_stmts);
		r = PQprepare(pg->c, name, sql, n, NULL);
		if (PQresultStatus(r) == PGRES_COMMAND_OK) {
			slot = pg->n_stmts;
			pg->stmts[pg->n_stmts++] = sql;
		} else {
			pg_err(s, r, err, what);
			PQclear(r);
			return NULL;
		}
		PQclear(r);
	}
	if (slot >= 0) {
		char name[16];
		snprintf(name, sizeof(name), "e%d", slot);
		r = PQexecPrepared(pg->c, name, n, vals, lens, fmts, 0);
	} else {
		r = PQexecParams(pg->c, sql, n, NULL, vals, lens, fmts, 0);
	}
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

void pg_copy_str(char *dst, size_t n, const PGresult *r, int col)
{
	const char *t = pg_str(r, 0, col);
	snprintf(dst, n, "%s", t ? t : "");
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
		return store_fail_err(err, PQstatus(pg->c) == CONNECTION_OK ? STORE_EDB : STORE_EOFFLINE,
				      "%s: the enclosing transaction was rolled back", pg->where);
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
	else
		pg_batch_done_checks(s);
	return rc;
}

void pg_rollback(struct store *s)
{
	struct store_pg *pg = pg_of(s);
	PGresult *r;

	if (!pg->txn)
		pg_batch_done_forget(s);
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
		return store_fail_err(err, PQstatus(pg->c) == CONNECTION_OK ? STORE_EDB : STORE_EOFFLINE,
				      "%s: the enclosing transaction was rolled back", pg->where);
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

/* ---- open ---- */

void pg_close(struct store *s)
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
	if ((rc = session_setup(s, err)) || (rc = pg_migrate(s, err)))
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

