/* The SQLite store's transactions and durability: locking, BEGIN/COMMIT
 * (nested as savepoints in a round), group commit of WAL syncs. */
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

#include "store_backend.h"
#include "store_int.h"

/* Long enough to ride out another station's burst of commits, short enough
 * that a wedged writer shows up as an error rather than a hang. */
#define STORE_BUSY_TIMEOUT_MS 15000

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


/* SQLite's own busy_timeout handler sleeps in growing steps up to 100 ms,
 * so a connection that just committed wins the lock again and again while
 * the waiters sleep: with a dozen stations one of them can starve. Short,
 * jittered sleeps keep waiters in the race; the total stays bounded. */
int store_busy_handler(void *arg, int count)
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

struct store_group *store_group_get(const char *path)
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

void store_group_put(struct store_group *g)
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
		return store_exec(s, "BEGIN IMMEDIATE", err);
	if ((rc = txn_check(s, err)))
		return rc;
	if ((rc = store_exec(s, "SAVEPOINT op", err)))
		return rc;
	s->txn_sp = 1;
	return 0;
}

int store_commit(struct store *s, struct store_err *err)
{
	int rc;

	if (s->txn) {
		rc = s->txn_sp ? store_exec(s, "RELEASE op", err) : 0;
		if (rc) {
			store_rollback(s);
			return rc;
		}
		s->txn_sp = 0;
		return txn_check(s, err);
	}
	rc = store_exec(s, "COMMIT", err);
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
	if ((rc = store_exec(s, "BEGIN IMMEDIATE", err)))
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
	if (!rc && (rc = store_exec(s, "COMMIT", err)) == 0)
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
