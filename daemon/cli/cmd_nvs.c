/* espfab nvs: the command line of nvs_partition_gen.py 0.2.0 (generate,
 * generate-key, encrypt, decrypt) on top of espfab_nvsgen, plus `dump`
 * (cmd_nvs_dump.c). Arguments, output names and progress lines follow the
 * reference; errors are one line on stderr and no file is left behind. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "cli_args.h"
#include "cmd_nvs.h"
#include "espfab/fsu.h"
#include "espfab/nvs.h"

struct nvs_cli_opt {
	const char *name;
	bool has_value;
	unsigned subs; /* bit per enum nvs_cli_sub */
};

#define SUB(x) (1u << (x))
static const struct nvs_cli_opt nvs_cli_opts[NVS_CLI_OPT_COUNT] = {
	[NVS_CLI_OPT_VERSION] = {"--version", true, SUB(NVS_CLI_SUB_GENERATE) | SUB(NVS_CLI_SUB_ENCRYPT)},
	[NVS_CLI_OPT_OUTDIR] = {"--outdir", true, 0xF},
	[NVS_CLI_OPT_KEYGEN] = {"--keygen", false, SUB(NVS_CLI_SUB_ENCRYPT)},
	[NVS_CLI_OPT_KEYFILE] = {"--keyfile", true, SUB(NVS_CLI_SUB_ENCRYPT) | SUB(NVS_CLI_SUB_GENKEY)},
	[NVS_CLI_OPT_INPUTKEY] = {"--inputkey", true, SUB(NVS_CLI_SUB_ENCRYPT)},
	[NVS_CLI_OPT_KP_HMAC] = {"--key_protect_hmac", false, SUB(NVS_CLI_SUB_ENCRYPT) | SUB(NVS_CLI_SUB_GENKEY)},
	[NVS_CLI_OPT_KP_HMAC_KEYGEN] = {"--kp_hmac_keygen", false, SUB(NVS_CLI_SUB_ENCRYPT) | SUB(NVS_CLI_SUB_GENKEY)},
	[NVS_CLI_OPT_KP_HMAC_KEYFILE] = {"--kp_hmac_keyfile", true, SUB(NVS_CLI_SUB_ENCRYPT) | SUB(NVS_CLI_SUB_GENKEY)},
	[NVS_CLI_OPT_KP_HMAC_INPUTKEY] = {"--kp_hmac_inputkey", true, SUB(NVS_CLI_SUB_ENCRYPT) | SUB(NVS_CLI_SUB_GENKEY)},
};

void nvs_cli_usage(FILE *f)
{
	fprintf(f, "usage: espfab nvs generate INPUT... OUTPUT SIZE [--version {1,2}] [--outdir DIR]\n"
		   "       espfab nvs generate-key [--keyfile NAME] [--outdir DIR] [--key_protect_hmac]\n"
		   "                 [--kp_hmac_keygen] [--kp_hmac_keyfile NAME] [--kp_hmac_inputkey FILE]\n"
		   "       espfab nvs encrypt INPUT... OUTPUT SIZE [--version {1,2}] [--keygen | --inputkey FILE]\n"
		   "                 [--keyfile NAME] [--outdir DIR] [--key_protect_hmac] [--kp_hmac_keygen]\n"
		   "                 [--kp_hmac_keyfile NAME] [--kp_hmac_inputkey FILE]\n"
		   "       espfab nvs decrypt INPUT KEY OUTPUT [--outdir DIR]\n"
		   "       espfab nvs dump IMAGE [--json] [--keyfile KEYS]\n");
}

/* The positional arguments of each sub-command, as argparse declares them:
 * nargs '+' (input) or exactly one. */
static const char *const nvs_cli_positionals[4][4] = {
	[NVS_CLI_SUB_GENERATE] = {"+input", "output", "size", NULL},
	[NVS_CLI_SUB_ENCRYPT] = {"+input", "output", "size", NULL},
	[NVS_CLI_SUB_GENKEY] = {NULL},
	[NVS_CLI_SUB_DECRYPT] = {"input", "key", "output", NULL},
};

#define NVS_CLI_HELP (-2) /* option id of -h/--help */

/* --version takes type=int, choices=[1, 2]: int(" 01 ") is 1 too. */
static int nvs_cli_version(const char *v, enum nvs_version *out)
{
	int64_t n = 0;

	if (nvs_parse_int(v, &n) < 0 || (n != 1 && n != 2)) {
		fprintf(stderr, "espfab nvs: --version: invalid choice '%s' (choose from 1, 2)\n", v);
		return -1;
	}
	*out = n == 1 ? NVS_VERSION_1 : NVS_VERSION_2;
	return 0;
}

struct nvs_cli_parse {
	struct nvs_cli_args *a;
	const char *prog; /* "espfab nvs generate" */
	int pi;           /* next positional to fill */
	bool dashdash;    /* the "--" was met */
};

static int nvs_cli_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct nvs_cli_parse *st = ctx;

	if (o->id == NVS_CLI_HELP) {
		nvs_cli_usage(stdout);
		return CLI_ARGS_DONE;
	}
	/* type and choices are checked when the option is taken */
	if (o->id == NVS_CLI_OPT_VERSION && nvs_cli_version(vals[0], &st->a->version) < 0)
		return 2;
	st->a->opt[o->id] = nvals ? vals[0] : "";
	return 0;
}

/* argparse's consume_positionals(): the longest head of the remaining
 * positionals that this run can fill; an nargs '+' one (always first) takes
 * what the others leave. The "--" among or right after the words taken is
 * absorbed; anything else left is unrecognized. */
static int nvs_cli_on_run(void *ctx, char **run, int n, int *used)
{
	struct nvs_cli_parse *st = ctx;
	const char *const *posdef = nvs_cli_positionals[st->a->sub];
	int words = 0, left = 0, take, want = 0, seen = 0, k;
	bool dd = st->dashdash;

	for (k = 0; k < n; k++) {
		if (!dd && !strcmp(run[k], "--"))
			dd = true;
		else
			words++;
	}
	*used = 0;
	if (!words || !posdef[st->pi])
		return 0;
	while (posdef[st->pi + left])
		left++;
	take = left < words ? left : words;
	for (k = 0; k < take; k++)
		want += posdef[st->pi + k][0] == '+' ? words - take + 1 : 1;
	for (k = 0; k < n; k++) {
		if (!st->dashdash && !strcmp(run[k], "--")) {
			st->dashdash = true;
			continue;
		}
		if (seen == want)
			break;
		st->a->pos[st->a->npos++] = run[k];
		seen++;
	}
	*used = k;
	st->pi += take;
	return 0;
}

/* Missing positionals are named before unrecognized words, as argparse does. */
static int nvs_cli_on_end(void *ctx)
{
	struct nvs_cli_parse *st = ctx;
	const char *const *posdef = nvs_cli_positionals[st->a->sub];

	if (!posdef[st->pi])
		return 0;
	fprintf(stderr, "%s: the following arguments are required:", st->prog);
	for (int j = st->pi; posdef[j]; j++)
		fprintf(stderr, "%s %s", j > st->pi ? "," : "", posdef[j] + (posdef[j][0] == '+'));
	fprintf(stderr, "\n");
	return 2;
}

/* Python 3.11 argparse, as nvs_partition_gen.py's sub-parsers use it:
 * options anywhere, "--opt=value", unique prefixes, "--" ends options, and
 * positionals taken in runs between options (an input list cut by an option
 * does not resume after it: "a.csv --version 1 b.csv out.bin 0x3000" gives
 * input=[a.csv], output=b.csv, size=out.bin and "0x3000" is unrecognized).
 * Returns 0, -1 after help was printed, or the exit status after an error. */
static int nvs_cli_parse(int argc, char **argv, struct nvs_cli_args *a)
{
	struct cli_opt opts[NVS_CLI_OPT_COUNT + 1];
	char prog[48];
	struct nvs_cli_parse st = {.a = a, .prog = prog};
	struct cli_args p = {.prog = prog, .opts = opts, .flags = CLI_ARGS_PREFIX | CLI_ARGS_KEEP_DASHDASH,
			     .style = CLI_ARGS_ARGPARSE, .ctx = &st, .on_opt = nvs_cli_on_opt,
			     .on_run = nvs_cli_on_run, .on_end = nvs_cli_on_end};
	int rc;

	snprintf(prog, sizeof(prog), "espfab nvs %s", argv[1]);
	/* this sub-command's options, in the reference's order */
	for (int o = 0; o < NVS_CLI_OPT_COUNT; o++)
		if (nvs_cli_opts[o].subs & SUB(a->sub))
			opts[p.nopts++] = (struct cli_opt){nvs_cli_opts[o].name, 0,
							   nvs_cli_opts[o].has_value ? CLI_ARGS_ONE : CLI_ARGS_FLAG, o,
							   {NULL, NULL}, 0};
	opts[p.nopts++] = (struct cli_opt){"--help", 'h', CLI_ARGS_FLAG, NVS_CLI_HELP, {NULL, NULL}, 0};
	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	if (!a->pos) {
		fprintf(stderr, "espfab nvs: out of memory\n");
		return 1;
	}
	rc = cli_args_parse(&p, argc, argv, 2);
	return rc == CLI_ARGS_DONE ? -1 : rc;
}

int cmd_nvs(int argc, char **argv, const struct cli_globals *g)
{
	static const char *const subs[] = {"generate", "encrypt", "generate-key", "decrypt"};
	struct nvs_cli_args a;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	a.version = NVS_VERSION_2;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		nvs_cli_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "dump"))
		return cmd_nvs_dump(argc - 1, argv + 1, g);
	for (int s = 0; s < 4; s++)
		if (!strcmp(argv[1], subs[s]))
			rc = s;
	if (rc < 0) {
		fprintf(stderr, "espfab nvs: unknown sub-command '%s'\n", argv[1]);
		nvs_cli_usage(stderr);
		return 2;
	}
	a.sub = (enum nvs_cli_sub)rc;
	rc = nvs_cli_parse(argc, argv, &a);
	if (rc == 0) {
		switch (a.sub) {
		case NVS_CLI_SUB_GENERATE:
			rc = nvs_cli_generate(&a, false);
			break;
		case NVS_CLI_SUB_ENCRYPT:
			rc = nvs_cli_generate(&a, true);
			break;
		case NVS_CLI_SUB_GENKEY:
			rc = nvs_cli_generate_key(&a);
			break;
		case NVS_CLI_SUB_DECRYPT:
			rc = nvs_cli_decrypt(&a);
			break;
		}
	} else if (rc < 0) {
		rc = 0; /* --help */
	}
	free(a.pos);
	return rc;
}
