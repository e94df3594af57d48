/* CSV reader with the semantics of Python's `csv` module (dialect "excel")
 * as the reference tools use it: files opened in text mode (universal
 * newlines), comma delimiter, '"' quoting with doubled quotes, newlines inside
 * quoted fields, `strict=False` recovery (text after a closing quote is kept,
 * an unterminated quote runs to the end of the input).
 *
 * Pure: parses a caller-owned buffer, no I/O, no globals. A struct csv_reader
 * belongs to one thread.
 *
 * Ownership: the reader does not copy the input; the input must outlive it.
 * Field pointers handed out by csv_reader_next() point into the reader's own
 * buffer and stay valid until the next call to csv_reader_next() or
 * csv_reader_free().
 */
#ifndef ESPFAB_CSV_H
#define ESPFAB_CSV_H

#include <stddef.h>

enum csv_error {
	CSV_OK = 0,
	CSV_EINPUT = -1, /* malformed input (field too large, invalid UTF-8) */
	CSV_ENOMEM = -2,
};

/* Reader options (bit flags). */
enum csv_flag {
	/* Drop every physical line whose first character is '#', even inside a
	 * quoted field: nvs_partition_gen.py filters the file's lines before the
	 * csv module sees them. */
	CSV_SKIP_HASH_LINES = 1u << 0,
	/* Do not return records of a blank line (Python returns [] for them and
	 * DictReader skips them). */
	CSV_SKIP_BLANK = 1u << 1,
	/* Skip a UTF-8 byte order mark at the start of the input. */
	CSV_SKIP_BOM = 1u << 2,
	/* Reject input that is not valid UTF-8 (Python's strict utf-8 codec). */
	CSV_UTF8 = 1u << 3,
};

/* Python's csv.field_size_limit() default, counted in characters. */
#define CSV_FIELD_LIMIT_DEFAULT 131072u

struct csv_err {
	int code;      /* an enum csv_error */
	unsigned line; /* physical line (1-based) where the problem is */
	char msg[160];
};

struct csv_field {
	const char *ptr; /* NUL-terminated copy; may contain NULs of its own */
	size_t len;      /* bytes, without the terminating NUL */
};

struct csv_record {
	size_t nfields;                /* 0 for a blank line */
	const struct csv_field *fields;
	unsigned line;                 /* physical line where the record starts (1-based) */
	unsigned end_line;             /* physical line where it ends */
};

struct csv_reader;

/* flags: enum csv_flag bits. field_limit: maximum characters per field (0 =
 * CSV_FIELD_LIMIT_DEFAULT). On success *out is owned by the caller
 * (csv_reader_free). When CSV_UTF8 is set the whole input is validated here. */
int csv_reader_new(struct csv_reader **out, const char *text, size_t len, unsigned flags, size_t field_limit,
		   struct csv_err *err);
void csv_reader_free(struct csv_reader *r);

/* Next record: returns 1 and fills *rec, 0 at the end of input, or a negative
 * enum csv_error (err filled). */
int csv_reader_next(struct csv_reader *r, struct csv_record *rec, struct csv_err *err);

/* Index of the LAST field equal to name (as csv.DictReader, where a later
 * duplicate column wins), or -1. */
long csv_record_find(const struct csv_record *rec, const char *name);

/* Strict UTF-8 check as Python's codec (no overlongs, surrogates or values
 * above U+10FFFF). Returns 0, or CSV_EINPUT with the 1-based line of the
 * first bad byte in *bad_line (if not NULL). */
int csv_utf8_check(const char *text, size_t len, unsigned *bad_line);

#endif
