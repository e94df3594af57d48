/* espfab flash's command line, with esptool's spellings where they mean the
 * same thing (cmd_flash_compat.h): options anywhere, --opt=value, -p/-b/-c,
 * write_flash and write-flash, --flash_mode/--flash-mode. Parsed by cli_args;
 * a value is taken as it is, even one starting with '-', as esptool's own
 * loop did. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "espfab/pyint.h"
#include "cmd_flash.h"
#include "cmd_flash_compat.h"
#include "espfab/part.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: espfab flash --port PORT [--baud B] [--before default_reset|usb_reset|no_reset]\n"
		"                    [--after hard_reset|no_reset] [--flash-size SIZE] [--chip CHIP] [--json] COMMAND\n"
		"commands:\n"
		"  chip-id                          chip, revision-independent facts, security flags\n"
		"  read-mac                         the base MAC address\n"
		"  flash-id                         SPI flash JEDEC id and size\n"
		"  write OFFSET FILE [OFFSET FILE ...] [--no-compress] [--verify] [--plaintext]\n"
		"        [--flash-mode MODE|keep] [--flash-freq FREQ|keep] [--flash-size SIZE|keep|detect]\n"
		"  verify OFFSET FILE               compare flash with FILE (MD5 on the device)\n"
		"  read OFFSET SIZE FILE            read a region into FILE\n"
		"  erase OFFSET SIZE                erase whole 4 KiB sectors\n"
		"  read-part [--offset 0x8000]      print the device's partition table\n"
		"  efuse-summary                    key blocks: purpose, protection (never key bytes)\n"
		"PORT is a serial device (/dev/ttyUSB0, a pty) or socket://HOST:PORT.\n"
		"esptool's spellings work too: chip_id, read_mac, flash_id, write_flash/write-flash,\n"
		"verify_flash, read_flash, erase_region; --port=X, -p, -b, -c/--chip, --flash_mode,\n"
		"--flash_freq, --flash_size, -z, -u, --no-stub (this is the ROM loader anyway). A mode\n"
		"or size that disagrees with the header of the bootloader being written is refused:\n"
		"espfab writes images as they are, where esptool would rewrite those bytes.\n");
}

int fl_fail_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "espfab flash: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

int fl_parse_u32(const char *s, uint32_t *out)
{
	struct pyint v;

	/* esptool's arg_auto_int: int(x, 0) (espfab/pyint.h); no sign. */
	if (!s || pyint_parse_str(s, 0, &v) || v.neg || v.mag > 0xFFFFFFFFu)
		return -1;
	*out = (uint32_t)v.mag;
	return 0;
}

enum fl_opt_id {
	FL_OPT_HELP, FL_OPT_JSON, FL_OPT_NO_COMPRESS, FL_OPT_COMPRESS, FL_OPT_VERIFY, FL_OPT_NO_STUB, FL_OPT_PLAINTEXT,
	FL_OPT_PORT, FL_OPT_BAUD, FL_OPT_BEFORE, FL_OPT_AFTER, FL_OPT_FLASH_SIZE, FL_OPT_FLASH_MODE, FL_OPT_FLASH_FREQ,
	FL_OPT_CHIP, FL_OPT_OFFSET,
};

/* espfab's names first, esptool's spellings as aliases (cmd_flash_compat.h):
 * esptool.py v4's underscores and its -fm/-ff/-fs, -z, -u. */
static const struct cli_opt fl_opts[] = {
	{"--help", 'h', CLI_ARGS_FLAG, FL_OPT_HELP, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, FL_OPT_JSON, {NULL, NULL}, 0},
	{"--no-compress", 0, CLI_ARGS_FLAG, FL_OPT_NO_COMPRESS, {"-u", NULL}, 0},
	{"--compress", 0, CLI_ARGS_FLAG, FL_OPT_COMPRESS, {"-z", NULL}, 0},
	{"--verify", 0, CLI_ARGS_FLAG, FL_OPT_VERIFY, {NULL, NULL}, 0},
	{"--no-stub", 0, CLI_ARGS_FLAG, FL_OPT_NO_STUB, {"--no_stub", NULL}, 0},
	{"--plaintext", 0, CLI_ARGS_FLAG, FL_OPT_PLAINTEXT, {NULL, NULL}, 0},
	{"--port", 'p', CLI_ARGS_ONE, FL_OPT_PORT, {NULL, NULL}, 0},
	{"--baud", 'b', CLI_ARGS_ONE, FL_OPT_BAUD, {NULL, NULL}, 0},
	{"--before", 0, CLI_ARGS_ONE, FL_OPT_BEFORE, {NULL, NULL}, 0},
	{"--after", 0, CLI_ARGS_ONE, FL_OPT_AFTER, {NULL, NULL}, 0},
	{"--flash-size", 0, CLI_ARGS_ONE, FL_OPT_FLASH_SIZE, {"--flash_size", "-fs"}, 0},
	{"--flash-mode", 0, CLI_ARGS_ONE, FL_OPT_FLASH_MODE, {"--flash_mode", "-fm"}, 0},
	{"--flash-freq", 0, CLI_ARGS_ONE, FL_OPT_FLASH_FREQ, {"--flash_freq", "-ff"}, 0},
	{"--chip", 'c', CLI_ARGS_ONE, FL_OPT_CHIP, {NULL, NULL}, 0},
	{"--offset", 0, CLI_ARGS_ONE, FL_OPT_OFFSET, {NULL, NULL}, 0},
};

/* The options with a value, checked as they come. */
static int fl_value(struct fl_args *a, enum fl_opt_id id, const char *v)
{
	char vbuf[32];

	switch (id) {
	case FL_OPT_PORT:
		a->port = v;
		break;
	case FL_OPT_BAUD:
		if (fl_parse_u32(v, &a->baud) || a->baud < 9600)
			return fl_fail_usage("--baud: '%s' is not a baud rate", v);
		break;
	case FL_OPT_BEFORE:
		if (reset_mode_parse(flash_compat_value(v, vbuf, sizeof(vbuf)), &a->before))
			return fl_fail_usage("--before: '%s' is not default_reset, usb_reset or no_reset", v);
		break;
	case FL_OPT_AFTER:
		if (reset_after_parse(flash_compat_value(v, vbuf, sizeof(vbuf)), &a->after))
			return fl_fail_usage("--after: '%s' is not hard_reset or no_reset", v);
		break;
	case FL_OPT_FLASH_SIZE:
		if (!strcmp(v, "keep") || !strcmp(v, "detect")) {
			a->flash_size = 0; /* detected by RDID */
			a->flash_size_s = NULL;
		} else if (flashop_parse_size(v, &a->flash_size)) {
			return fl_fail_usage("--flash-size: '%s' is not a size (4MB, 0x400000, keep, detect)", v);
		} else {
			a->flash_size_s = v;
		}
		break;
	case FL_OPT_FLASH_MODE:
		if (flash_compat_mode_ok(v))
			return fl_fail_usage("--flash-mode: '%s' is not qio, qout, dio, dout or keep", v);
		a->flash_mode = v;
		break;
	case FL_OPT_FLASH_FREQ:
		/* Accepted and not applied: the ROM writes images as they
		 * are, and frequency codes differ per chip. */
		if (flash_compat_freq_ok(v))
			return fl_fail_usage("--flash-freq: '%s' is not a flash frequency (80m, 40m, ..., keep)", v);
		break;
	case FL_OPT_CHIP:
		a->chip = v;
		break;
	case FL_OPT_OFFSET:
		if (fl_parse_u32(v, &a->part_offset) || a->part_offset % 0x1000)
			return fl_fail_usage("--offset: '%s' is not a 4 KiB-aligned offset", v);
		break;
	case FL_OPT_HELP:
	case FL_OPT_JSON:
	case FL_OPT_NO_COMPRESS:
	case FL_OPT_COMPRESS:
	case FL_OPT_VERIFY:
	case FL_OPT_NO_STUB:
	case FL_OPT_PLAINTEXT:
		break;
	}
	return 0;
}

static int fl_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct fl_args *a = ctx;

	if (nvals)
		return fl_value(a, (enum fl_opt_id)o->id, vals[0]);
	switch ((enum fl_opt_id)o->id) {
	case FL_OPT_HELP:
		usage(stdout);
		return CLI_ARGS_DONE;
	case FL_OPT_JSON:
		a->json = 1;
		break;
	case FL_OPT_NO_COMPRESS:
		a->no_compress = 1;
		break;
	case FL_OPT_VERIFY:
		a->verify = 1;
		break;
	case FL_OPT_PLAINTEXT:
		/* flash encryption on: write the data as it is anyway
		 * (e.g. an NVS image encrypted by NVS encryption) */
		a->plaintext = 1;
		break;
	case FL_OPT_COMPRESS: /* the default */
	case FL_OPT_NO_STUB:  /* only the ROM loader is used anyway */
		break;
	case FL_OPT_PORT:
	case FL_OPT_BAUD:
	case FL_OPT_BEFORE:
	case FL_OPT_AFTER:
	case FL_OPT_FLASH_SIZE:
	case FL_OPT_FLASH_MODE:
	case FL_OPT_FLASH_FREQ:
	case FL_OPT_CHIP:
	case FL_OPT_OFFSET:
		break; /* with a value: fl_value() */
	}
	return 0;
}

/* The command word (esptool's spellings too), then its arguments. */
static int fl_on_run(void *ctx, char **run, int n, int *used)
{
	struct fl_args *a = ctx;

	for (*used = 0; *used < n; (*used)++) {
		if (!a->cmd) {
			a->cmd = flash_compat_command(run[*used]);
			continue;
		}
		if (a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0])))
			return fl_fail_usage("too many arguments");
		a->pos[a->npos++] = run[*used];
	}
	return 0;
}

int fl_parse_args(int argc, char **argv, struct fl_args *a)
{
	const struct cli_args p = {.prog = "espfab flash", .opts = fl_opts, .nopts = sizeof(fl_opts) / sizeof(fl_opts[0]),
				   .flags = CLI_ARGS_DASH_VALUE, .style = CLI_ARGS_ESPFAB,
				   .hint = "see 'espfab flash --help'", .ctx = a, .on_opt = fl_on_opt, .on_run = fl_on_run};
	int rc;

	memset(a, 0, sizeof(*a));
	a->baud = 115200;
	a->before = RESET_MODE_CLASSIC;
	a->after = RESET_AFTER_HARD;
	a->part_offset = PART_TABLE_OFFSET_DEFAULT;
	rc = cli_args_parse(&p, argc, argv, 1);
	if (rc)
		return rc == CLI_ARGS_DONE ? 1 : rc;
	if (!a->cmd) {
		usage(stderr);
		return 2;
	}
	if (!a->port)
		return fl_fail_usage("%s: --port is required", a->cmd);
	return 0;
}
