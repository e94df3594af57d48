/* Opening and closing a store: the connection, its settings, migrations and
 * the sealing key check. */
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

/* Applies every embedded migration newer than user_version, each in its own
 * transaction together with the version bump, so a crash mid-migration
 * leaves the previous version intact. */
static int migrate(struct store *s, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int version = 0, rc;

	rc = store_prep(s, &st, "PRAGMA user_version", err);
	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	store_unprep(s, st);

	int newest = store_n_migrations ? store_migrations[store_n_migrations - 1].version : 0;
	if (version > newest)
		return store_fail_err(err, STORE_ESCHEMA,
				      "%s: database schema version %d is newer than this program's (%d)", s->path,
				      version, newest);
	for (size_t i = 0; i < store_n_migrations; i++) {
		const struct store_migration *m = &store_migrations[i];
		char bump[64];
		if (m->version <= version)
			continue;
		rc = store_begin(s, err);
		if (rc)
			return rc;
		/* Re-read inside the write lock: another process may have migrated. */
		rc = store_prep(s, &st, "PRAGMA user_version", err);
		if (rc)
			goto fail;
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		store_unprep(s, st);
		if (m->version <= version) {
			store_rollback(s);
			continue;
		}
		rc = store_exec(s, (const char *)m->sql, err);
		if (rc) {
			store_fail_err(err, STORE_EDB, "migration %s: %s", m->name, sqlite3_errmsg(s->db));
			goto fail;
		}
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", m->version);
		rc = store_exec(s, bump, err);
		if (rc)
			goto fail;
		rc = store_commit(s, err);
		if (rc)
			return rc;
		version = m->version;
	}
	return 0;
fail:
	store_rollback(s);
	return rc;
}

/* Group commit needs WAL (else there is no WAL to sync) and powersafe
 * overwrite (else FULL's sector padding is needed; see DURABILITY). */
static int group_commit_safe(struct store *s)
{
	sqlite3_stmt *st = NULL;
	sqlite3_file *f = NULL;
	int wal = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		wal = !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	if (!wal || sqlite3_file_control(s->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f ||
	    !f->pMethods)
		return 0;
	return (f->pMethods->xDeviceCharacteristics(f) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
}

int store_open(struct store **out, const char *path, unsigned flags, const uint8_t *seal_key,
	       struct store_err *err)
{
	struct store *s = NULL;
	int rc, fd = -1;

	*out = NULL;
	if (!path || !*path)
		return store_fail_err(err, STORE_EINPUT, "no database path");
	if (store_pg_is_uri(path))
		return store_pg_open(out, path, flags, seal_key, err);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	if (seal_key) {
		memcpy(s->key, seal_key, STORE_SEAL_KEY_LEN);
		s->has_key = 1;
	}
	/* Create the file ourselves so it is 0600 from the first instant
	 * (SQLite would use 0644 minus umask). The -wal and -shm files take
	 * the main file's mode. */
	if ((flags & STORE_OPEN_CREATE) && strcmp(path, ":memory:")) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = store_fail_err(err, STORE_EIO, "%s: %s", path, strerror(errno));
			goto out;
		}
		close(fd);
	}
	int oflags = (flags & STORE_OPEN_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = store_fail_err(err, STORE_EIO, "%s: %s", path,
				    s->db ? sqlite3_errmsg(s->db) : "cannot open database");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 0);
	s->busy_seed = (uint32_t)(uintptr_t)s ^ (uint32_t)getpid();
	sqlite3_busy_handler(s->db, store_busy_handler, s);
	/* WAL: readers never block the writer. Durability: every state change
	 * is on the disk (WAL synced) before store_* returns, so an acknowledged
	 * change survives power loss, not just a process crash; see DURABILITY
	 * above for why FULL is the default and group commit an option. */
	if (!(flags & STORE_OPEN_READONLY)) {
		rc = store_exec(s, "PRAGMA journal_mode = WAL", err);
		if (rc) {
			store_fail_err(err, rc, "%s: %s", path, sqlite3_errmsg(s->db));
			goto out;
		}
	}
	if ((flags & STORE_OPEN_GROUP_COMMIT) && !(flags & (STORE_OPEN_SYNC_FULL | STORE_OPEN_READONLY)) &&
	    group_commit_safe(s))
		s->group = store_group_get(path);
	rc = store_exec(s, s->group ? "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL"
			      : "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL",
		  err);
	if (rc)
		goto out;
	if (!(flags & STORE_OPEN_READONLY)) {
		rc = migrate(s, err);
		if (rc)
			goto out;
	} else {
		sqlite3_stmt *st = NULL;
		rc = store_prep(s, &st, "PRAGMA user_version", err);
		if (rc)
			goto out;
		int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		int newest = store_n_migrations ? store_migrations[store_n_migrations - 1].version : 0;
		store_unprep(s, st);
		/* Read-only cannot migrate: the file must be exactly this program's schema. */
		if (v != newest) {
			rc = store_fail_err(err, STORE_ESCHEMA, "%s: schema version %d, this program needs %d", path, v,
					    newest);
			goto out;
		}
	}
	if (s->has_key && !(flags & STORE_OPEN_READONLY)) {
		rc = store_seal_check(s, 0, err);
		if (rc)
			goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->be) {
		s->be->close(s);
		return;
	}
	store_stmts_free(s);
	if (s->db)
		sqlite3_close_v2(s->db);
	store_group_put(s->group);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s->path);
	free(s);
}
