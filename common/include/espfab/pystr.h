/* Python's str rules the reference tools (nvs_partition_gen, mfg_gen,
 * gen_esp32part) apply to their text and espfab must match byte for byte:
 * which characters are whitespace, which are decimal digits, and the view
 * int() takes of a str. Text is UTF-8; nothing here allocates. */
#ifndef ESPFAB_PYSTR_H
#define ESPFAB_PYSTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which characters count as whitespace differs between Python's calls. */
enum pystr_space {
	PYSTR_SPACE_STRIP, /* str.strip(): every str.isspace() character, 0x1C-0x1F too */
	PYSTR_SPACE_INT,   /* int(str): str.isspace() less 0x1C-0x1F (int() keeps ASCII as is) */
	PYSTR_SPACE_BYTES, /* bytes.strip() and int(bytes): ASCII " \t\n\v\f\r" only */
};

/* One UTF-8 character at s (n > 0 bytes left): its code point and length.
 * Bytes that do not form a character give U+FFFD and length 1. */
size_t pystr_utf8_next(const uint8_t *s, size_t n, uint32_t *cp);
/* Length of the whitespace character of that kind at s (n > 0), or 0. */
size_t pystr_space_len(const uint8_t *s, size_t n, enum pystr_space kind);
/* The same test for the last character of s[0..n). */
size_t pystr_space_len_end(const uint8_t *s, size_t n, enum pystr_space kind);
/* Strip whitespace of that kind from both ends of *s (*n bytes). */
void pystr_strip(const uint8_t **s, size_t *n, enum pystr_space kind);
/* The value 0..9 of a non-ASCII Unicode decimal digit (category Nd, Unicode
 * 14.0 as in CPython 3.11), or -1. */
int pystr_digit(uint32_t cp);
bool pystr_is_ascii(const uint8_t *s, size_t n);
/* int()'s view of a str (CPython's _PyUnicode_TransformDecimalAndSpaceToASCII):
 * UTF-8 s to ASCII in out (len bytes always suffice); returns the length.
 * ASCII stays, other whitespace becomes ' ', other decimal digits '0'..'9',
 * anything else ends the text with '?' (never valid in a number). */
size_t pystr_int_ascii(const uint8_t *s, size_t len, uint8_t *out);

#endif
