/* espfab: the station's command. Global options come before the command word
 * so that every family sees the same --db / --socket. */
#include <stdio.h>
#include <string.h>

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
};

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab [--db PATH] [--socket PATH] [--config PATH] COMMAND [ARGS...]\n"
		   "       espfab --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].word, commands[i].summary);
	fprintf(f, "\ndefaults: --config %s, the database and socket it names (else %s, %s)\n",
		CLI_DEFAULT_CONFIG, ESPFAB_DEFAULT_DB, CLI_DEFAULT_SOCKET);
	fprintf(f, "'espfab COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	struct cli_globals g = {0};
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
