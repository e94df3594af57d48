/* espfab: the station's command. Global options come before the command word
 * so that every family sees the same --db / --socket. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "abspath.h"
#include "cli_args.h"
#include "espfab/store.h"
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

	/* a PostgreSQL URI or service=NAME is not a path */
	if (!*slot || store_db_is_server(*slot))
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

enum main_opt_id { MAIN_OPT_HELP, MAIN_OPT_VERSION, MAIN_OPT_DB, MAIN_OPT_SOCKET, MAIN_OPT_CONFIG };

static const struct cli_opt main_opts[] = {
	{"--help", 'h', CLI_ARGS_FLAG, MAIN_OPT_HELP, {NULL, NULL}, 0},
	{"--version", 'V', CLI_ARGS_FLAG, MAIN_OPT_VERSION, {NULL, NULL}, 0},
	{"--db", 0, CLI_ARGS_ONE, MAIN_OPT_DB, {NULL, NULL}, 0},
	{"--socket", 0, CLI_ARGS_ONE, MAIN_OPT_SOCKET, {NULL, NULL}, 0},
	{"--config", 0, CLI_ARGS_ONE, MAIN_OPT_CONFIG, {NULL, NULL}, 0},
};

static int main_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct cli_globals *g = ctx;

	(void)nvals;
	switch ((enum main_opt_id)o->id) {
	case MAIN_OPT_HELP:
		usage(stdout);
		return CLI_ARGS_DONE;
	case MAIN_OPT_VERSION:
		printf("espfab %s\n", ESPFAB_VERSION);
		return CLI_ARGS_DONE;
	case MAIN_OPT_DB:
		g->db_path = vals[0];
		break;
	case MAIN_OPT_SOCKET:
		g->socket_path = vals[0];
		break;
	case MAIN_OPT_CONFIG:
		g->config_path = vals[0];
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_globals g = {0};
	char db_abs[PATH_MAX], config_abs[PATH_MAX];
	int i = argc, rc;
	/* The options before the command word; the command parses the rest. */
	const struct cli_args p = {.prog = "espfab", .opts = main_opts, .nopts = sizeof(main_opts) / sizeof(main_opts[0]),
				   .flags = CLI_ARGS_STOP_AT_WORD | CLI_ARGS_DASH_VALUE, .style = CLI_ARGS_ESPFAB,
				   .hint = "see 'espfab --help'", .ctx = &g, .on_opt = main_on_opt, .stopped = &i};

	rc = cli_args_parse(&p, argc, argv, 1);
	if (rc)
		return rc == CLI_ARGS_DONE ? 0 : rc;
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
