/* espfab: the station's command. Global options come before the command word
 * so that every family sees the same --db / --socket. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "abspath.h"
#include "cli.h"
#include "espfab/version.h"

struct cli_command {
	const char *word;
	int (*run)(int argc, char **argv, const struct cli_globals *g);
	const char *summary;
};

static const struct cli_command commands[] = {
	{"nvs", cmd_nvs, "generate, encrypt, decrypt and dump NVS partition images"},
	{"mfg", cmd_mfg, "mass-manufacturing batches of NVS images (mfg_gen.py compatible)"},
	{"part", cmd_part, "partition tables (gen_esp32part.py compatible)"},
	{"flash", cmd_flash, "talk to a device's ROM serial bootloader"},
	{"product", cmd_product, "products: NVS layout and partition table"},
	{"records", cmd_records, "per-device records: import, list, stats, retire"},
	{"audit", cmd_audit, "the append-only audit trail"},
	{"batch", cmd_batch, "batches queued on the daemon"},
	{"status", cmd_status, "the daemon's ports and counts"},
	{"watch", cmd_watch, "live view of the daemon's ports"},
	{"secure-cert", cmd_secure_cert, "esp_secure_cert partition images: generate, dump"},
	{"certs", cmd_certs, "per-device certificates: identity profile, list, show, export"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab [--db PATH] [--socket PATH] [--config PATH] COMMAND [ARGS...]\n"
		   "       espfab --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].word, commands[i].summary);
	fprintf(f, "\ndefaults: --config %s, the database and socket it names (else %s, %s)\n",
		CLI_DEFAULT_CONFIG, ESPFAB_DEFAULT_DB, CLI_DEFAULT_SOCKET);
	fprintf(f, "'espfab COMMAND --help' describes a command.\n");
}

static int resolve(const char *opt, const char **slot, char *buf, size_t cap)
{
	int e;

	if (!*slot)
		return 0;
	e = abspath_make(*slot, buf, cap);
	if (e) {
		fprintf(stderr, "espfab: %s: %s: %s\n", opt, *slot,
			e == -ENAMETOOLONG ? "too long once made absolute" : strerror(-e));
		return -1;
	}
	*slot = buf;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_globals g = {0};
	char db_abs[PATH_MAX], config_abs[PATH_MAX];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char **slot = NULL;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("espfab %s\n", ESPFAB_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--db"))
			slot = &g.db_path;
		else if (!strcmp(argv[i], "--socket"))
			slot = &g.socket_path;
		else if (!strcmp(argv[i], "--config"))
			slot = &g.config_path;
		if (!slot) {
			fprintf(stderr, "espfab: unknown global option '%s'\n", argv[i]);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "espfab: option '%s' needs a value\n", argv[i]);
			return 2;
		}
		*slot = argv[++i];
	}
	/* --db and --config name files: made absolute now so every message
	 * names them fully (abspath.h). --socket stays as typed: connect()
	 * resolves it the same way, and the absolute form could pass the
	 * 107-byte limit of a socket's name where the typed one does not. */
	if (resolve("--db", &g.db_path, db_abs, sizeof(db_abs)) ||
	    resolve("--config", &g.config_path, config_abs, sizeof(config_abs)))
		return 2;
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].word))
			return commands[c].run(argc - i, argv + i, &g);
	fprintf(stderr, "espfab: unknown command '%s' (see 'espfab --help')\n", argv[i]);
	return 2;
}
