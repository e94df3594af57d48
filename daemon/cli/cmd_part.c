/* espfab part: gen_esp32part.py 1.5 on the command line (CSV <-> binary by
 * what the input is), and `espfab part show` to look at a table.
 *
 *   espfab part [options] INPUT [OUTPUT]
 *   espfab part show TABLE [--json] [options]
 *
 * `show` is a sub-command only as the very first word after `part`; a table
 * file literally named "show" is converted with `espfab part ./show OUT` or
 * `espfab part -- show OUT`. `show` never writes a file, so mistaking one for
 * the other can not clobber anything.
 *
 * The options follow the reference's argparse set-up: long options may be
 * abbreviated to a unique prefix, --opt=value works, --flash-size and
 * --secure take an optional value, --extra-partition-subtypes takes every
 * word up to the next option or `--`. Errors exit 2 with one line, naming
 * FILE:LINE (CSV) or FILE: byte 0xN (binary) where the error has a place.
 * The output is written to a temporary file in the same folder and renamed,
 * so a failed run leaves no file behind. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_args.h"
#include "cmd_part.h"
#include "espfab/pyint.h"
#include "espfab/nvs.h"
#include "espfab/part.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: espfab part [--flash-size [{1MB,2MB,4MB,8MB,16MB,32MB,64MB,128MB}]] [--disable-md5sum]\n"
		"                   [--no-verify] [--verify] [--quiet] [--offset OFFSET]\n"
		"                   [--primary-bootloader-offset OFF] [--recovery-bootloader-offset OFF]\n"
		"                   [--secure [{v1,v2}]] [--extra-partition-subtypes [TYPE,NAME,VALUE ...]]\n"
		"                   INPUT [OUTPUT]\n"
		"       espfab part show TABLE [--json] [same options]\n"
		"\n"
		"Converts a CSV partition table to binary or a binary one to CSV, by what INPUT is\n"
		"(gen_esp32part.py 1.5 compatible). OUTPUT omitted or '-' means stdout.\n"
		"'show' prints a table (CSV or binary) with its free space and the flash it needs;\n"
		"a file named 'show' is converted with './show' or '-- show'.\n");
}

const char *const part_cli_flash_sizes[PART_CLI_NSIZES] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB"};

enum part_cli_opt_id {
	PART_CLI_OPT_FLASH_SIZE,
	PART_CLI_OPT_DISABLE_MD5,
	PART_CLI_OPT_NO_VERIFY,
	PART_CLI_OPT_VERIFY,
	PART_CLI_OPT_QUIET,
	PART_CLI_OPT_OFFSET,
	PART_CLI_OPT_PRIMARY,
	PART_CLI_OPT_RECOVERY,
	PART_CLI_OPT_SECURE,
	PART_CLI_OPT_EXTRA,
	PART_CLI_OPT_JSON,
	PART_CLI_OPT_HELP,
};

/* argparse's set-up of gen_esp32part.py: --flash-size and --secure take an
 * optional value, --extra-partition-subtypes every word up to the next
 * option; --json only goes with show. */
static const struct cli_opt part_cli_opts[] = { /* in enum part_cli_opt_id order */
	{"--flash-size", 0, CLI_ARGS_OPTIONAL, PART_CLI_OPT_FLASH_SIZE, {NULL, NULL}, 0},
	{"--disable-md5sum", 0, CLI_ARGS_FLAG, PART_CLI_OPT_DISABLE_MD5, {NULL, NULL}, 0},
	{"--no-verify", 0, CLI_ARGS_FLAG, PART_CLI_OPT_NO_VERIFY, {NULL, NULL}, 0},
	{"--verify", 'v', CLI_ARGS_FLAG, PART_CLI_OPT_VERIFY, {NULL, NULL}, 0},
	{"--quiet", 'q', CLI_ARGS_FLAG, PART_CLI_OPT_QUIET, {NULL, NULL}, 0},
	{"--offset", 'o', CLI_ARGS_ONE, PART_CLI_OPT_OFFSET, {NULL, NULL}, 0},
	{"--primary-bootloader-offset", 0, CLI_ARGS_ONE, PART_CLI_OPT_PRIMARY, {NULL, NULL}, 0},
	{"--recovery-bootloader-offset", 0, CLI_ARGS_ONE, PART_CLI_OPT_RECOVERY, {NULL, NULL}, 0},
	{"--secure", 0, CLI_ARGS_OPTIONAL, PART_CLI_OPT_SECURE, {NULL, NULL}, 0},
	{"--extra-partition-subtypes", 0, CLI_ARGS_MANY, PART_CLI_OPT_EXTRA, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, PART_CLI_OPT_JSON, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, PART_CLI_OPT_HELP, {NULL, NULL}, 0},
};
#define NOPTS (sizeof(part_cli_opts) / sizeof(part_cli_opts[0]))

static int parse_u32(const char *what, const char *s, uint32_t *out)
{
	struct pyint v;

	/* The reference's int(x, 0) (espfab/pyint.h), within 32 bits. */
	if (pyint_parse_str(s, 0, &v) || (v.neg && v.mag) || v.mag > 0xFFFFFFFFu) {
		fprintf(stderr, PROG ": argument %s: invalid value '%s' (a number 0-0xffffffff, e.g. 0x8000)\n", what, s);
		return -1;
	}
	*out = (uint32_t)v.mag;
	return 0;
}

/* Apply one option; val may be NULL for an optional value or a flag. */
static int apply(struct part_cli_args *a, const struct cli_opt *d, const char *val)
{
	struct part_err err;

	if (d->id == PART_CLI_OPT_JSON && !a->show) {
		fprintf(stderr, PROG ": %s only goes with 'espfab part show'\n", d->name);
		return -1;
	}
	switch (d->id) {
	case PART_CLI_OPT_FLASH_SIZE:
		if (val) {
			size_t i;
			for (i = 0; i < sizeof(part_cli_flash_sizes) / sizeof(part_cli_flash_sizes[0]); i++)
				if (!strcmp(val, part_cli_flash_sizes[i]))
					break;
			if (i == sizeof(part_cli_flash_sizes) / sizeof(part_cli_flash_sizes[0])) {
				fprintf(stderr,
					PROG ": argument --flash-size: invalid choice: '%s' (choose from 1MB, 2MB, 4MB, 8MB, "
					     "16MB, 32MB, 64MB, 128MB)\n",
					val);
				return -1;
			}
		}
		a->flash_size = val;
		return 0;
	case PART_CLI_OPT_DISABLE_MD5:
		a->opts.md5 = false;
		return 0;
	case PART_CLI_OPT_NO_VERIFY:
		a->no_verify = true;
		return 0;
	case PART_CLI_OPT_VERIFY: /* deprecated in the reference: verifying is the default */
		return 0;
	case PART_CLI_OPT_QUIET:
		a->quiet = true;
		return 0;
	case PART_CLI_OPT_OFFSET:
		return parse_u32("--offset", val, &a->opts.table_offset);
	case PART_CLI_OPT_PRIMARY:
		a->opts.has_primary_bootloader = true;
		return parse_u32("--primary-bootloader-offset", val, &a->opts.primary_bootloader_offset);
	case PART_CLI_OPT_RECOVERY:
		a->opts.has_recovery_bootloader = true;
		return parse_u32("--recovery-bootloader-offset", val, &a->opts.recovery_bootloader_offset);
	case PART_CLI_OPT_SECURE:
		if (!val || !strcmp(val, "v1")) {
			a->opts.secure = PART_SECURE_V1; /* const='v1' */
		} else if (!strcmp(val, "v2")) {
			a->opts.secure = PART_SECURE_V2;
		} else {
			fprintf(stderr, PROG ": argument --secure: invalid choice: '%s' (choose from v1, v2)\n", val);
			return -1;
		}
		return 0;
	case PART_CLI_OPT_EXTRA:
		if (!a->names && !(a->names = part_names_new())) {
			fprintf(stderr, PROG ": out of memory\n");
			return -1;
		}
		if (part_names_add_extra(a->names, val, &err)) {
			fprintf(stderr, PROG ": %s\n", err.msg);
			return -1;
		}
		a->opts.names = a->names;
		return 0;
	case PART_CLI_OPT_JSON:
		a->json = true;
		return 0;
	case PART_CLI_OPT_HELP:
		usage(stdout);
		return 1;
	}
	return -1;
}

static int part_cli_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct part_cli_args *a = ctx;
	int rc;

	if (o->kind == CLI_ARGS_MANY) {
		/* argparse keeps only the last occurrence's list; it is applied
		 * after the whole command line */
		a->extra = vals;
		a->nextra = nvals;
		return 0;
	}
	rc = apply(a, o, nvals ? vals[0] : NULL);
	return rc > 0 ? CLI_ARGS_DONE : rc < 0 ? 2 : 0;
}

/* INPUT and OUTPUT, wherever they are; a third word is unrecognized. */
static int part_cli_on_run(void *ctx, char **run, int n, int *used)
{
	struct part_cli_args *a = ctx;

	for (*used = 0; *used < n && a->npos < 2; (*used)++)
		a->pos[a->npos++] = run[*used];
	return 0;
}

static int part_cli_on_end(void *ctx)
{
	struct part_cli_args *a = ctx;

	if (a->npos == 0) {
		if (a->show)
			fprintf(stderr, PROG " show: the following arguments are required: TABLE%s\n",
				access("show", F_OK) == 0 ? " (to convert a file named 'show', write ./show)" : "");
		else
			fprintf(stderr, PROG ": the following arguments are required: input\n");
		return 2;
	}
	if (a->show && a->npos > 1) {
		fprintf(stderr, PROG " show: unrecognized arguments: %s (show writes no file%s)\n", a->pos[1],
			access("show", F_OK) == 0 ? "; to convert a file named 'show', write ./show" : "");
		return 2;
	}
	return 0;
}

/* Returns 0 to go on, CLI_ARGS_DONE after --help, 2 after a usage error. */
static int parse_args(int argc, char **argv, struct part_cli_args *a)
{
	const struct cli_args p = {.prog = PROG, .opts = part_cli_opts, .nopts = NOPTS, .flags = CLI_ARGS_PREFIX,
				   .style = CLI_ARGS_ARGPARSE, .ctx = a, .on_opt = part_cli_on_opt,
				   .on_run = part_cli_on_run, .on_end = part_cli_on_end};
	int rc, first = 1;

	if (argc > 1 && !strcmp(argv[1], "show")) {
		a->show = true;
		first = 2;
	}
	rc = cli_args_parse(&p, argc, argv, first);
	if (rc)
		return rc;
	a->input = a->pos[0];
	a->output = a->pos[1];
	for (int k = 0; k < a->nextra; k++)
		if ((rc = apply(a, &part_cli_opts[PART_CLI_OPT_EXTRA], a->extra[k])) != 0)
			return 2;
	return 0;
}
int cmd_part(int argc, char **argv, const struct cli_globals *g)
{
	struct part_cli_args a;
	int rc;

	(void)g;
	memset(&a, 0, sizeof(a));
	part_opts_init(&a.opts);
	a.opts.warn = part_cli_warn_stderr;
	a.opts.getenv = part_cli_env_lookup;
	rc = parse_args(argc, argv, &a);
	if (rc) {
		part_names_free(a.names);
		return rc == CLI_ARGS_DONE ? 0 : rc;
	}
	if (a.show)
		a.quiet = true; /* progress lines are the converter's; show prints a report */
	rc = a.show ? part_cli_show(&a) : part_cli_convert(&a);
	part_names_free(a.names);
	return rc;
}
