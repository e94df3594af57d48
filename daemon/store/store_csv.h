/* Private: the importers' view of nvsgen's CSV reader (Python csv-module
 * semantics, as mfg_gen reads its config and values files): one row at a
 * time as arrays of fields and lengths. */
#ifndef ESPFAB_STORE_CSV_H
#define ESPFAB_STORE_CSV_H

#include <espfab/csv.h>
#include <stddef.h>

struct store_csv {
	struct csv_reader *r;
	const char **fields; /* the current row; valid until the next call */
	size_t *lens;
	size_t n, cap;
	unsigned line;       /* where the current row (or the error) is */
	char msg[160];       /* the reader's reason on failure */
};

/* flags: enum csv_flag. 0, or -1 with c->msg. Always store_csv_close(). */
int store_csv_open(struct store_csv *c, const char *buf, size_t len, unsigned flags);
void store_csv_close(struct store_csv *c);
/* 1: a row (n == 0 for a blank line), 0: end, -1: error in c->msg at c->line. */
int store_csv_next(struct store_csv *c);

#endif
