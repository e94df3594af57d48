/* The expected records below were produced by CPython 3.11's csv module
 * reading the same text from a text-mode file (see each test's comment). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/csv.h"

/* Renders every record as "L<line>[f1|f2|...]\n" with NUL shown as \0. */
static int render(const char *text, size_t len, unsigned flags, size_t limit, char *out, size_t cap,
		  struct csv_err *err)
{
	struct csv_reader *r = NULL;
	struct csv_record rec;
	size_t o = 0;
	int rc;

	memset(err, 0, sizeof(*err));
	rc = csv_reader_new(&r, text, len, flags, limit, err);
	if (rc < 0)
		return rc;
	out[0] = '\0';
	while ((rc = csv_reader_next(r, &rec, err)) == 1) {
		o += (size_t)snprintf(out + o, cap - o, "L%u[", rec.line);
		for (size_t i = 0; i < rec.nfields; i++) {
			for (size_t k = 0; k < rec.fields[i].len; k++) {
				char c = rec.fields[i].ptr[k];
				if (c == '\0')
					o += (size_t)snprintf(out + o, cap - o, "\\0");
				else
					out[o++] = c;
			}
			if (i + 1 < rec.nfields)
				out[o++] = '|';
		}
		o += (size_t)snprintf(out + o, cap - o, "]\n");
	}
	csv_reader_free(r);
	return rc;
}

#define EXPECT(text, flags, want)                                                                   \
	do {                                                                                        \
		char got_[1024];                                                                    \
		struct csv_err e_;                                                                  \
		assert_int_equal(render(text, sizeof(text) - 1, flags, 0, got_, sizeof(got_), &e_), 0); \
		assert_string_equal(got_, want);                                                    \
	} while (0)

static void test_csv_plain_fields_and_blank_lines(void **state)
{
	(void)state;
	/* csv.reader(["a,b,c\n", "\n", ",\n", "x"]) -> [a,b,c] [] ['',''] [x] */
	EXPECT("a,b,c\n\n,\nx", 0, "L1[a|b|c]\nL2[]\nL3[|]\nL4[x]\n");
	EXPECT("a,b,c\n\n,\nx", CSV_SKIP_BLANK, "L1[a|b|c]\nL3[|]\nL4[x]\n");
}

static void test_csv_quotes_doubled_and_embedded_newlines(void **state)
{
	(void)state;
	/* '"a,b","say ""hi""","l1\nl2",d\n' -> ['a,b', 'say "hi"', 'l1\nl2', 'd'] */
	EXPECT("\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\",d\nnext\n", 0,
	       "L1[a,b|say \"hi\"|l1\nl2|d]\nL3[next]\n");
}

static void test_csv_crlf_and_lone_cr_are_newlines(void **state)
{
	(void)state;
	/* Text mode turns "\r\n" and "\r" into "\n", also inside quotes. */
	EXPECT("a,b\r\nc,\"x\r\ny\"\rz\r\n", 0, "L1[a|b]\nL2[c|x\ny]\nL4[z]\n");
}

static void test_csv_text_after_closing_quote_is_kept(void **state)
{
	(void)state;
	/* strict=False: '"ab"cd,e' -> ['abcd', 'e']; 'a"b' keeps the quote. */
	EXPECT("\"ab\"cd,e\na\"b,\"\"\n", 0, "L1[abcd|e]\nL2[a\"b|]\n");
}

static void test_csv_unterminated_quote_runs_to_end(void **state)
{
	(void)state;
	/* 'k,"abc\nmore' at EOF -> ['k', 'abc\nmore'];  'k,"' -> ['k', ''] */
	EXPECT("k,\"abc\nmore", 0, "L1[k|abc\nmore]\n");
	EXPECT("k,\"", 0, "L1[k|]\n");
}

static void test_csv_spaces_are_kept(void **state)
{
	(void)state;
	EXPECT(" a , b ,\" c\"\n", 0, "L1[ a | b | c]\n");
}

static void test_csv_hash_lines_dropped_even_inside_quotes(void **state)
{
	(void)state;
	/* filter(lambda l: l[0] != '#', f): " #x" stays, "#..." goes, also
	 * the second line of a quoted field. */
	EXPECT("#c\na,\"1\n#gone\n2\"\n #x,y\nb#,c\n", CSV_SKIP_HASH_LINES,
	       "L2[a|1\n2]\nL5[ #x|y]\nL6[b#|c]\n");
}

static void test_csv_bom_skipped_only_when_asked(void **state)
{
	(void)state;
	EXPECT("\xEF\xBB\xBFkey,v\n", CSV_SKIP_BOM, "L1[key|v]\n");
	EXPECT("\xEF\xBB\xBFkey,v\n", 0, "L1[\xEF\xBB\xBFkey|v]\n");
}

static void test_csv_nul_bytes_are_data(void **state)
{
	(void)state;
	const char text[] = "a\0b,c\n";
	char got[64];
	struct csv_err e;
	assert_int_equal(render(text, sizeof(text) - 1, 0, 0, got, sizeof(got), &e), 0);
	assert_string_equal(got, "L1[a\\0b|c]\n");
}

static void test_csv_field_limit_counts_characters(void **state)
{
	(void)state;
	char got[256];
	struct csv_err e;
	/* Four characters, eight bytes: fits a limit of 4, not of 3. */
	const char text[] = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9,x\nok\n";
	assert_int_equal(render(text, sizeof(text) - 1, 0, 4, got, sizeof(got), &e), 0);
	assert_int_equal(render(text, sizeof(text) - 1, 0, 3, got, sizeof(got), &e), CSV_EINPUT);
	assert_int_equal(e.line, 1);
	assert_non_null(strstr(e.msg, "field limit"));
}

static void test_csv_utf8_rejected_with_line(void **state)
{
	(void)state;
	char got[256];
	struct csv_err e;
	unsigned line = 0;
	const char overlong[] = "a\r\nb\n\xC0\xAF\n";
	const char surrogate[] = "\xED\xA0\x80";
	const char ok[] = "\xF0\x9F\x98\x80 \xE2\x82\xAC";

	assert_int_equal(render(overlong, sizeof(overlong) - 1, CSV_UTF8, 0, got, sizeof(got), &e), CSV_EINPUT);
	assert_int_equal(e.line, 3);
	assert_int_equal(csv_utf8_check(surrogate, sizeof(surrogate) - 1, &line), CSV_EINPUT);
	assert_int_equal(csv_utf8_check(ok, sizeof(ok) - 1, &line), 0);
	assert_int_equal(csv_utf8_check("\xE2\x82", 2, &line), CSV_EINPUT);
}

static void test_csv_record_find_last_duplicate_wins(void **state)
{
	(void)state;
	struct csv_reader *r = NULL;
	struct csv_record rec;
	struct csv_err e;
	const char text[] = "key,value,value\n";

	assert_int_equal(csv_reader_new(&r, text, sizeof(text) - 1, 0, 0, &e), 0);
	assert_int_equal(csv_reader_next(r, &rec, &e), 1);
	assert_int_equal(csv_record_find(&rec, "key"), 0);
	assert_int_equal(csv_record_find(&rec, "value"), 2);
	assert_int_equal(csv_record_find(&rec, "type"), -1);
	assert_int_equal(csv_reader_next(r, &rec, &e), 0);
	csv_reader_free(r);
	csv_reader_free(NULL);
}

static void test_csv_empty_input_has_no_records(void **state)
{
	(void)state;
	EXPECT("", 0, "");
	EXPECT("#only\n", CSV_SKIP_HASH_LINES, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_plain_fields_and_blank_lines),
		cmocka_unit_test(test_csv_quotes_doubled_and_embedded_newlines),
		cmocka_unit_test(test_csv_crlf_and_lone_cr_are_newlines),
		cmocka_unit_test(test_csv_text_after_closing_quote_is_kept),
		cmocka_unit_test(test_csv_unterminated_quote_runs_to_end),
		cmocka_unit_test(test_csv_spaces_are_kept),
		cmocka_unit_test(test_csv_hash_lines_dropped_even_inside_quotes),
		cmocka_unit_test(test_csv_bom_skipped_only_when_asked),
		cmocka_unit_test(test_csv_nul_bytes_are_data),
		cmocka_unit_test(test_csv_field_limit_counts_characters),
		cmocka_unit_test(test_csv_utf8_rejected_with_line),
		cmocka_unit_test(test_csv_record_find_last_duplicate_wins),
		cmocka_unit_test(test_csv_empty_input_has_no_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
