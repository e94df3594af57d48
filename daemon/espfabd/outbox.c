/* A ring of results waiting for the store, optionally journaled to a file.
 * See outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct slot {
	int64_t key; /* order in the journal: smaller is older */
	struct outbox_item it;
};

struct outbox {
	struct slot *items;
	size_t cap, head, len;
	int64_t min_key, max_key;
	char *path; /* NULL: memory only */
	int fd;
	off_t size; /* the journal's length: a failed append is cut back to it */
};

static int fail(struct outbox_err *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct outbox_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static int grow(struct outbox *o)
{
	if (o->len < o->cap)
		return 0;
	if (o->cap >= OUTBOX_MAX)
		return -ENOSPC;
	size_t ncap = o->cap ? o->cap * 2 : 16;
	struct slot *n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < o->len; i++)
		n[i] = o->items[(o->head + i) % o->cap];
	free(o->items);
	o->items = n;
	o->cap = ncap;
	o->head = 0;
	return 0;
}

static struct slot *insert(struct outbox *o, int front)
{
	struct slot *sl;

	if (front) {
		o->head = (o->head + o->cap - 1) % o->cap;
		sl = &o->items[o->head];
	} else {
		sl = &o->items[(o->head + o->len) % o->cap];
	}
	o->len++;
	return sl;
}

static void fill(struct outbox_item *it, const struct jobq_msg *m, const char *port)
{
	it->m = *m;
	it->m.data = NULL;
	it->m.len = 0;
	it->m.fw = NULL;
	snprintf(it->port, sizeof(it->port), "%s", port ? port : "");
}

/* n bytes at offset at of fd: 0, or -1 with errno. */
static int write_at(int fd, const uint8_t *buf, size_t n, off_t at)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, buf + done, n - done, at + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			errno = w ? errno : EIO;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

/* One frame to the end of the journal, on disk before it returns. A short
 * or failed write is cut off again so later frames stay readable. */
static int append(struct outbox *o, const struct outbox_journal_rec *rec, struct outbox_err *err)
{
	uint8_t buf[OUTBOX_JOURNAL_FRAME_MAX + 8];
	size_t n = outbox_journal_encode(rec, buf, sizeof(buf));

	if (!n)
		return fail(err, -EIO, "%s: a held result does not fit a journal frame", o->path);
	if (write_at(o->fd, buf, n, o->size) || fdatasync(o->fd))
		goto bad;
	o->size += (off_t)n;
	return 0;
bad:
	fail(err, -EIO, "%s: cannot append to the journal: %s", o->path, strerror(errno ? errno : EIO));
	if (ftruncate(o->fd, o->size) == 0)
		(void)fdatasync(o->fd);
	return -EIO;
}

int outbox_delivery_new(char *out)
{
	uint8_t b[OUTBOX_DELIVERY_LEN / 2];
	size_t got = 0;

	out[0] = '\0';
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int outbox_push(struct outbox *o, const struct jobq_msg *m, const char *port, const char *delivery, int front,
		struct outbox_err *err)
{
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD};
	struct slot *sl;
	int rc = grow(o);

	if (rc)
		return fail(err, rc, "%d results held already", OUTBOX_MAX);
	rec.key = !o->len ? 0 : front ? o->min_key - 1 : o->max_key + 1;
	fill(&rec.item, m, port);
	/* Without an id (the kernel gave no random bytes) the next load
	 * gives it one; it is held all the same. */
	if (delivery && strlen(delivery) == OUTBOX_DELIVERY_LEN)
		memcpy(rec.item.delivery, delivery, OUTBOX_DELIVERY_LEN + 1);
	else
		(void)outbox_delivery_new(rec.item.delivery);
	/* Not on disk: still held, in memory (the caller reports it). */
	if (o->fd >= 0)
		rc = append(o, &rec, err);
	sl = insert(o, front);
	sl->key = rec.key;
	sl->it = rec.item;
	if (o->len == 1 || rec.key < o->min_key)
		o->min_key = rec.key;
	if (o->len == 1 || rec.key > o->max_key)
		o->max_key = rec.key;
	return rc;
}

const struct outbox_item *outbox_peek(const struct outbox *o)
{
	return o->len ? &o->items[o->head].it : NULL;
}

int outbox_pop(struct outbox *o, struct outbox_err *err)
{
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_DELIVERED};
	int rc = 0;

	if (!o->len)
		return 0;
	rec.key = o->items[o->head].key;
	o->head = (o->head + 1) % o->cap;
	o->len--;
	if (o->len)
		o->min_key = o->items[o->head].key;
	if (o->fd < 0)
		return 0;
	if (!o->len) {
		/* Nothing held: the journal starts over (its magic stays). */
		if (ftruncate(o->fd, OUTBOX_JOURNAL_MAGIC_LEN) || fdatasync(o->fd))
			return fail(err, -EIO, "%s: cannot empty the journal: %s", o->path, strerror(errno));
		o->size = OUTBOX_JOURNAL_MAGIC_LEN;
		return 0;
	}
	rc = append(o, &rec, err);
	return rc;
}

size_t outbox_len(const struct outbox *o)
{
	return o->len;
}

const char *outbox_path(const struct outbox *o)
{
	return o->path;
}

void outbox_free(struct outbox *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	free(o->path);
	free(o->items);
	free(o);
}


static int by_key(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/* The frames of buf into the (empty) ring, oldest first. *bad: the offset
 * of the first frame that cannot be read, or len when all could. */
static int load(struct outbox *o, const uint8_t *buf, size_t len, int *version, size_t *bad, char *why, size_t cap)
{
	struct outbox_journal_rec rec;
	size_t off = OUTBOX_JOURNAL_MAGIC_LEN, at = off, i;
	int rc;

	*bad = len;
	*version = OUTBOX_JOURNAL_VERSION;
	if (!len)
		return 0;
	if (!(*version = outbox_journal_version(buf, len))) {
		*bad = 0;
		snprintf(why, cap, "not an outbox journal (no %.7s header)", OUTBOX_JOURNAL_MAGIC);
		return 0;
	}
	while ((rc = outbox_journal_next(buf, len, *version, &off, &rec, why, cap)) == 0) {
		/* at: this frame's start, for a frame that reads but makes no sense */
		for (i = 0; i < o->len && o->items[i].key != rec.key; i++)
			;
		if (rec.type == OUTBOX_JOURNAL_HELD) {
			if (i < o->len || o->len >= OUTBOX_MAX) {
				snprintf(why, cap, "%s", i < o->len ? "a result held twice" : "too many results");
				rc = -1;
				break;
			}
			if ((rc = grow(o)) != 0)
				return rc;
			o->items[o->len].key = rec.key;
			o->items[o->len++].it = rec.item;
		} else if (i == o->len) {
			snprintf(why, cap, "a delivered mark for no held result");
			rc = -1;
			break;
		} else {
			memmove(&o->items[i], &o->items[i + 1], (o->len - i - 1) * sizeof(o->items[0]));
			o->len--;
		}
		at = off;
	}
	if (rc < 0)
		*bad = at;
	if (o->len) {
		qsort(o->items, o->len, sizeof(o->items[0]), by_key);
		o->min_key = o->items[0].key;
		o->max_key = o->items[o->len - 1].key;
	}
	return 0;
}

static int read_all(struct outbox *o, uint8_t **buf, size_t *len, struct outbox_err *err)
{
	struct stat st;
	size_t done = 0;

	*buf = NULL;
	*len = 0;
	if (fstat(o->fd, &st))
		return fail(err, -EIO, "%s: %s", o->path, strerror(errno));
	if (st.st_size > (off_t)OUTBOX_MAX * 4 * (OUTBOX_JOURNAL_FRAME_MAX + 8))
		return fail(err, -EIO, "%s: %lld bytes, far more than a journal of %d results can hold", o->path,
			    (long long)st.st_size, OUTBOX_MAX);
	if (!st.st_size)
		return 0;
	if (!(*buf = malloc((size_t)st.st_size)))
		return fail(err, -ENOMEM, "%s: out of memory", o->path);
	while (done < (size_t)st.st_size) {
		ssize_t r = pread(o->fd, *buf + done, (size_t)st.st_size - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(err, -EIO, "%s: cannot read: %s", o->path, r ? strerror(errno) : "file shrank");
		done += (size_t)r;
	}
	*len = done;
	return 0;
}

/* A damaged journal: its bytes go to PATH.damaged-TIME for a human, the
 * file itself keeps the frames before the damage, which were read. */
static int keep_damaged(struct outbox *o, const uint8_t *buf, size_t len, size_t bad, const char *why,
			struct outbox_err *err)
{
	char copy[4096];
	int fd = -1, rc = -EIO;

	snprintf(copy, sizeof(copy), "%s.damaged-%lld", o->path, (long long)time(NULL));
	fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(err, -EIO, "%s:%zu: %s; cannot keep a copy in %s: %s", o->path, bad, why, copy, strerror(errno));
		goto out;
	}
	if (write_at(fd, buf, len, 0) || fsync(fd)) {
		fail(err, -EIO, "%s:%zu: %s; cannot write %s: %s", o->path, bad, why, copy, strerror(errno));
		goto out;
	}
	o->size = bad < OUTBOX_JOURNAL_MAGIC_LEN ? 0 : (off_t)bad;
	if (ftruncate(o->fd, o->size) || fdatasync(o->fd)) {
		fail(err, -EIO, "%s: cannot cut the damaged tail: %s", o->path, strerror(errno));
		goto out;
	}
	err->damaged = 1;
	fail(err, 0, "%s:%zu: %s; %zu bytes from there on not read (the whole file is kept in %s), %zu results loaded",
	     o->path, bad, why, len - bad, copy, o->len);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int sync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0'; /* "/journal" keeps "/" */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* A journal of an older version, or held results without a delivery id:
 * each gets an id now, before any of them reaches the store, and the
 * journal is written again in this version from the ring, in a new file renamed over the old one
 * (locked before the rename, so no second espfabd can take it meanwhile).
 * A crash leaves one file or the other whole; ids given in a file that did
 * not survive never reached the store, so new ones at the next start are
 * as good. */
static int upgrade(struct outbox *o, struct outbox_err *err)
{
	uint8_t buf[OUTBOX_JOURNAL_FRAME_MAX + 8];
	struct outbox_journal_rec rec = {.type = OUTBOX_JOURNAL_HELD};
	char tmp[4096];
	off_t size = OUTBOX_JOURNAL_MAGIC_LEN;
	int fd = -1, rc = -EIO;

	snprintf(tmp, sizeof(tmp), "%s.upgrade", o->path);
	for (size_t i = 0; i < o->len; i++)
		if (!o->items[i].it.delivery[0] && outbox_delivery_new(o->items[i].it.delivery))
			return fail(err, -EIO, "%s: no random bytes for the delivery ids of its held results", o->path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) ||
	    write_at(fd, (const uint8_t *)OUTBOX_JOURNAL_MAGIC, OUTBOX_JOURNAL_MAGIC_LEN, 0))
		goto bad;
	for (size_t i = 0; i < o->len; i++) {
		size_t n;
		rec.key = o->items[i].key;
		rec.item = o->items[i].it;
		if (!(n = outbox_journal_encode(&rec, buf, sizeof(buf)))) {
			errno = EFBIG;
			goto bad;
		}
		if (write_at(fd, buf, n, size))
			goto bad;
		size += (off_t)n;
	}
	if (fdatasync(fd) || rename(tmp, o->path) || sync_dir(o->path))
		goto bad;
	close(o->fd);
	o->fd = fd;
	o->size = size;
	return 0;
bad:
	rc = fail(err, -EIO, "%s: cannot rewrite the journal as version %d (in %s): %s", o->path, OUTBOX_JOURNAL_VERSION,
		  tmp, strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	return rc;
}

int outbox_open(struct outbox **out, const char *path, struct outbox_err *err)
{
	struct outbox *o = calloc(1, sizeof(*o));
	uint8_t *buf = NULL;
	size_t len = 0, bad = 0;
	char why[256] = "";
	int rc, version = OUTBOX_JOURNAL_VERSION, ids = 1;

	*out = NULL;
	err->damaged = 0;
	err->msg[0] = '\0';
	if (!o)
		return fail(err, -ENOMEM, "out of memory");
	o->fd = -1;
	if (!path)
		goto done;
	if (!(o->path = strdup(path))) {
		rc = fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	o->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (o->fd < 0) {
		rc = fail(err, -EIO, "%s: cannot open the outbox journal: %s", path, strerror(errno));
		goto out;
	}
	if (flock(o->fd, LOCK_EX | LOCK_NB)) {
		rc = fail(err, errno == EWOULDBLOCK ? -EBUSY : -EIO, "%s: %s", path,
			  errno == EWOULDBLOCK ? "in use by another espfabd (one outbox journal per station)"
					       : strerror(errno));
		goto out;
	}
	if ((rc = read_all(o, &buf, &len, err)) || (rc = load(o, buf, len, &version, &bad, why, sizeof(why))))
		goto out;
	o->size = (off_t)len;
	if (bad < len && (rc = keep_damaged(o, buf, len, bad, why, err)))
		goto out;
	for (size_t i = 0; i < o->len; i++)
		ids = ids && o->items[i].it.delivery[0];
	if ((version < OUTBOX_JOURNAL_VERSION || !ids) && (rc = upgrade(o, err)))
		goto out;
	if (o->size < OUTBOX_JOURNAL_MAGIC_LEN) {
		if (write_at(o->fd, (const uint8_t *)OUTBOX_JOURNAL_MAGIC, OUTBOX_JOURNAL_MAGIC_LEN, 0) ||
		    fdatasync(o->fd)) {
			rc = fail(err, -EIO, "%s: cannot write: %s", path, strerror(errno));
			goto out;
		}
		o->size = OUTBOX_JOURNAL_MAGIC_LEN;
	}
done:
	*out = o;
	o = NULL;
	rc = 0;
out:
	free(buf);
	outbox_free(o);
	return rc;
}
