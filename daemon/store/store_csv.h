/* Private: a CSV reader with Python csv-module semantics (excel dialect), the
 * format mfg_gen's config and values files are read with. Used until the
 * nvsgen CSV reader is shared; only the store's importers call it. */
#ifndef ESPFAB_STORE_CSV_H
#define ESPFAB_STORE_CSV_H

#include <stddef.h>

struct store_csv {
	const char *p, *end;
	unsigned line;        /* next physical line (1-based) */
	char **fields;        /* the current row (owned here) */
	size_t *lens;
	size_t n, cap;
};

void store_csv_init(struct store_csv *c, const char *buf, size_t len);
void store_csv_deinit(struct store_csv *c); /* wipes the fields: they may be secrets */
/* 1: a row in c->fields[0..n) (NUL-terminated, lens[i] bytes), *line = the
 * line it started on; 0: end of input; negative: error (NUL byte -1, no
 * memory -2) at *line. Empty lines give a row with n == 0. */
int store_csv_next(struct store_csv *c, unsigned *line);

#endif
