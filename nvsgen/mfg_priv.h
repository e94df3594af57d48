/* Private helpers shared by the mfg*.c files (not installed, not public). */
#ifndef ESPFAB_MFG_PRIV_H
#define ESPFAB_MFG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "espfab/mfg.h"

/* A batch in memory: both CSVs' fields in one arena (wiped on free, values
 * are secrets), rows as index ranges into the fields. */
struct mfg_field {
	size_t off, len; /* into the batch's arena; NUL-terminated there */
};

struct mfg_row {
	size_t first, n; /* fields[first .. first+n) */
	unsigned line;   /* line in the original file */
};

struct mfg_config_row {
	size_t row;     /* index in config rows */
	int repeat_at;  /* field index of the first "REPEAT" (removed), or -1 */
	bool is_ns;     /* some field is "namespace" (the reference's `'namespace' in row`) */
	bool nvs_skips; /* its CSV line starts with '#': nvs_partition_gen drops it */
};

struct mfg_batch {
	char *arena;
	size_t arena_len, arena_cap;
	struct mfg_field *fields;
	size_t nfields, fields_cap;

	struct mfg_row *crows; /* config records */
	size_t ncrows, crows_cap;
	struct mfg_config_row *cfg;
	struct mfg_row *vrows; /* values records; [0] is the header */
	size_t nvrows, vrows_cap;

	char *names; /* stems and key file names, NUL-separated */
	size_t names_len, names_cap;
	size_t *stem_off, *key_off;
	size_t ndev;
	char *config_name, *values_name;
};

static inline const char *fld(const struct mfg_batch *b, const struct mfg_row *r, size_t k)
{
	return b->arena + b->fields[r->first + k].off;
}

static inline size_t fld_len(const struct mfg_batch *b, const struct mfg_row *r, size_t k)
{
	return b->fields[r->first + k].len;
}

static inline bool fld_is(const struct mfg_batch *b, const struct mfg_row *r, size_t k, const char *s)
{
	size_t n = strlen(s);
	return fld_len(b, r, k) == n && memcmp(fld(b, r, k), s, n) == 0;
}

static inline bool row_has(const struct mfg_batch *b, const struct mfg_row *r, const char *s)
{
	for (size_t k = 0; k < r->n; k++)
		if (fld_is(b, r, k, s))
			return true;
	return false;
}

/* Fills *err (may be NULL) with code, line and a one-line message (control
 * characters from the inputs become '?'); returns code so callers can
 * `return mfg_fail(...)`. */
int mfg_fail(struct mfg_err *err, int code, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));


/* Grow *arr (elem bytes each) to at least need elements, by doubling. Moves
 * and wipes instead of realloc: the arena holds device secrets. */
int mfg_grow(void **arr, size_t *cap, size_t need, size_t elem);
/* Append n bytes and a NUL to a string pool; *off gets where they start. */
int mfg_pool_add(char **pool, size_t *len, size_t *cap, const char *s, size_t n, size_t *off);
/* csv.writer's QUOTE_MINIMAL test. */
bool mfg_needs_quotes(const char *s, size_t n);

/* mfg_read.c: one input file (strict UTF-8, blank lines dropped as the
 * reference's *_tmp.csv copy does) into rows of b, lines kept original. */
int mfg_load_text(struct mfg_batch *b, const char *name, const char *text, size_t len, struct mfg_row **rows,
		  size_t *nrows, size_t *cap, struct mfg_err *err);

/* mfg_check.c: the reference's checks of the config against the values,
 * its REPEAT filling and the device file names. */
int mfg_check_config(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err);
void mfg_apply_repeat(struct mfg_batch *b);
int mfg_name_devices(struct mfg_batch *b, const struct mfg_batch_params *p, struct mfg_err *err);

#endif
