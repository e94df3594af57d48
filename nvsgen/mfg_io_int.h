/* Private to the mfg file level (mfg_io.c, mfg_files.c): the `file` row
 * cache and the file-system helpers pass 2 uses. */
#ifndef ESPFAB_MFG_IO_INT_H
#define ESPFAB_MFG_IO_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/mfg.h"

#define MFG_MAX_INPUT (1024ull * 1024 * 1024)  /* a CSV larger than 1 GiB is a mistake */
#define MFG_CACHE_LIMIT (256ull * 1024 * 1024) /* `file` rows kept in memory */

/* `file` rows: each path read once per run (the same certificate is often
 * named by every device) up to MFG_CACHE_LIMIT bytes in all. */
struct file_cache_entry {
	char *path;
	uint8_t *data;
	size_t len;
};

struct file_cache {
	struct file_cache_entry *e;
	size_t n, cap;
	size_t bytes;
	uint8_t *uncached; /* the last file read past the limit */
	size_t uncached_len;
	pthread_mutex_t lock; /* pass 2 workers share the cache */
};

/* struct nvs_file_source::read over the cache (ctx: struct file_cache). */
int mfg_cache_read(void *ctx, const char *path, uint8_t **data, size_t *len, struct nvs_err *err);
/* Wipe and free every cached file; the lock stays initialised. */
void mfg_cache_clear(struct file_cache *c);

/* os.path.splitext(path)[1] == ".csv", as verify_file_format() checks. */
bool mfg_has_csv_ext(const char *path);

/* The directories and files pass 2 created, for the rollback. */
struct created {
	char *dirs[8];
	int ndirs;
	int dfd[3]; /* csv, bin, keys */
};
/* The default struct mfg_options::write_file: create name in dfd (never
 * over an existing file), write all of data; -errno on failure, and a
 * half-written file is removed. */
int mfg_write_at(void *ctx, int dfd, const char *name, const void *data, size_t len, unsigned mode);
/* mkdir -p DIR, remembering in cr each directory it made. */
int mfg_make_dirs(struct created *cr, const char *dir, struct mfg_err *err);
/* a "/" b without doubling the slash; malloc'd, NULL when out of memory. */
char *mfg_join(const char *a, const char *b);

#endif
