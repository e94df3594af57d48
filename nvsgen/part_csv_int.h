/* Private to part_csv*.c: the text level of CSV partition tables. */
#ifndef ESPFAB_PART_CSV_INT_H
#define ESPFAB_PART_CSV_INT_H

#include <stddef.h>
#include <stdint.h>

#include "part_priv.h"

struct span {
	const char *p;
	size_t len;
};

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

/* Append n bytes (and keep a NUL after them); -1 when out of memory. */
int part_buf_add(struct buf *b, const void *data, size_t n);
int part_buf_addc(struct buf *b, char c);

/* get_encoding() + bytes.decode() (BOMs, UTF-16/32 to UTF-8); *out is
 * either text (no copy) or *owned, which the caller frees. */
int part_csv_decode(const uint8_t *text, size_t len, struct span *out, char **owned, struct part_err *err);
/* str.splitlines() separators: returns the separator's length at s, or 0. */
size_t part_line_break(const char *s, size_t avail);
/* \w in ASCII: what a $name may hold. */
int part_is_word(char c);
/* os.path.expandvars() of one line into b (its old contents dropped). */
int part_expand_vars(struct span line, const struct part_opts *o, struct buf *b);

#endif
