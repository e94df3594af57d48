/* libFuzzer harness: the espfab command's option parser (daemon/cli/cli_args.c)
 * over arbitrary command lines. The first byte picks the style and flags and
 * how much of each positional run the caller takes; the rest, split at NUL
 * bytes, is argv. Checked: the parse returns 0, CLI_ARGS_DONE or 2; every
 * value handed over is one of argv's words (or the tail of one, for
 * --opt=value and -oVALUE); a flag gets no value, an option with one gets
 * exactly its count. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "cli_args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXW 64

static const struct cli_opt opts[] = {
	{"--offset", 'o', CLI_ARGS_ONE, 0, {NULL, NULL}, 0},
	{"--quiet", 'q', CLI_ARGS_FLAG, 1, {NULL, NULL}, 0},
	{"--flash-size", 0, CLI_ARGS_ONE, 2, {"--flash_size", "-fs"}, 0},
	{"--flash-mode", 0, CLI_ARGS_OPTIONAL, 3, {NULL, NULL}, 0},
	{"--extra", 0, CLI_ARGS_MANY, 4, {NULL, NULL}, 0},
	{"--pair", 'p', CLI_ARGS_ONE, 5, {NULL, NULL}, 2},
	{"--help", 'h', CLI_ARGS_FLAG, 6, {NULL, NULL}, 0},
};

struct ctx {
	char *buf;
	size_t len;
	int take;
};

static int inside(const struct ctx *c, const char *s)
{
	return s >= c->buf && s < c->buf + c->len;
}

static int on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct ctx *c = ctx;

	if (o->kind == CLI_ARGS_FLAG && nvals)
		abort();
	if (o->kind == CLI_ARGS_ONE && nvals != (o->nargs > 1 ? o->nargs : 1))
		abort();
	if (o->kind == CLI_ARGS_OPTIONAL && nvals > 1)
		abort();
	for (int k = 0; k < nvals; k++)
		if (!inside(c, vals[k]))
			abort();
	return o->id == 6 ? CLI_ARGS_DONE : 0;
}

static int on_run(void *ctx, char **run, int n, int *used)
{
	struct ctx *c = ctx;

	if (n <= 0)
		abort();
	for (int k = 0; k < n; k++)
		if (!inside(c, run[k]))
			abort();
	*used = c->take < n ? c->take : n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	char *argv[MAXW + 1];
	int argc = 0, rc, saved, devnull, stopped = -1;
	struct cli_args p = {.prog = "fuzz", .opts = opts, .nopts = sizeof(opts) / sizeof(opts[0]), .ctx = &c,
			     .on_opt = on_opt, .on_run = on_run, .stopped = &stopped};

	if (size < 1)
		return 0;
	p.style = data[0] & 1 ? CLI_ARGS_ESPFAB : CLI_ARGS_ARGPARSE;
	p.flags = (data[0] >> 1) & 0x1Fu;
	p.hint = data[0] & 0x40 ? "see --help" : NULL;
	c.take = (data[0] >> 5) & 7;
	c.len = size;
	c.buf = malloc(size);
	if (!c.buf)
		return 0;
	memcpy(c.buf, data + 1, size - 1);
	c.buf[size - 1] = '\0';
	argv[argc++] = c.buf; /* argv[0]: not parsed */
	for (size_t i = 0; i < size - 1 && argc < MAXW; i++)
		if (c.buf[i] == '\0')
			argv[argc++] = c.buf + i + 1;
	argv[argc] = NULL;
	/* the messages are not what is fuzzed */
	saved = dup(2);
	devnull = open("/dev/null", O_WRONLY);
	if (devnull >= 0)
		dup2(devnull, 2);
	rc = cli_args_parse(&p, argc, argv, 1);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (devnull >= 0)
		close(devnull);
	if (rc != 0 && rc != CLI_ARGS_DONE && rc != 2)
		abort();
	if ((p.flags & CLI_ARGS_STOP_AT_WORD) && rc == 0 && (stopped < 1 || stopped > argc))
		abort();
	free(c.buf);
	return 0;
}
