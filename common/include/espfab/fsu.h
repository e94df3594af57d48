/* File-system utilities: reading a whole file and mkdir -p, the two things
 * every program here did for itself. No messages: callers word their own
 * (err.h), these return 0 or -errno. */
#ifndef ESPFAB_FSU_H
#define ESPFAB_FSU_H

#include <stddef.h>
#include <stdint.h>

/* Whole file into a malloc'd buffer (caller frees): at most max bytes (a
 * larger file fails with -EFBIG before or while reading it; SIZE_MAX for no
 * limit), -EISDIR for a directory, else 0 or -errno. On success *data holds
 * *len bytes plus a terminating NUL (so text can be parsed in place). On
 * failure *data is NULL, *len 0 and the partial buffer is wiped: a key file
 * read half-way still holds secrets. */
int fsu_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

/* Called with each folder fsu_mkdir_p() created, outermost first (a caller
 * that rolls back its output removes them in reverse). */
typedef void fsu_made_fn(void *ctx, const char *dir);

/* mkdir -p dir (mode 0777, the umask applies), as os.makedirs(exist_ok=True):
 * 0 when every component exists as a folder afterwards, else -errno (-ENOTDIR
 * when one exists and is not a folder, -ENAMETOOLONG past PATH_MAX). When
 * failed is not NULL it receives the length of the prefix of dir that could
 * not be made, so a message can name it. made may be NULL. */
int fsu_mkdir_p(const char *dir, fsu_made_fn *made, void *ctx, size_t *failed);

/* mkdir -p of the folder holding path ("a/b/c.bin" makes a/b; "c.bin" and
 * "/c.bin" make nothing). Returns as fsu_mkdir_p(). */
int fsu_mkdir_parent(const char *path, size_t *failed);

#endif
