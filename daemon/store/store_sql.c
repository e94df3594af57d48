/* The SQLite store's helpers: errors, the statement cache, binding and
 * reading columns, JSON results, time and MAC formats. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "espfab/err.h"
#include "store_backend.h"
#include "store_int.h"

ERR_DEFINE_FAIL(, store_fail_err, store_err)

/* The store code of SQLite's last error on this connection: a failed write
 * or sync of the disk is STORE_EIO (the change is not stored), contention
 * STORE_EBUSY, anything else STORE_EDB. */
static int db_code(struct store *s)
{
	switch (sqlite3_errcode(s->db)) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_EBUSY;
	case SQLITE_IOERR:
	case SQLITE_FULL:
		return STORE_EIO;
	default:
		return STORE_EDB;
	}
}

int store_db_err(struct store *s, struct store_err *err, const char *what)
{
	return store_fail_err(err, db_code(s), "%s: %s", what, sqlite3_errmsg(s->db));
}

int store_prep(struct store *s, sqlite3_stmt **st, const char *sql, struct store_err *err)
{
	struct store_stmt *slot = NULL;

	*st = NULL;
	for (unsigned i = 0; i < STORE_STMT_CACHE; i++) {
		struct store_stmt *c = &s->stmts[i];
		if (c->st && !c->busy && (c->sql == sql || !strcmp(c->sql, sql))) {
			c->busy = 1;
			*st = c->st;
			return 0;
		}
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return store_db_err(s, err, "prepare");
	}
	/* Keep it: a free slot, else a victim that is not handed out. */
	for (unsigned i = 0; i < STORE_STMT_CACHE && !slot; i++)
		if (!s->stmts[i].st)
			slot = &s->stmts[i];
	for (unsigned n = 0; n < STORE_STMT_CACHE && !slot; n++) {
		struct store_stmt *c = &s->stmts[s->stmt_next++ % STORE_STMT_CACHE];
		if (!c->busy) {
			sqlite3_finalize(c->st);
			free(c->sql);
			c->st = NULL;
			c->sql = NULL;
			slot = c;
		}
	}
	if (slot && (slot->sql = strdup(sql))) {
		slot->st = *st;
		slot->busy = 1;
	}
	return 0;
}

void store_unprep(struct store *s, sqlite3_stmt *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < STORE_STMT_CACHE; i++)
		if (s->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->stmts[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

void store_stmts_free(struct store *s)
{
	for (unsigned i = 0; i < STORE_STMT_CACHE; i++) {
		sqlite3_finalize(s->stmts[i].st);
		free(s->stmts[i].sql);
		s->stmts[i].st = NULL;
		s->stmts[i].sql = NULL;
	}
}

int store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int store_bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	return v < 0 ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

char *store_col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

json_t *store_col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_TEXT:
		return json_string((const char *)sqlite3_column_text(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	default: /* NULL, and BLOB which no query here returns as JSON */
		return json_null();
	}
}

int store_exec(struct store *s, const char *sql, struct store_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int code = db_code(s);
		store_fail_err(err, code, "%s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return code;
	}
	return 0;
}

int store_json_wrap(struct store *s, int step_rc, const char *key, json_t *arr, json_t **out,
		    struct store_err *err)
{
	if (step_rc != SQLITE_DONE)
		return store_db_err(s, err, key);
	*out = json_pack("{s:O}", key, arr);
	return *out ? 0 : store_fail_err(err, STORE_ENOMEM, "out of memory");
}

void store_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

int store_mac_normalise(const char *in, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned nib = 0;
	char tmp[STORE_MAC_LEN + 1];

	if (!in)
		return STORE_EINPUT;
	for (const char *p = in; *p; p++) {
		int v;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else if ((*p == ':' || *p == '-') && nib % 2 == 0 && nib > 0 && nib < 12)
			continue;
		else
			return STORE_EINPUT;
		if (nib >= 12)
			return STORE_EINPUT;
		tmp[nib / 2 * 3 + nib % 2] = hex[v];
		if (nib % 2 == 1 && nib < 11)
			tmp[nib / 2 * 3 + 2] = ':';
		nib++;
	}
	if (nib != 12)
		return STORE_EINPUT;
	tmp[STORE_MAC_LEN] = '\0';
	memcpy(out, tmp, sizeof(tmp));
	return 0;
}

/* Runs one statement with up to four int64/text parameters given as a
 * printf-like type string: 'i' int64, 's' text. */
int store_run(struct store *s, struct store_err *err, const char *sql, const char *types, ...)
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

void store_col_copy(char *dst, size_t n, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}
