/* Mass-manufacturing batches, file level: the `file` row cache and the
 * file-system helpers of mfg_io.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "espfab/fsu.h"
#include "mfg_io_int.h"
#include "mfg_priv.h"

static int cache_get(struct file_cache *c, const char *path, const uint8_t **data, size_t *len)
{
	uint8_t *buf;
	size_t blen;
	int rc;

	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].path, path)) {
			*data = c->e[i].data;
			*len = c->e[i].len;
			return 0;
		}
	if ((rc = fsu_read_file(path, MFG_MAX_INPUT, &buf, &blen)))
		return rc;
	if (c->bytes + blen <= MFG_CACHE_LIMIT && c->n < 4096) {
		if (c->n == c->cap) {
			size_t ncap = c->cap ? c->cap * 2 : 16;
			struct file_cache_entry *ne = realloc(c->e, ncap * sizeof(*ne));
			if (!ne)
				goto uncached;
			c->e = ne;
			c->cap = ncap;
		}
		c->e[c->n].path = strdup(path);
		if (!c->e[c->n].path)
			goto uncached;
		c->e[c->n].data = buf;
		c->e[c->n].len = blen;
		c->n++;
		c->bytes += blen;
		*data = buf;
		*len = blen;
		return 0;
	}
uncached:
	if (c->uncached) {
		OPENSSL_cleanse(c->uncached, c->uncached_len);
		free(c->uncached);
	}
	c->uncached = buf;
	c->uncached_len = blen;
	*data = buf;
	*len = blen;
	return 0;
}

/* struct nvs_file_source::read: the generator frees what it gets, so it
 * gets a copy of the cached bytes. */
int mfg_cache_read(void *ctx, const char *path, uint8_t **data, size_t *len, struct nvs_err *err)
{
	struct file_cache *c = ctx;
	const uint8_t *p;
	size_t n;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = cache_get(c, path, &p, &n);
	if (!rc) {
		*data = malloc(n ? n : 1);
		if (*data) {
			memcpy(*data, p, n);
			*len = n;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		if (err) {
			err->code = rc == -ENOMEM ? NVS_ENOMEM : NVS_EIO;
			err->line = 0;
			snprintf(err->msg, sizeof(err->msg), "cannot read file '%.120s': %s", path, strerror(-rc));
		}
		return rc == -ENOMEM ? NVS_ENOMEM : NVS_EIO;
	}
	return *data ? 0 : NVS_ENOMEM;
}

void mfg_cache_clear(struct file_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		OPENSSL_cleanse(c->e[i].data, c->e[i].len);
		free(c->e[i].data);
		free(c->e[i].path);
	}
	free(c->e);
	if (c->uncached) {
		OPENSSL_cleanse(c->uncached, c->uncached_len);
		free(c->uncached);
	}
	c->e = NULL;
	c->n = c->cap = c->bytes = c->uncached_len = 0;
	c->uncached = NULL;
}

bool mfg_has_csv_ext(const char *path)
{
	const char *base = strrchr(path, '/'), *dot, *p;
	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	for (p = base; *p == '.'; p++)
		;
	return dot && dot >= p && !strcmp(dot, ".csv");
}


int mfg_write_at(void *ctx, int dfd, const char *name, const void *data, size_t len, unsigned mode)
{
	const uint8_t *p = data;
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	int rc = 0;
	(void)ctx;
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) && !rc)
		rc = -errno;
	if (rc)
		unlinkat(dfd, name, 0);
	return rc;
}

static void made_dir(void *ctx, const char *dir)
{
	struct created *cr = ctx;

	if (cr->ndirs < (int)(sizeof(cr->dirs) / sizeof(cr->dirs[0])))
		cr->dirs[cr->ndirs++] = strdup(dir);
}

/* mkdir -p DIR, remembering each directory it made. */
int mfg_make_dirs(struct created *cr, const char *dir, struct mfg_err *err)
{
	size_t at;
	int rc = fsu_mkdir_p(dir, made_dir, cr, &at);

	if (rc == -ENOTDIR)
		return mfg_fail(err, MFG_EIO, 0, "%.*s exists and is not a directory", (int)at, dir);
	if (rc)
		return mfg_fail(err, MFG_EIO, 0, "cannot create directory %.*s: %s", (int)at, dir, strerror(-rc));
	return 0;
}

char *mfg_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	bool slash;
	char *s;
	while (la > 1 && a[la - 1] == '/') /* "out/" + "csv": out/csv */
		la--;
	slash = la && a[la - 1] == '/';   /* "/" + "csv": /csv */
	s = malloc(la + lb + 2);
	if (!s)
		return NULL;
	memcpy(s, a, la);
	if (!slash)
		s[la++] = '/';
	memcpy(s + la, b, lb + 1);
	return s;
}

