/* Opening the database: file mode, pragmas, migrations, shared helpers. */
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

/* Long enough to ride out another station's burst of commits, short enough
 * that a wedged writer shows up as an error rather than a hang. */
#define STORE_BUSY_TIMEOUT_MS 15000

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

static void stmts_free(struct store *s)
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

/* SQLite's own busy_timeout handler sleeps in growing steps up to 100 ms,
 * so a connection that just committed wins the lock again and again while
 * the waiters sleep: with a dozen stations one of them can starve. Short,
 * jittered sleeps keep waiters in the race; the total stays bounded. */
static int busy_handler(void *arg, int count)
{
	struct store *s = arg;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (count == 0)
		s->busy_start_ms = now_ms;
	if (now_ms - s->busy_start_ms > STORE_BUSY_TIMEOUT_MS)
		return 0;
	s->busy_seed = s->busy_seed * 1103515245u + 12345u;
	struct timespec d = {0, (long)(100000 + (s->busy_seed >> 8) % 900000)}; /* 0.1 to 1 ms */
	nanosleep(&d, NULL);
	return 1;
}

static int exec(struct store *s, const char *sql, struct store_err *err)
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

/* DURABILITY. Default: WAL with synchronous=FULL. SQLite then syncs the WAL
 * (fdatasync through its own descriptor of the -wal file) inside COMMIT,
 * BEFORE it publishes the commit in the wal-index (wal.c, sqlite3WalFrames:
 * the sync precedes walIndexAppend/walIndexWriteHdr). So: what any
 * connection in any process can see is already on the disk, and a commit
 * whose sync fails is reported failed and is never seen by anyone. The
 * rest is SQLite's own, unchanged: a checkpoint syncs the WAL before
 * copying it into the database file and syncs the database file before the
 * WAL may be restarted, truncated or deleted; a restarted WAL gets a new
 * salt and its header is synced before the first new frame, so stale
 * frames never count; frames carry a running checksum, so recovery after a
 * power loss stops at the first torn frame. Two processes serialise on the
 * WAL write lock and each COMMIT syncs for itself.
 *
 * GROUP COMMIT (opt-in, STORE_OPEN_GROUP_COMMIT): COMMIT with
 * synchronous=NORMAL (frames written, not synced), then wait in
 * store_durable() for an fdatasync of the WAL that began after the commit;
 * one sync covers every commit made before it began (fsync works on the
 * inode, whichever descriptor; WAL frames are ordered, so a durable commit
 * implies every earlier one). Checkpoints, WAL restart and truncation stay
 * safe for the reasons above (they sync on their own, also at NORMAL). It
 * is NOT the default because it is weaker than FULL in ways no test here
 * can rule out:
 *  - a commit is published before it is durable: another connection (a
 *    second station, the CLI, an uplink) can read and act on a state that a
 *    power cut then takes back;
 *  - a failed sync leaves the failed commit visible (test_store_durable),
 *    and after an fsync error Linux may drop the dirty pages and report the
 *    next fsync clean, so a later "durable" acknowledgement would be false.
 *    Hence a failed sync poisons the group: every later commit of that file
 *    in this process fails with STORE_EIO until all its handles are closed
 *    (the daemon restarts and recovers);
 *  - FULL pads the last frame to a sector boundary on disks without
 *    powersafe overwrite; NORMAL does not, so group commit is only used
 *    when the VFS reports SQLITE_IOCAP_POWERSAFE_OVERWRITE, and only in WAL
 *    mode (else the open falls back to FULL).
 * Groups are per database file (device, inode) and per process. */
struct store_group {
	dev_t dev;
	ino_t ino;
	int refs;
	pthread_mutex_t m;
	pthread_cond_t c;
	uint64_t committed, synced;
	int syncing;
	int failed; /* a sync failed: nothing more may be acknowledged */
	struct store_group *next;
};

static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_group *groups;

static struct store_group *group_get(const char *path)
{
	struct stat sb;
	struct store_group *g;

	if (stat(path, &sb))
		return NULL;
	pthread_mutex_lock(&groups_lock);
	for (g = groups; g; g = g->next)
		if (g->dev == sb.st_dev && g->ino == sb.st_ino)
			break;
	if (!g && (g = calloc(1, sizeof(*g)))) {
		g->dev = sb.st_dev;
		g->ino = sb.st_ino;
		pthread_mutex_init(&g->m, NULL);
		pthread_cond_init(&g->c, NULL);
		g->next = groups;
		groups = g;
	}
	if (g)
		g->refs++;
	pthread_mutex_unlock(&groups_lock);
	return g;
}

static void group_put(struct store_group *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&groups_lock);
	if (--g->refs == 0) {
		for (struct store_group **pp = &groups; *pp; pp = &(*pp)->next)
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		pthread_mutex_destroy(&g->m);
		pthread_cond_destroy(&g->c);
		free(g);
	}
	pthread_mutex_unlock(&groups_lock);
}

/* fdatasync of the WAL through SQLite's own handle on it (fsync works on the
 * inode, so it covers every connection's writes). */
static int wal_sync(struct store *s)
{
	sqlite3_file *f = NULL;
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) == SQLITE_OK && f && f->pMethods)
		return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK ? 0 : -1;
	/* No WAL handle open on this connection: sync the file by name. */
	char wal[4096];
	snprintf(wal, sizeof(wal), "%s-wal", s->path);
	int fd = open(wal, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1; /* no WAL: everything is in the main file */
	int rc = fdatasync(fd);
	close(fd);
	return rc;
}

static int store_durable(struct store *s, struct store_err *err)
{
	struct store_group *g = s->group;
	int rc = 0, sys_errno = 0;

	if (!g)
		return 0; /* synchronous=FULL: COMMIT synced already */
	pthread_mutex_lock(&g->m);
	uint64_t ticket = ++g->committed;
	while (!g->failed && g->synced < ticket) {
		if (g->syncing) {
			pthread_cond_wait(&g->c, &g->m);
			continue;
		}
		g->syncing = 1;
		uint64_t target = g->committed;
		pthread_mutex_unlock(&g->m);
		rc = wal_sync(s);
		sys_errno = errno;
		pthread_mutex_lock(&g->m);
		g->syncing = 0;
		if (rc)
			g->failed = 1;
		else if (target > g->synced)
			g->synced = target;
		pthread_cond_broadcast(&g->c);
	}
	if (g->failed)
		rc = -1;
	pthread_mutex_unlock(&g->m);
	if (!rc)
		return 0;
	return store_fail_err(err, STORE_EIO, "%s: syncing the WAL failed%s%s; this process acknowledges no more "
			      "commits of it until every handle is closed",
			      s->path, sys_errno ? ": " : "", sys_errno ? strerror(sys_errno) : "");
}

/* SQLite ends the whole transaction by itself on some errors (SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_NOMEM...): then every operation of the outer one is
 * gone, and nothing more may pretend to join it. */
static int txn_check(struct store *s, struct store_err *err)
{
	if (!s->txn_lost && sqlite3_get_autocommit(s->db))
		s->txn_lost = 1;
	if (s->txn_lost)
		return store_fail_err(err, STORE_EDB, "%s: the enclosing transaction was rolled back", s->path);
	return 0;
}

int store_begin(struct store *s, struct store_err *err)
{
	int rc;

	if (!s->txn)
		return exec(s, "BEGIN IMMEDIATE", err);
	if ((rc = txn_check(s, err)))
		return rc;
	if ((rc = exec(s, "SAVEPOINT op", err)))
		return rc;
	s->txn_sp = 1;
	return 0;
}

int store_commit(struct store *s, struct store_err *err)
{
	int rc;

	if (s->txn) {
		rc = s->txn_sp ? exec(s, "RELEASE op", err) : 0;
		if (rc) {
			store_rollback(s);
			return rc;
		}
		s->txn_sp = 0;
		return txn_check(s, err);
	}
	rc = exec(s, "COMMIT", err);
	if (rc) {
		store_rollback(s);
		return rc;
	}
	return store_durable(s, err);
}

int store_txn_begin(struct store *s, struct store_err *err)
{
	STORE_VIA_BACKEND(s, txn_begin, (s, err));
	int rc;

	if (s->txn || !sqlite3_get_autocommit(s->db))
		return store_fail_err(err, STORE_EINPUT, "%s: a transaction is already open", s->path);
	if ((rc = exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	s->txn = 1;
	s->txn_sp = 0;
	s->txn_lost = 0;
	return 0;
}

int store_txn_commit(struct store *s, struct store_err *err)
{
	STORE_VIA_BACKEND(s, txn_commit, (s, err));
	int rc;

	if (!s->txn)
		return store_fail_err(err, STORE_EINPUT, "%s: no transaction is open", s->path);
	rc = txn_check(s, err);
	s->txn = s->txn_sp = 0;
	if (!rc && (rc = exec(s, "COMMIT", err)) == 0)
		return store_durable(s, err);
	store_rollback(s);
	return rc;
}

void store_txn_rollback(struct store *s)
{
	if (s && s->be) {
		s->be->txn_rollback(s);
		return;
	}
	if (!s->txn)
		return;
	s->txn = s->txn_sp = 0;
	store_rollback(s);
}

int store_end(struct store *s, int rc, struct store_err *err)
{
	if (!rc)
		rc = store_commit(s, err);
	if (rc)
		store_rollback(s);
	return rc;
}

int store_json_wrap(struct store *s, int step_rc, const char *key, json_t *arr, json_t **out,
		    struct store_err *err)
{
	if (step_rc != SQLITE_DONE)
		return store_db_err(s, err, key);
	*out = json_pack("{s:O}", key, arr);
	return *out ? 0 : store_fail_err(err, STORE_ENOMEM, "out of memory");
}

void store_rollback(struct store *s)
{
	if (s->txn) {
		/* Undo this operation only; the outer transaction goes on. */
		if (s->txn_sp && !sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL);
		s->txn_sp = 0;
		if (sqlite3_get_autocommit(s->db))
			s->txn_lost = 1;
		return;
	}
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
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
		rc = exec(s, (const char *)m->sql, err);
		if (rc) {
			store_fail_err(err, STORE_EDB, "migration %s: %s", m->name, sqlite3_errmsg(s->db));
			goto fail;
		}
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", m->version);
		rc = exec(s, bump, err);
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
	sqlite3_busy_handler(s->db, busy_handler, s);
	/* WAL: readers never block the writer. Durability: every state change
	 * is on the disk (WAL synced) before store_* returns, so an acknowledged
	 * change survives power loss, not just a process crash; see DURABILITY
	 * above for why FULL is the default and group commit an option. */
	if (!(flags & STORE_OPEN_READONLY)) {
		rc = exec(s, "PRAGMA journal_mode = WAL", err);
		if (rc) {
			store_fail_err(err, rc, "%s: %s", path, sqlite3_errmsg(s->db));
			goto out;
		}
	}
	if ((flags & STORE_OPEN_GROUP_COMMIT) && !(flags & (STORE_OPEN_SYNC_FULL | STORE_OPEN_READONLY)) &&
	    group_commit_safe(s))
		s->group = group_get(path);
	rc = exec(s, s->group ? "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL"
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
	stmts_free(s);
	if (s->db)
		sqlite3_close_v2(s->db);
	group_put(s->group);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	free(s->path);
	free(s);
}
