/* File-system utilities (fsu.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "espfab/fsu.h"

int fsu_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int fd, rc = 0;
	struct stat st;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	/* room for the whole file, one byte to see EOF without growing, the NUL */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 2 : 4096;
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;
		if (n + 1 == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		/* pipes and growing files: stop as soon as the limit is passed */
		if (n > max) {
			rc = -EFBIG;
			goto out;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
out:
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	close(fd);
	return rc;
}

/* One component: made now (1), there already as a folder (0), or -errno. */
static int make_one(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0777) == 0)
		return 1;
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fsu_mkdir_p(const char *dir, fsu_made_fn *made, void *ctx, size_t *failed)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);
	int rc;

	if (failed)
		*failed = 0;
	if (n == 0)
		return 0;
	if (n >= sizeof(path)) {
		if (failed)
			*failed = n;
		return -ENAMETOOLONG;
	}
	memcpy(path, dir, n + 1);
	/* Each prefix ending before a '/' (not the root's), then the whole; "a//b"
	 * and a trailing '/' only repeat a folder already made. */
	for (size_t i = 1; i <= n; i++) {
		if (i < n && path[i] != '/')
			continue;
		if (path[i - 1] == '/')
			continue;
		path[i] = '\0';
		rc = make_one(path);
		if (rc < 0) {
			if (failed)
				*failed = i;
			return rc;
		}
		if (rc > 0 && made)
			made(ctx, path);
		path[i] = dir[i];
	}
	return 0;
}

int fsu_mkdir_parent(const char *path, size_t *failed)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (failed)
		*failed = 0;
	if (!slash || slash == path)
		return 0;
	n = (size_t)(slash - path);
	if (n >= sizeof(dir)) {
		if (failed)
			*failed = n;
		return -ENAMETOOLONG;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return fsu_mkdir_p(dir, NULL, NULL, failed);
}
