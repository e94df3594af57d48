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
#include "espfab/nvs.h"
#include "espfab/part.h"

#define PROG "espfab part"
#define MAX_INPUT (16u * 1024u * 1024u) /* a table is 4K; a CSV this big is a mistake */

struct part_cli_args {
	const char *input;
	const char *output; /* NULL or "-": stdout */
	const char *flash_size;
	bool no_verify;
	bool quiet;
	bool json;
	bool show;
	struct part_opts opts;
	struct part_names *names;
	char **extra; /* the last --extra-partition-subtypes list (argv's words) */
	int nextra;
	const char *pos[2]; /* INPUT, OUTPUT */
	int npos;
};

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

static const char *const part_cli_flash_sizes[] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB"};

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
	char *end;
	unsigned long long v;

	/* int(x, 0): decimal, 0x, 0o, 0b */
	errno = 0;
	if (!strncmp(s, "0o", 2) || !strncmp(s, "0O", 2))
		v = strtoull(s + 2, &end, 8);
	else if (!strncmp(s, "0b", 2) || !strncmp(s, "0B", 2))
		v = strtoull(s + 2, &end, 2);
	else if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		v = strtoull(s + 2, &end, 16);
	else if (s[0] == '0' && s[1] != '\0')
		end = (char *)s; /* int('010', 0) is an error */
	else
		v = strtoull(s, &end, 10);
	if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ' || *end || end == s || errno || v > 0xFFFFFFFFull) {
		fprintf(stderr, PROG ": argument %s: invalid value '%s' (a number 0-0xffffffff, e.g. 0x8000)\n", what, s);
		return -1;
	}
	*out = (uint32_t)v;
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

static int read_input(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (!f) {
		fprintf(stderr, PROG ": argument input: can't open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			uint8_t *nb;
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_INPUT + 1)
				cap = MAX_INPUT + 1;
			if (n == cap) {
				fprintf(stderr, PROG ": %s: larger than %u bytes; not a partition table\n", path, MAX_INPUT);
				goto out;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, PROG ": %s: out of memory\n", path);
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				fprintf(stderr, PROG ": %s: read error: %s\n", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

static void print_err(const char *path, const struct part_err *err)
{
	if (err->line)
		fprintf(stderr, "%s:%u: %s\n", path, err->line, err->msg);
	else if (err->pos >= 0)
		fprintf(stderr, "%s: byte 0x%lx: %s\n", path, err->pos, err->msg);
	else
		fprintf(stderr, "%s: %s\n", path, err->msg);
}

static void warn_stderr(void *user, unsigned line, long pos, const char *text)
{
	(void)user;
	(void)line;
	(void)pos;
	fprintf(stderr, "WARNING: %s\n", text);
}

static const char *env_lookup(void *user, const char *name)
{
	(void)user;
	return getenv(name);
}

static void status(const struct part_cli_args *a, const char *msg)
{
	if (!a->quiet)
		fprintf(stderr, "%s\n", msg);
}

static int mkdirs(const char *dir)
{
	char *p = strdup(dir);
	int rc = -1;

	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST)
			goto out;
		*s = '/';
	}
	if (mkdir(p, 0777) && errno != EEXIST)
		goto out;
	rc = 0;
out:
	free(p);
	return rc;
}

/* Write data to path through a temporary file in the same folder, renamed
 * into place only when complete. Creates missing folders as the reference's
 * os.makedirs does. */
static int write_output(const char *path, const void *data, size_t len)
{
	char *copy = NULL, *dir;
	struct nvs_err err;
	int rc = -1;
	mode_t mask;

	if (!path || !strcmp(path, "-")) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout)) {
			fprintf(stderr, PROG ": writing to stdout: %s\n", strerror(errno));
			return -1;
		}
		return 0;
	}
	copy = strdup(path);
	if (!copy) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	dir = dirname(copy);
	if (strcmp(dir, ".") && mkdirs(dir)) {
		fprintf(stderr, PROG ": %s: cannot create folder %s: %s\n", path, dir, strerror(errno));
		goto out;
	}
	/* the reference's open() gives 0666 & ~umask */
	mask = umask(0);
	umask(mask);
	if (nvs_file_write_atomic(path, data, len, 0666 & ~mask, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

static uint64_t flash_size_bytes(const char *s)
{
	return strtoull(s, NULL, 10) * 1024u * 1024u;
}

/* Parse + verify + flash-size check, as main() does up to the output. */
static int load(struct part_cli_args *a, struct part_table **t, bool *is_binary)
{
	struct part_err err;
	uint8_t *buf = NULL;
	size_t len;
	int rc = 2;

	*t = NULL;
	if (part_opts_check(&a->opts, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if (read_input(a->input, &buf, &len))
		return 2;
	*is_binary = len >= 2 && buf[0] == 0xAA && buf[1] == 0x50;
	status(a, *is_binary ? "Parsing binary partition input..." : "Parsing CSV input...");
	if (part_table_parse(buf, len, &a->opts, t, NULL, &err)) {
		print_err(a->input, &err);
		goto out;
	}
	if (!a->no_verify) {
		status(a, "Verifying table...");
		if (part_table_verify(*t, &a->opts, &err)) {
			print_err(a->input, &err);
			goto out;
		}
	}
	if (a->flash_size && part_table_check_flash_size(*t, flash_size_bytes(a->flash_size), &err)) {
		print_err(a->input, &err);
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		part_table_free(*t);
		*t = NULL;
	}
	free(buf);
	return rc;
}

static int convert(struct part_cli_args *a)
{
	struct part_table *t = NULL;
	struct part_err err;
	uint8_t bin[PART_TABLE_MAX_LEN];
	char *csv = NULL;
	bool is_binary = false;
	int rc;

	if ((rc = load(a, &t, &is_binary)) != 0)
		return rc;
	rc = 2;
	if (is_binary) {
		if (part_csv_write(t, &a->opts, &csv, &err)) {
			print_err(a->input, &err);
			goto out;
		}
		if (write_output(a->output, csv, strlen(csv)))
			goto out;
	} else {
		if (part_bin_write(t, &a->opts, bin, &err)) {
			print_err(a->input, &err);
			goto out;
		}
		if (write_output(a->output, bin, sizeof(bin)))
			goto out;
	}
	rc = 0;
out:
	free(csv);
	part_table_free(t);
	return rc;
}

static void fmt_size(uint64_t v, char *buf, size_t cap)
{
	if (v && v % 0x100000 == 0)
		snprintf(buf, cap, "%lluM", (unsigned long long)(v / 0x100000));
	else if (v && v % 0x400 == 0)
		snprintf(buf, cap, "%lluK", (unsigned long long)(v / 0x400));
	else
		snprintf(buf, cap, "0x%llx", (unsigned long long)v);
}

static const char *flags_text(uint32_t flags)
{
	switch (flags & (PART_FLAG_ENCRYPTED | PART_FLAG_READONLY)) {
	case PART_FLAG_ENCRYPTED: return "encrypted";
	case PART_FLAG_READONLY: return "readonly";
	case PART_FLAG_ENCRYPTED | PART_FLAG_READONLY: return "encrypted:readonly";
	default: return "";
	}
}

struct part_cli_gap {
	uint64_t start, size;
};

struct part_cli_range {
	uint64_t start, end;
};

static int cmp_off(const void *x, const void *y)
{
	const struct part_cli_range *a = x, *b = y;
	return a->start < b->start ? -1 : a->start > b->start;
}

/* Free ranges above the table sector up to flash_bytes, in offset order. */
static size_t free_gaps(const struct part_table *t, uint32_t table_offset, uint64_t flash_bytes, struct part_cli_gap **out)
{
	struct part_cli_range *r = calloc(t->count + 1, sizeof(*r));
	struct part_cli_gap *g = calloc(t->count + 1, sizeof(*g));
	uint64_t cursor = (uint64_t)table_offset + PART_TABLE_SECTOR;
	size_t n = 0;

	*out = NULL;
	if (!r || !g) {
		free(r);
		free(g);
		return 0;
	}
	for (size_t i = 0; i < t->count; i++) {
		r[i].start = t->entries[i].offset;
		r[i].end = (uint64_t)t->entries[i].offset + t->entries[i].size;
	}
	qsort(r, t->count, sizeof(*r), cmp_off);
	for (size_t i = 0; i < t->count; i++) {
		if (r[i].start > cursor && cursor < flash_bytes) {
			uint64_t end = r[i].start < flash_bytes ? r[i].start : flash_bytes;
			g[n].start = cursor;
			g[n++].size = end - cursor;
		}
		if (r[i].end > cursor)
			cursor = r[i].end;
	}
	if (cursor < flash_bytes) {
		g[n].start = cursor;
		g[n++].size = flash_bytes - cursor;
	}
	free(r);
	*out = g;
	return n;
}

static uint64_t flash_needed(uint64_t end)
{
	for (size_t i = 0; i < sizeof(part_cli_flash_sizes) / sizeof(part_cli_flash_sizes[0]); i++)
		if (flash_size_bytes(part_cli_flash_sizes[i]) >= end)
			return flash_size_bytes(part_cli_flash_sizes[i]);
	return 0; /* larger than any flash the reference knows */
}

static int show_json(const struct part_cli_args *a, const struct part_table *t, bool is_binary, uint64_t end,
		     uint64_t flash, const struct part_cli_gap *g, size_t ng)
{
	json_t *root = json_object(), *parts = json_array(), *gaps = json_array();
	uint64_t free_total = 0;
	char *text = NULL;
	int rc = 2;

	if (!root || !parts || !gaps)
		goto out;
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		const char *tn = part_type_name(a->opts.names, e->type);
		const char *sn = part_subtype_name(a->opts.names, e->type, e->subtype);
		json_t *flags = json_array();
		json_t *p = json_pack("{s:s, s:i, s:s?, s:i, s:s?, s:I, s:I, s:o}", "name", e->name, "type", (int)e->type,
				      "type_name", tn, "subtype", (int)e->subtype, "subtype_name", sn, "offset",
				      (json_int_t)e->offset, "size", (json_int_t)e->size, "flags", flags);
		if (!p || !flags)
			goto out;
		if (e->flags & PART_FLAG_ENCRYPTED)
			json_array_append_new(flags, json_string("encrypted"));
		if (e->flags & PART_FLAG_READONLY)
			json_array_append_new(flags, json_string("readonly"));
		if (e->line)
			json_object_set_new(p, "line", json_integer(e->line));
		json_array_append_new(parts, p);
	}
	for (size_t i = 0; i < ng; i++) {
		json_array_append_new(gaps, json_pack("{s:I, s:I}", "offset", (json_int_t)g[i].start, "size",
						      (json_int_t)g[i].size));
		free_total += g[i].size;
	}
	json_object_set_new(root, "file", json_string(a->input));
	json_object_set_new(root, "format", json_string(is_binary ? "binary" : "csv"));
	json_object_set_new(root, "table_offset", json_integer(a->opts.table_offset));
	if (is_binary)
		json_object_set_new(root, "md5", json_boolean(t->has_md5));
	json_object_set_new(root, "partitions", parts);
	parts = NULL;
	json_object_set_new(root, "flash_end", json_integer((json_int_t)end));
	json_object_set_new(root, "flash_size", flash ? json_integer((json_int_t)flash) : json_null());
	json_object_set_new(root, "free", gaps);
	gaps = NULL;
	json_object_set_new(root, "free_total", json_integer((json_int_t)free_total));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	printf("%s\n", text);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, PROG " show: out of memory\n");
	free(text);
	json_decref(gaps);
	json_decref(parts);
	json_decref(root);
	return rc;
}

static int show(struct part_cli_args *a)
{
	struct part_table *t = NULL;
	struct part_cli_gap *g = NULL;
	size_t ng;
	bool is_binary = false;
	uint64_t end, flash, free_total = 0;
	char sz[24];
	int rc;

	if (strcmp(a->input, "-") && access(a->input, R_OK) && access("show", F_OK) == 0) {
		/* the likely mix-up: a table file named "show" */
		fprintf(stderr, PROG " show: can't open '%s': %s (to convert a file named 'show', write ./show)\n",
			a->input, strerror(errno));
		return 2;
	}
	if ((rc = load(a, &t, &is_binary)) != 0)
		return rc;
	end = part_table_flash_end(t);
	flash = a->flash_size ? flash_size_bytes(a->flash_size) : flash_needed(end);
	ng = free_gaps(t, a->opts.table_offset, flash ? flash : end, &g);
	if (a->json) {
		rc = show_json(a, t, is_binary, end, flash, g, ng);
		goto out;
	}
	printf("%s: %s partition table, %zu partition%s, table at 0x%x%s\n", a->input, is_binary ? "binary" : "CSV",
	       t->count, t->count == 1 ? "" : "s", a->opts.table_offset,
	       is_binary ? (t->has_md5 ? ", MD5 ok" : ", no MD5 entry") : "");
	printf("%-16s  %-15s  %-10s  %-10s  %8s  %s\n", "Name", "Type", "SubType", "Offset", "Size", "Flags");
	for (size_t i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->entries[i];
		const char *tn = part_type_name(a->opts.names, e->type);
		const char *sn = part_subtype_name(a->opts.names, e->type, e->subtype);
		char tb[8], sb[8], ob[16];
		if (!tn) {
			snprintf(tb, sizeof(tb), "0x%02x", e->type);
			tn = tb;
		}
		if (!sn) {
			snprintf(sb, sizeof(sb), "0x%02x", e->subtype);
			sn = sb;
		}
		snprintf(ob, sizeof(ob), "0x%x", e->offset);
		fmt_size(e->size, sz, sizeof(sz));
		printf("%-16s  %-15s  %-10s  %-10s  %8s%s%s\n", e->name, tn, sn, ob, sz, e->flags ? "  " : "",
		       flags_text(e->flags));
	}
	for (size_t i = 0; i < ng; i++)
		free_total += g[i].size;
	fmt_size(end, sz, sizeof(sz));
	if (a->flash_size)
		printf("Flash: partitions end at 0x%llx (%s) in a %s flash (--flash-size)\n", (unsigned long long)end, sz,
		       a->flash_size);
	else if (flash)
		printf("Flash: partitions end at 0x%llx (%s); the smallest flash that fits is %lluMB\n",
		       (unsigned long long)end, sz, (unsigned long long)(flash >> 20));
	else
		printf("Flash: partitions end at 0x%llx (%s), beyond the largest flash size (128MB)\n",
		       (unsigned long long)end, sz);
	fmt_size(free_total, sz, sizeof(sz));
	printf("Free: %s in %zu range%s%s\n", sz, ng, ng == 1 ? "" : "s", ng ? ":" : "");
	for (size_t i = 0; i < ng; i++) {
		fmt_size(g[i].size, sz, sizeof(sz));
		printf("  0x%06llx-0x%06llx  %s\n", (unsigned long long)g[i].start,
		       (unsigned long long)(g[i].start + g[i].size - 1), sz);
	}
	rc = 0;
out:
	free(g);
	part_table_free(t);
	return rc;
}

int cmd_part(int argc, char **argv, const struct cli_globals *g)
{
	struct part_cli_args a;
	int rc;

	(void)g;
	memset(&a, 0, sizeof(a));
	part_opts_init(&a.opts);
	a.opts.warn = warn_stderr;
	a.opts.getenv = env_lookup;
	rc = parse_args(argc, argv, &a);
	if (rc) {
		part_names_free(a.names);
		return rc == CLI_ARGS_DONE ? 0 : rc;
	}
	if (a.show)
		a.quiet = true; /* progress lines are the converter's; show prints a report */
	rc = a.show ? show(&a) : convert(&a);
	part_names_free(a.names);
	return rc;
}
