/* Private helpers shared by the part_*.c files (not installed, not public). */
#ifndef ESPFAB_PART_PRIV_H
#define ESPFAB_PART_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/part.h"
#include "espfab/le.h"

#define PART_MAGIC_0 0xAAu /* entry magic AA 50 */
#define PART_MAGIC_1 0x50u
#define PART_MD5_MAGIC 0xEBu /* MD5 entry: EB EB, 14 x FF, 16-byte digest */
#define PART_NVS_RW_MIN_SIZE 0x3000u

/* err may be NULL. Formats one line (newlines in inputs become spaces). */
void part_err_set(struct part_err *err, int code, unsigned line, long pos, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void part_err_clear(struct part_err *err);
void part_warn(const struct part_opts *o, unsigned line, long pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Python's int(s, base) for base 0 or 16 on the whole of s: surrounding
 * whitespace, sign, 0x/0o/0b prefixes (base 0), single underscores between
 * digits, no leading zeros on base-0 decimals. Returns 0, -1 for what Python
 * rejects with ValueError, -2 when the value does not fit in int64_t. */
int part_pyint(const char *s, int base, int64_t *out);

/* Python str.strip() for UTF-8 text: returns the start, sets *len. */
const char *part_strip(const char *s, size_t *len);
/* Python's "%x" of a possibly negative number after "0x" ("0x-1000"). */
const char *part_hex(char buf[24], int64_t v);

/* part_bin_parse() with the MD5 check forced on (the readback path: the
 * bootloader checks it whatever the project's --disable-md5sum was). */
int part_bin_parse_md5(const uint8_t *buf, size_t len, const struct part_opts *o, struct part_table **out,
		       struct part_err *err);

/* Table building. */
struct part_table *part_table_alloc(void);
/* Returns a zeroed slot appended to t, or NULL on allocation failure. */
struct part_entry *part_table_push(struct part_table *t);

/* Keyword registry internals: kw lists in the reference's dict order. */
struct part_kw {
	const char *name;
	unsigned value;
};
size_t part_names_types(const struct part_names *n, const struct part_kw **out);
size_t part_names_subtypes(const struct part_names *n, unsigned type, const struct part_kw **out);
/* Number of keywords in every subtype dict together, and the i-th of them
 * (for the reference's "name is a subtype keyword" warning). */
int part_names_is_any_subtype(const struct part_names *n, const char *name);

#endif
