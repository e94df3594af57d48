/* The file-level helpers: the only I/O in espfab_nvsgen (CSV files, "file"
 * rows, atomic output). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "espfab/fsu.h"
#include "nvs_internal.h"

int nvs_file_read(const char *path, uint8_t **data, size_t *len, struct nvs_err *err)
{
	int rc = fsu_read_file(path, SIZE_MAX, data, len);

	if (rc == -ENOMEM)
		return nvs_fail(err, NVS_ENOMEM, "out of memory reading '%s'", path);
	if (rc == -EISDIR)
		return nvs_fail(err, NVS_EIO, "cannot read '%s': is a directory", path);
	if (rc)
		return nvs_fail(err, NVS_EIO, "cannot read '%s': %s", path, strerror(-rc));
	return 0;
}

int nvs_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode, struct nvs_err *err)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd = -1, rc = 0;

	if (!tmp)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = nvs_fail(err, NVS_EIO, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) < 0) {
		rc = nvs_fail(err, NVS_EIO, "cannot set the mode of '%s': %s", path, strerror(errno));
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = nvs_fail(err, NVS_EIO, "cannot write '%s': %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	/* on disk before the name appears: a crash leaves the old file or the new one */
	if (fsync(fd) < 0) {
		rc = nvs_fail(err, NVS_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = nvs_fail(err, NVS_EIO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = nvs_fail(err, NVS_EIO, "cannot create '%s': %s", path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int nvs_file_source_read(void *ctx, const char *path, uint8_t **data, size_t *len, struct nvs_err *err)
{
	const char *base = ctx;
	char *full;
	int rc;

	if (!base || path[0] == '/')
		return nvs_file_read(path, data, len, err);
	full = malloc(strlen(base) + strlen(path) + 2);
	if (!full)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	sprintf(full, "%s/%s", base, path);
	rc = nvs_file_read(full, data, len, err);
	free(full);
	return rc;
}

void nvs_file_source_init(struct nvs_file_source *s, const char *base_dir)
{
	s->read = nvs_file_source_read;
	s->ctx = (void *)(uintptr_t)base_dir;
}

int nvs_gen_add_csv_file(struct nvs_gen *g, const char *path, const struct nvs_file_source *files,
			 struct nvs_err *err)
{
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = nvs_file_read(path, &text, &len, err);

	if (rc == 0)
		rc = nvs_gen_add_csv(g, (const char *)text, len, path, files, err);
	if (text) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	return rc;
}
