/* espfab-sim's command line: getopt_long with a one-line message for
 * every bad value (see espfab-sim.1). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "espfab/version.h"
#include "sim_opts.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: espfab-sim [--chip esp32|esp32s2|esp32s3|esp32c2|esp32c3|esp32c6|esp32h2]\n"
		"                  [--link PATH | --tcp PORT]\n"
		"                  [--flash FILE] [--flash-size SIZE] [--mac MAC] [--baud B]\n"
		"                  [--no-timing] [--erase-ms MS] [--program-us US]\n"
		"                  [--drop-after N] [--corrupt-rate P] [--seed S] [--garbage]\n"
		"                  [--usb-jtag [--wdt-ms MS]] [--secure-download] [--secure-boot]\n"
		"                  [--flash-crypt-cnt N] [--strap-broken] [--efuse FILE] [--verbose] [--version]\n"
		"Serves a virtual ESP32 ROM serial loader on a new pty (first output line:\n"
		"its path) or on 127.0.0.1:PORT (first line: socket://127.0.0.1:PORT;\n"
		"--tcp 0 picks a free port). SIGTERM/SIGINT/SIGHUP and the death of its\n"
		"parent stop it; SIGUSR1 re-enters\n"
		"download mode. --usb-jtag (S3, C3, C6, H2): the ROM reports its USB-Serial/JTAG\n"
		"console and the RTC/super watchdogs reset the chip (into the app) MS ms after\n"
		"each boot unless the client disables them as esptool does (default 2000).\n"
		"--secure-download (S2 and later): register, MD5 and flash reads are refused.\n"
		"--flash-crypt-cnt N: the FLASH_CRYPT_CNT eFuse (odd bit count = flash\n"
		"encryption on), reported by GET_SECURITY_INFO or, on the ESP32, its eFuses.\n"
		"--strap-broken: IO0 is never low at reset: every reset boots the application.\n"
		"--efuse FILE (C3, C6, H2, S3): the eFuses live in FILE (default FLASH.efuse\n"
		"beside --flash; without either they last as long as the process).\n");
}

static int parse_ull(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "espfab-sim: %s: invalid value '%s' (0..%llu)\n", opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The device's own settings (struct simdev_config). Returns 1 when c is
 * not one of them, -1 on a bad value. */
static int opt_device(int c, struct opts *o)
{
	unsigned long long v;

	switch (c) {
	case 'c':
		if (simdev_chip_parse(optarg, &o->cfg.chip)) {
			fprintf(stderr,
				"espfab-sim: --chip: unknown chip '%s' (esp32, esp32s2, esp32s3, esp32c2, esp32c3, "
				"esp32c6, esp32h2)\n", optarg);
			return -1;
		}
		return 0;
	case 'Z':
		o->cfg.security_flags |= SIMDEV_SEC_SECURE_DOWNLOAD;
		return 0;
	case 'X':
		o->cfg.strap_broken = 1;
		return 0;
	case 'B':
		o->cfg.security_flags |= SIMDEV_SEC_SECURE_BOOT;
		return 0;
	case 'K':
		if (parse_ull("--flash-crypt-cnt", optarg, 255, &v))
			return -1;
		o->cfg.flash_crypt_cnt = (uint8_t)v;
		return 0;
	case 's':
		if (simdev_size_parse(optarg, &o->cfg.flash_size)) {
			fprintf(stderr, "espfab-sim: --flash-size: invalid size '%s' (e.g. 4MB)\n", optarg);
			return -1;
		}
		return 0;
	case 'm':
		if (simdev_mac_parse(optarg, o->cfg.mac)) {
			fprintf(stderr, "espfab-sim: --mac: invalid MAC '%s' (aa:bb:cc:dd:ee:ff)\n", optarg);
			return -1;
		}
		return 0;
	case 'b':
		if (parse_ull("--baud", optarg, 5000000, &v))
			return -1;
		o->cfg.baud = (uint32_t)v;
		return 0;
	case 'N':
		o->cfg.timing = 0;
		return 0;
	case 'E':
		if (parse_ull("--erase-ms", optarg, 100000, &v))
			return -1;
		o->cfg.erase_ms = (uint32_t)v;
		return 0;
	case 'P':
		if (parse_ull("--program-us", optarg, 10000000, &v))
			return -1;
		o->cfg.program_us = (uint32_t)v;
		return 0;
	case 'U':
		o->cfg.usb_jtag = 1;
		return 0;
	case 'W':
		if (parse_ull("--wdt-ms", optarg, 3600000, &v))
			return -1;
		o->cfg.wdt_ms = (uint32_t)v;
		return 0;
	default:
		return 1;
	}
}

/* The fault knobs. Returns 1 when c is not one of them, -1 on a bad value. */
static int opt_fault(int c, struct opts *o)
{
	unsigned long long v;

	switch (c) {
	case 'D':
		if (parse_ull("--drop-after", optarg, 1ull << 40, &v))
			return -1;
		o->cfg.drop_after = (long long)v;
		return 0;
	case 'C': {
		char *end = NULL;
		double p;

		errno = 0;
		p = strtod(optarg, &end);
		if (errno || end == optarg || *end || !(p >= 0 && p <= 1)) {
			fprintf(stderr, "espfab-sim: --corrupt-rate: invalid probability '%s' (0..1)\n", optarg);
			return -1;
		}
		o->cfg.corrupt_rate = p;
		return 0;
	}
	case 'S':
		if (parse_ull("--seed", optarg, UINT64_MAX, &v))
			return -1;
		o->cfg.seed = v;
		return 0;
	case 'G':
		o->cfg.garbage = 1;
		return 0;
	default:
		return 1;
	}
}

int sim_parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "chip", required_argument, NULL, 'c' },
		{ "link", required_argument, NULL, 'l' },
		{ "tcp", required_argument, NULL, 't' },
		{ "flash", required_argument, NULL, 'f' },
		{ "flash-size", required_argument, NULL, 's' },
		{ "mac", required_argument, NULL, 'm' },
		{ "baud", required_argument, NULL, 'b' },
		{ "no-timing", no_argument, NULL, 'N' },
		{ "erase-ms", required_argument, NULL, 'E' },
		{ "program-us", required_argument, NULL, 'P' },
		{ "drop-after", required_argument, NULL, 'D' },
		{ "corrupt-rate", required_argument, NULL, 'C' },
		{ "seed", required_argument, NULL, 'S' },
		{ "garbage", no_argument, NULL, 'G' },
		{ "usb-jtag", no_argument, NULL, 'U' },
		{ "wdt-ms", required_argument, NULL, 'W' },
		{ "secure-download", no_argument, NULL, 'Z' },
		{ "strap-broken", no_argument, NULL, 'X' },
		{ "efuse", required_argument, NULL, 'F' },
		{ "secure-boot", no_argument, NULL, 'B' },
		{ "flash-crypt-cnt", required_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	simdev_config_default(&o->cfg);
	o->cfg.start_in_download = 1;
	o->link = NULL;
	o->flash_path = NULL;
	o->efuse_path = NULL;
	o->tcp_port = -1;
	o->verbose = 0;
	opterr = 0; /* our own one-line message */
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int rc;

		switch (c) {
		case 'l':
			o->link = optarg;
			break;
		case 't':
			if (parse_ull("--tcp", optarg, 65535, &v))
				return -1;
			o->tcp_port = (int)v;
			break;
		case 'f':
			o->flash_path = optarg;
			break;
		case 'F':
			o->efuse_path = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("espfab-sim %s\n", ESPFAB_VERSION);
			exit(0);
		default:
			if ((rc = opt_device(c, o)) == 1)
				rc = opt_fault(c, o);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				fprintf(stderr, "espfab-sim: bad option or missing value: '%s' (see --help)\n",
					argv[optind - 1]);
				return -1;
			}
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espfab-sim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->link && o->tcp_port >= 0) {
		fprintf(stderr, "espfab-sim: --link and --tcp exclude each other\n");
		return -1;
	}
	return 0;
}

