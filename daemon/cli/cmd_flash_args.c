/* espfab flash's command line, with esptool's spellings where they mean the
 * same thing (cmd_flash_compat.h): options anywhere, --opt=value, -p/-b/-c,
 * write_flash and write-flash, --flash_mode/--flash-mode. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int fl_parse_args(int argc, char **argv, struct fl_args *a)
{
	memset(a, 0, sizeof(*a));
	a->baud = 115200;
	a->before = RESET_MODE_CLASSIC;
	a->after = RESET_AFTER_HARD;
	a->part_offset = PART_TABLE_OFFSET_DEFAULT;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = NULL, *eq = NULL;
		char name[48], vbuf[32];
		int inline_v = 0;

		/* --opt=value, as esptool's argparse takes it. */
		if (o[0] == '-' && o[1] == '-' && (eq = strchr(o, '='))) {
			if ((size_t)(eq - o) >= sizeof(name))
				return fl_fail_usage("unknown option '%s' (see 'espfab flash --help')", o);
			memcpy(name, o, (size_t)(eq - o));
			name[eq - o] = '\0';
			o = name;
			v = eq + 1;
			inline_v = 1;
		} else if (i + 1 < argc) {
			v = argv[i + 1];
		}
		o = flash_compat_option(o);
		if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(o, "--json") || !strcmp(o, "--no-compress") || !strcmp(o, "--verify") ||
		    !strcmp(o, "--compress") || !strcmp(o, "--no-stub") || !strcmp(o, "--plaintext")) {
			if (inline_v)
				return fl_fail_usage("%s takes no value", o);
			if (!strcmp(o, "--json"))
				a->json = 1;
			else if (!strcmp(o, "--no-compress"))
				a->no_compress = 1;
			else if (!strcmp(o, "--verify"))
				a->verify = 1;
			else if (!strcmp(o, "--plaintext"))
				/* flash encryption on: write the data as it is anyway
				 * (e.g. an NVS image encrypted by NVS encryption) */
				a->plaintext = 1;
			/* --compress is the default; --no-stub: only the ROM loader is used */
			continue;
		}
		if (o[0] == '-' && o[1]) {
			static const char *const with_value[] = {"--port", "-p", "--baud", "-b", "--before", "--after",
								 "--flash-size", "--flash-mode", "--flash-freq",
								 "--chip", "--offset"};
			int known = 0;
			for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
				known |= !strcmp(o, with_value[k]);
			if (!known)
				return fl_fail_usage("unknown option '%s' (see 'espfab flash --help')", argv[i]);
			if (!v)
				return fl_fail_usage("%s needs a value", o);
			if (!strcmp(o, "--port") || !strcmp(o, "-p")) {
				a->port = v;
			} else if (!strcmp(o, "--baud") || !strcmp(o, "-b")) {
				if (fl_parse_u32(v, &a->baud) || a->baud < 9600)
					return fl_fail_usage("--baud: '%s' is not a baud rate", v);
			} else if (!strcmp(o, "--before")) {
				if (reset_mode_parse(flash_compat_value(v, vbuf, sizeof(vbuf)), &a->before))
					return fl_fail_usage("--before: '%s' is not default_reset, usb_reset or no_reset", v);
			} else if (!strcmp(o, "--after")) {
				if (reset_after_parse(flash_compat_value(v, vbuf, sizeof(vbuf)), &a->after))
					return fl_fail_usage("--after: '%s' is not hard_reset or no_reset", v);
			} else if (!strcmp(o, "--flash-size")) {
				if (!strcmp(v, "keep") || !strcmp(v, "detect")) {
					a->flash_size = 0; /* detected by RDID */
					a->flash_size_s = NULL;
				} else if (flashop_parse_size(v, &a->flash_size)) {
					return fl_fail_usage("--flash-size: '%s' is not a size (4MB, 0x400000, keep, detect)", v);
				} else {
					a->flash_size_s = v;
				}
			} else if (!strcmp(o, "--flash-mode")) {
				if (flash_compat_mode_ok(v))
					return fl_fail_usage("--flash-mode: '%s' is not qio, qout, dio, dout or keep", v);
				a->flash_mode = v;
			} else if (!strcmp(o, "--flash-freq")) {
				/* Accepted and not applied: the ROM writes images as they
				 * are, and frequency codes differ per chip. */
				if (flash_compat_freq_ok(v))
					return fl_fail_usage("--flash-freq: '%s' is not a flash frequency (80m, 40m, ..., keep)", v);
			} else if (!strcmp(o, "--chip")) {
				a->chip = v;
			} else if (!strcmp(o, "--offset")) {
				if (fl_parse_u32(v, &a->part_offset) || a->part_offset % 0x1000)
					return fl_fail_usage("--offset: '%s' is not a 4 KiB-aligned offset", v);
			}
			if (!inline_v)
				i++;
		} else if (!a->cmd) {
			a->cmd = flash_compat_command(o);
		} else {
			if (a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0])))
				return fl_fail_usage("too many arguments");
			a->pos[a->npos++] = argv[i];
		}
	}
	if (!a->cmd) {
		usage(stderr);
		return 2;
	}
	if (!a->port)
		return fl_fail_usage("%s: --port is required", a->cmd);
	return 0;
}
