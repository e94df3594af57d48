/* Unit tests of the espfab command's option parser (daemon/cli/cli_args.c):
 * what each spelling hands the callbacks, and the one-line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_args.h"

enum { O_OFFSET, O_QUIET, O_VERBOSE, O_FLASH_SIZE, O_FLASH_MODE, O_SECURE, O_EXTRA, O_PAIR, O_HELP };

static const struct cli_opt opts[] = {
	{"--offset", 'o', CLI_ARGS_ONE, O_OFFSET, {NULL, NULL}, 0},
	{"--quiet", 'q', CLI_ARGS_FLAG, O_QUIET, {NULL, NULL}, 0},
	{"--verbose", 'v', CLI_ARGS_FLAG, O_VERBOSE, {NULL, NULL}, 0},
	{"--flash-size", 0, CLI_ARGS_ONE, O_FLASH_SIZE, {"--flash_size", "-fs"}, 0},
	{"--flash-mode", 0, CLI_ARGS_ONE, O_FLASH_MODE, {NULL, NULL}, 0},
	{"--secure", 0, CLI_ARGS_OPTIONAL, O_SECURE, {NULL, NULL}, 0},
	{"--extra", 0, CLI_ARGS_MANY, O_EXTRA, {NULL, NULL}, 0},
	{"--pair", 0, CLI_ARGS_ONE, O_PAIR, {NULL, NULL}, 2},
	{"--help", 'h', CLI_ARGS_FLAG, O_HELP, {NULL, NULL}, 0},
};

/* What the callbacks saw, as one line: "offset=0x9000 quiet [a b] ..." */
struct rec {
	char log[512];
	int take; /* on_run takes at most this many per run (-1: all) */
};

static void add(struct rec *r, const char *s)
{
	size_t n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, "%s%s", n ? " " : "", s);
}

static int on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct rec *r = ctx;
	char buf[128];
	size_t n;

	if (o->id == O_HELP)
		return CLI_ARGS_DONE;
	snprintf(buf, sizeof(buf), "%s", o->name + 2);
	for (int k = 0; k < nvals; k++) {
		n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, "%s%s", k ? "," : "=", vals[k]);
	}
	add(r, buf);
	return 0;
}

static int on_run(void *ctx, char **run, int n, int *used)
{
	struct rec *r = ctx;
	char buf[128] = "[";

	*used = r->take < 0 || n < r->take ? n : r->take;
	for (int k = 0; k < *used; k++) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "%s%s", k ? " " : "", run[k]);
	}
	strncat(buf, "]", sizeof(buf) - strlen(buf) - 1);
	add(r, buf);
	return 0;
}

static char errbuf[512];

/* A fresh record: nothing seen yet, runs taken up to take words (-1: all). */
static void reset(struct rec *r, int take)
{
	memset(r, 0, sizeof(*r));
	r->take = take;
}

/* Parse a space-separated command line; stderr lands in errbuf. */
static int parse(enum cli_args_style style, unsigned flags, const char *line, struct rec *r)
{
	char copy[512], *argv[32], *save = NULL;
	int argc = 0, rc, saved = dup(2);
	FILE *f = tmpfile();
	struct cli_args p = {.prog = "espfab t", .opts = opts, .nopts = sizeof(opts) / sizeof(opts[0]),
			     .flags = flags, .style = style, .hint = style == CLI_ARGS_ESPFAB ? "see --help" : NULL,
			     .ctx = r, .on_opt = on_opt, .on_run = on_run};

	snprintf(copy, sizeof(copy), "%s", line);
	argv[argc++] = "t";
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(t, "_") ? t : "";
	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), 2);
	rc = cli_args_parse(&p, argc, argv, 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	memset(errbuf, 0, sizeof(errbuf));
	if (!fgets(errbuf, sizeof(errbuf), f))
		errbuf[0] = '\0';
	fclose(f);
	return rc;
}

/* Parse line; the status, and what the callbacks saw and stderr said when
 * log and err are not NULL. */
static void expect(struct rec *r, enum cli_args_style style, unsigned flags, const char *line, int rc, const char *log,
		   const char *err)
{
	assert_int_equal(parse(style, flags, line, r), rc);
	if (log)
		assert_string_equal(r->log, log);
	if (err)
		assert_string_equal(errbuf, err);
}

static void test_cli_args_spellings(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	expect(&r, CLI_ARGS_ARGPARSE, 0, "in --offset 0x9000 -q out --offset=1 -o2 -qo 3 -qv", 0, "[in] offset=0x9000 quiet [out] offset=1 offset=2 quiet offset=3 quiet verbose", "");
	reset(&r, -1);
	expect(&r, CLI_ARGS_ESPFAB, 0, "--flash_size 4MB -fs 2MB --flash-size=8MB", 0, "flash-size=4MB flash-size=2MB flash-size=8MB", NULL);
}

static void test_cli_args_optional_and_many(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--secure --extra a b --secure v2 in --extra -q", 0, "secure extra=a,b secure=v2 [in] extra quiet", NULL);
}

static void test_cli_args_prefix(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	expect(&r, CLI_ARGS_ARGPARSE, CLI_ARGS_PREFIX, "--off 1 --qu --verb=x", 2, "offset=1 quiet", "espfab t: argument -v/--verbose: ignored explicit argument 'x'\n");
	reset(&r, 0);
	expect(&r, CLI_ARGS_ARGPARSE, CLI_ARGS_PREFIX, "--flash 4MB", 2, NULL, "espfab t: ambiguous option: --flash could match --flash-size, --flash-mode\n");
	/* without the flag a prefix is just unknown */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--off 1", 2, NULL, "espfab t: unrecognized arguments: --off\n");
}

static void test_cli_args_errors_name_the_option(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	expect(&r, CLI_ARGS_ARGPARSE, 0, "in --offset", 2, NULL, "espfab t: argument -o/--offset: expected one argument\n");
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--offset -q", 2, NULL, "espfab t: argument -o/--offset: expected one argument\n");
	expect(&r, CLI_ARGS_ESPFAB, 0, "--offset", 2, NULL, "espfab t: --offset needs a value\n");
	expect(&r, CLI_ARGS_ESPFAB, 0, "--quiet=1", 2, NULL, "espfab t: --quiet takes no value\n");
	expect(&r, CLI_ARGS_ESPFAB, 0, "--bogus=1 --quiet", 2, NULL, "espfab t: unknown option '--bogus=1' (see --help)\n");
	expect(&r, CLI_ARGS_ESPFAB, 0, "-x", 2, NULL, "espfab t: unknown option '-x' (see --help)\n");
	/* argparse reports unknown words last, after the rest was parsed */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--bogus in -x -q", 2, "[in] quiet", "espfab t: unrecognized arguments: --bogus ...\n");
}

static void test_cli_args_values_that_look_like_options(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	/* argparse: negative numbers and words with a space are positionals */
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--offset -5 -1.5 -.5 -", 0, "offset=-5 [-1.5 -.5 -]", NULL);
	reset(&r, -1);
	expect(&r, CLI_ARGS_ESPFAB, CLI_ARGS_DASH_VALUE, "--offset -q --flash-mode --x", 0, "offset=-q flash-mode=--x", NULL);
	/* an empty value is a value */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "--offset _", 0, "offset=", NULL);
}

static void test_cli_args_runs_and_dashdash(void **state)
{
	struct rec r = {.take = 1};

	(void)state;
	/* a run takes what the caller takes; the rest is unrecognized */
	expect(&r, CLI_ARGS_ARGPARSE, 0, "a b -q c", 2, "[a] quiet [c]", "espfab t: unrecognized arguments: b\n");
	/* "--": everything after it is positional; it is in no run... */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "a -- -q --offset", 0, "[a] [-q --offset]", NULL);
	/* ...unless the caller keeps it, as argparse's pattern does */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, CLI_ARGS_KEEP_DASHDASH, "a -- -q -- x", 0, "[a -- -q -- x]", NULL);
	/* --help stops the parse, successfully */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "-q -h --bogus", CLI_ARGS_DONE, "quiet", NULL);
	/* a cluster is checked whole before any of it acts: "-hX" is no help */
	reset(&r, -1);
	expect(&r, CLI_ARGS_ARGPARSE, 0, "-qhX", 2, "", "espfab t: argument -h/--help: ignored explicit argument 'X'\n");
}

static void test_cli_args_fixed_count_and_numbers(void **state)
{
	struct rec r = {.take = -1};

	(void)state;
	expect(&r, CLI_ARGS_ESPFAB, CLI_ARGS_NUMBERS, "--pair 1 -4 -7 x", 0, "pair=1,-4 [-7 x]", NULL);
	expect(&r, CLI_ARGS_ESPFAB, CLI_ARGS_NUMBERS, "--pair 1", 2, NULL, "espfab t: --pair needs 2 values\n");
	expect(&r, CLI_ARGS_ESPFAB, CLI_ARGS_NUMBERS, "--pair=1 2", 2, NULL, "espfab t: --pair needs 2 values\n");
	/* without the flag the ESPFAB style takes "-4" for an option */
	expect(&r, CLI_ARGS_ESPFAB, 0, "--pair 1 -4", 2, NULL, "espfab t: --pair needs 2 values\n");
}

static void test_cli_args_stop_at_word(void **state)
{
	struct rec r = {.take = -1};
	struct cli_args p = {.prog = "espfab", .opts = opts, .nopts = sizeof(opts) / sizeof(opts[0]),
			     .flags = CLI_ARGS_STOP_AT_WORD, .style = CLI_ARGS_ESPFAB, .ctx = &r, .on_opt = on_opt,
			     .on_run = on_run};
	char *argv[] = {"espfab", "--offset", "1", "-q", "records", "--offset", "2", NULL};
	int stopped = -1;

	(void)state;
	p.stopped = &stopped;
	assert_int_equal(cli_args_parse(&p, 7, argv, 1), 0);
	assert_int_equal(stopped, 4); /* "records": the rest is the command's */
	assert_string_equal(r.log, "offset=1 quiet");
	assert_int_equal(cli_args_parse(&p, 4, argv, 1), 0);
	assert_int_equal(stopped, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_args_spellings),
		cmocka_unit_test(test_cli_args_optional_and_many),
		cmocka_unit_test(test_cli_args_prefix),
		cmocka_unit_test(test_cli_args_errors_name_the_option),
		cmocka_unit_test(test_cli_args_values_that_look_like_options),
		cmocka_unit_test(test_cli_args_runs_and_dashdash),
		cmocka_unit_test(test_cli_args_fixed_count_and_numbers),
		cmocka_unit_test(test_cli_args_stop_at_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
