/* Python's int(text, base): the one reading of integers every input shares
 * with its reference tool. nvs_partition_gen reads values with int(v) and
 * sizes with int(v, 0), mfg_gen's argparse type=int is int(v), gen_esp32part
 * reads offsets and sizes with int(v, 0) and subtypes with int(v, 16); all
 * on a str, so Unicode digits and spaces count (int("١٢") == 12), except
 * the values the reference reads from a file as bytes (PYINT_BYTES).
 *
 * Accepted, as CPython 3.11: surrounding whitespace; one sign; for base 0 a
 * 0x/0o/0b prefix (any case) else a decimal that has no leading zero unless
 * it is all zeros ("0", "00", "0_0"; not "010"); for base 16/8/2 the
 * matching prefix is allowed too ("0x1f" in base 16); single underscores
 * between digits and one right after a prefix ("1_000", "0x_1f"; not "_1",
 * "1_", "1__0"). Python ints have no limit; ours are 64-bit magnitudes and
 * a larger number is PYINT_ERANGE, told apart from bad syntax. */
#ifndef ESPFAB_PYINT_H
#define ESPFAB_PYINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pyint_rc {
	PYINT_OK = 0,
	PYINT_ESYNTAX = -1, /* Python would raise ValueError */
	PYINT_ERANGE = -2,  /* an integer, but its magnitude needs more than 64 bits */
	PYINT_ENOMEM = -3,  /* a long non-ASCII text could not be transformed */
};

enum pyint_flags {
	PYINT_BYTES = 1u, /* int(bytes): ASCII only, no Unicode digits or spaces */
};

struct pyint {
	bool neg;     /* "-0" is neg with mag 0, as Python's -0 == 0 */
	uint64_t mag;
};

/* Parse s[0..len) as int(s, base), base 0, 2, 8, 10 or 16. Sets *out only
 * on PYINT_OK. */
int pyint_parse(const uint8_t *s, size_t len, unsigned base, unsigned flags, struct pyint *out);
/* The same on a NUL-terminated str. */
int pyint_parse_str(const char *s, unsigned base, struct pyint *out);
/* v as int64_t: PYINT_OK, or PYINT_ERANGE outside INT64_MIN..INT64_MAX. */
int pyint_to_i64(const struct pyint *v, int64_t *out);

#endif
