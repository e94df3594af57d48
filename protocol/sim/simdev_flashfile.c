/* File-backed virtual flash: a MAP_SHARED mapping, so a test can read the
 * file while the simulator runs and after it exits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "espfab/simdev.h"

static int fail(struct simdev_err *err, int code, int e, const char *path, const char *what)
{
	if (err) {
		err->code = code;
		err->sys_errno = e;
		snprintf(err->msg, sizeof(err->msg), "flash file %s: %s", path, what);
	}
	return code;
}

int simdev_flash_map(const char *path, size_t size, uint8_t **out, struct simdev_err *err)
{
	int fd = -1, rc;
	struct stat st;
	void *m = MAP_FAILED;
	char what[128];

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = fail(err, SIMDEV_EIO, errno, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = fail(err, SIMDEV_EIO, errno, path, strerror(errno));
		goto out;
	}
	if (st.st_size == 0) {
		/* new flash is erased: all ones */
		uint8_t ff[4096];

		memset(ff, 0xFF, sizeof(ff));
		for (size_t done = 0; done < size;) {
			size_t n = size - done < sizeof(ff) ? size - done : sizeof(ff);
			ssize_t w = write(fd, ff, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = fail(err, SIMDEV_EIO, errno, path, strerror(errno));
				goto out;
			}
			done += (size_t)w;
		}
	} else if ((unsigned long long)st.st_size != (unsigned long long)size) {
		snprintf(what, sizeof(what), "has %lld bytes, --flash-size says %zu",
			 (long long)st.st_size, size);
		rc = fail(err, SIMDEV_EINVAL, 0, path, what);
		goto out;
	}
	/* MAP_POPULATE: fault the pages in now, not while a client is being
	 * timed (32 boards starting a batch at once paid for it together). */
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED) {
		rc = fail(err, SIMDEV_EIO, errno, path, strerror(errno));
		goto out;
	}
	*out = m;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void simdev_flash_unmap(uint8_t *flash, size_t size)
{
	if (!flash)
		return;
	msync(flash, size, MS_SYNC);
	munmap(flash, size);
}

int simdev_size_parse(const char *s, size_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return SIMDEV_EINVAL;
	if (!strcasecmp(end, "MB") || !strcasecmp(end, "M"))
		v *= 1024ull * 1024;
	else if (!strcasecmp(end, "KB") || !strcasecmp(end, "K"))
		v *= 1024ull;
	else if (*end)
		return SIMDEV_EINVAL;
	if (v > (1ull << 31))
		return SIMDEV_EINVAL;
	*out = (size_t)v;
	return 0;
}
