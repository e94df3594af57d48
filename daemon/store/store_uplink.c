/* Uplink cursors: see store.h. Kept in the meta table as
 * ("uplink:" NAME, decimal id), so no schema change was needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

static int cursor_key(const char *name, char *key, size_t cap, struct store_err *err)
{
	if (!name || !name[0] || (size_t)snprintf(key, cap, "uplink:%s", name) >= cap)
		return store_fail_err(err, STORE_EINPUT, "uplink name empty or too long");
	return 0;
}

static int read_cursor(struct store *s, const char *key, int64_t *last, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	*last = 0;
	rc = store_prep(s, &st, "SELECT CAST(value AS TEXT) FROM meta WHERE name = ?1", err);
	if (rc)
		return rc;
	store_bind_text(st, 1, key);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		char *end = NULL;
		long long n = v ? strtoll(v, &end, 10) : -1;
		if (!v || end == v || *end || n < 0)
			rc = store_fail_err(err, STORE_EDB, "uplink cursor '%s' is not a row id", key);
		else
			*last = n;
	} else if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "uplink cursor");
	}
	store_unprep(s, st);
	return rc;
}

int store_uplink_cursor(struct store *s, const char *name, int64_t *last, struct store_err *err)
{
	STORE_VIA_BACKEND(s, uplink_cursor, (s, name, last, err));
	char key[512];
	int rc;

	*last = 0;
	if ((rc = cursor_key(name, key, sizeof(key), err)))
		return rc;
	return read_cursor(s, key, last, err);
}

int store_uplink_advance(struct store *s, const char *name, int64_t last, struct store_err *err)
{
	STORE_VIA_BACKEND(s, uplink_advance, (s, name, last, err));
	sqlite3_stmt *st = NULL;
	char key[512], val[32];
	int64_t now;
	int rc;

	if ((rc = cursor_key(name, key, sizeof(key), err)))
		return rc;
	if (last < 0)
		return store_fail_err(err, STORE_EINPUT, "uplink cursor %lld is not a row id", (long long)last);
	if ((rc = store_begin(s, err)))
		return rc;
	if ((rc = read_cursor(s, key, &now, err)) || last <= now)
		goto out;
	snprintf(val, sizeof(val), "%lld", (long long)last);
	rc = store_prep(s, &st,
			"INSERT INTO meta (name, value) VALUES (?1, CAST(?2 AS BLOB)) "
			"ON CONFLICT (name) DO UPDATE SET value = excluded.value",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, key);
	store_bind_text(st, 2, val);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_err(s, err, "uplink cursor");
out:
	store_unprep(s, st);
	return store_end(s, rc, err);
}

int store_uplink_pending(struct store *s, int64_t after, int64_t *count, struct store_err *err)
{
	STORE_VIA_BACKEND(s, uplink_pending, (s, after, count, err));
	sqlite3_stmt *st = NULL;
	int rc;

	*count = 0;
	rc = store_prep(s, &st, "SELECT count(*) FROM audit WHERE id > ?1", err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, after);
	if (sqlite3_step(st) == SQLITE_ROW)
		*count = sqlite3_column_int64(st, 0);
	else
		rc = store_db_err(s, err, "uplink pending");
	store_unprep(s, st);
	return rc;
}
