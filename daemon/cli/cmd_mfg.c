/* espfab mfg: ESP-IDF's mass manufacturing utility (tools/mass_mfg/mfg_gen.py,
 * esp-idf v6.0.2), generating in-process through the nvsgen library.
 *
 *   espfab mfg generate CONFIG VALUES PREFIX SIZE [--outdir DIR] [--fileid COLUMN]
 *       [--prefix_num START DIGITS] [--version {1,2}] [--keygen | --inputkey FILE]
 *       [--key_protect_hmac] [--kp_hmac_keygen] [--kp_hmac_inputkey FILE]
 *   espfab mfg generate-key [--keyfile NAME] [--outdir DIR] [--key_protect_hmac]
 *       [--kp_hmac_keygen] [--kp_hmac_keyfile NAME] [--kp_hmac_inputkey FILE]
 *
 * Options follow argparse: anywhere among the positionals, "--opt=value",
 * and unambiguous prefixes ("--out" for "--outdir").
 *
 * Exit status: 0 done; 1 bad input or I/O error (one line on stderr, nothing
 * left behind); 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "cli_args.h"
#include "espfab/mfg.h"

#define MFG_EXIT_OK 0
#define MFG_EXIT_ERROR 1
#define MFG_EXIT_USAGE 2

enum opt_id {
	OPT_OUTDIR,
	OPT_FILEID,
	OPT_PREFIX_NUM,
	OPT_VERSION,
	OPT_KEYGEN,
	OPT_KEYFILE,
	OPT_INPUTKEY,
	OPT_KEY_PROTECT_HMAC,
	OPT_KP_HMAC_KEYGEN,
	OPT_KP_HMAC_KEYFILE,
	OPT_KP_HMAC_INPUTKEY,
	OPT_INPUT,
	OPT_OUTPUT,
	OPT_JOBS,
	OPT_HELP,
};

struct opt_def {
	const char *name;
	enum opt_id id;
	int nargs;
	bool in_generate, in_genkey;
};

static const struct opt_def opt_defs[] = {
	{"--outdir", OPT_OUTDIR, 1, true, true},
	{"--fileid", OPT_FILEID, 1, true, false},
	{"--prefix_num", OPT_PREFIX_NUM, 2, true, false},
	{"--version", OPT_VERSION, 1, true, false},
	{"--keygen", OPT_KEYGEN, 0, true, false},
	{"--keyfile", OPT_KEYFILE, 1, true, true},
	{"--inputkey", OPT_INPUTKEY, 1, true, false},
	{"--key_protect_hmac", OPT_KEY_PROTECT_HMAC, 0, true, true},
	{"--kp_hmac_keygen", OPT_KP_HMAC_KEYGEN, 0, true, true},
	{"--kp_hmac_keyfile", OPT_KP_HMAC_KEYFILE, 1, true, true},
	{"--kp_hmac_inputkey", OPT_KP_HMAC_INPUTKEY, 1, true, true},
	{"--input", OPT_INPUT, 1, true, false},
	{"--output", OPT_OUTPUT, 1, true, false},
	{"--jobs", OPT_JOBS, 1, true, false},
	{"--help", OPT_HELP, 0, true, true},
};

struct parsed {
	const char *pos[8];
	int npos;
	const char *val[OPT_HELP + 1][2];
	bool set[OPT_HELP + 1];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab mfg generate CONFIG.csv VALUES.csv PREFIX SIZE [--outdir DIR] [--fileid COLUMN]\n"
		   "           [--prefix_num START DIGITS] [--version {1,2}] [--keygen | --inputkey FILE]\n"
		   "           [--key_protect_hmac] [--kp_hmac_keygen] [--kp_hmac_inputkey FILE]\n"
		   "       espfab mfg generate-key [--keyfile NAME] [--outdir DIR] [--key_protect_hmac]\n"
		   "           [--kp_hmac_keygen] [--kp_hmac_keyfile NAME] [--kp_hmac_inputkey FILE]\n"
		   "  One CSV (DIR/csv/PREFIX-ID.csv), one NVS image (DIR/bin/PREFIX-ID.bin) and with --keygen one\n"
		   "  key file (DIR/keys/keys-PREFIX-ID.bin) per row of VALUES, as ESP-IDF's mfg_gen.py.\n"
		   "  All or nothing: a bad row or a failed write leaves no file of the batch behind.\n"
		   "  --jobs N (espfab only): threads writing files, default one per CPU (at most 4).\n");
}

static int mfg_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct parsed *p = ctx;

	p->set[o->id] = true; /* --help too: the command prints usage once parsing is done */
	for (int k = 0; k < nvals && k < 2; k++)
		p->val[o->id][k] = vals[k];
	return 0;
}

static int mfg_on_run(void *ctx, char **run, int n, int *used)
{
	struct parsed *p = ctx;

	for (*used = 0; *used < n; (*used)++) {
		if (p->npos >= (int)(sizeof(p->pos) / sizeof(p->pos[0]))) {
			fprintf(stderr, "espfab mfg: unexpected argument '%s'\n", run[*used]);
			return 2;
		}
		p->pos[p->npos++] = run[*used];
	}
	return 0;
}

/* argparse-like: long options anywhere, "--opt=value", unique prefixes,
 * negative numbers as values. */
static int parse_args(int argc, char **argv, bool generate, struct parsed *p)
{
	struct cli_opt opts[sizeof(opt_defs) / sizeof(opt_defs[0])];
	struct cli_args ca = {.prog = "espfab mfg", .opts = opts, .flags = CLI_ARGS_PREFIX | CLI_ARGS_NUMBERS,
			      .style = CLI_ARGS_ESPFAB, .hint = "see --help", .ctx = p, .on_opt = mfg_on_opt,
			      .on_run = mfg_on_run};

	memset(p, 0, sizeof(*p));
	for (size_t d = 0; d < sizeof(opt_defs) / sizeof(opt_defs[0]); d++) {
		const struct opt_def *o = &opt_defs[d];
		if (generate ? o->in_generate : o->in_genkey)
			opts[ca.nopts++] = (struct cli_opt){o->name, o->id == OPT_HELP ? 'h' : 0,
							    o->nargs ? CLI_ARGS_ONE : CLI_ARGS_FLAG, (int)o->id,
							    {NULL, NULL}, o->nargs};
	}
	return cli_args_parse(&ca, argc, argv, 1) ? -1 : 0;
}

static atomic_int interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

static int cmd_generate(int argc, char **argv)
{
	struct sigaction sa, old_int, old_term, old_hup;
	struct parsed p;
	struct mfg_options o = {0};
	struct mfg_result res;
	struct mfg_err err;
	long long v;
	int rc;

	if (parse_args(argc, argv, true, &p))
		return MFG_EXIT_USAGE;
	if (p.set[OPT_HELP]) {
		usage(stdout);
		return MFG_EXIT_OK;
	}
	if (p.npos != 4) {
		fprintf(stderr, "espfab mfg generate: needs CONFIG VALUES PREFIX SIZE (got %d argument%s)\n", p.npos,
			p.npos == 1 ? "" : "s");
		return MFG_EXIT_USAGE;
	}
	o.config_path = p.pos[0];
	o.values_path = p.pos[1];
	o.prefix = p.pos[2];
	o.size = p.pos[3];
	o.outdir = p.val[OPT_OUTDIR][0];
	o.fileid = p.val[OPT_FILEID][0];
	o.version = NVS_VERSION_2;
	if (p.set[OPT_VERSION]) {
		if (mfg_parse_int(p.val[OPT_VERSION][0], &v) || (v != 1 && v != 2)) {
			fprintf(stderr, "espfab mfg generate: --version: invalid choice '%s' (choose from 1, 2)\n",
				p.val[OPT_VERSION][0]);
			return MFG_EXIT_USAGE;
		}
		o.version = v == 1 ? NVS_VERSION_1 : NVS_VERSION_2;
	}
	if (p.set[OPT_PREFIX_NUM]) {
		long long digits;
		if (mfg_parse_int(p.val[OPT_PREFIX_NUM][0], &o.prefix_start) ||
		    mfg_parse_int(p.val[OPT_PREFIX_NUM][1], &digits) || digits < 0 || digits > 40) {
			fprintf(stderr, "espfab mfg generate: --prefix_num needs two integers: START and DIGITS (0..40)\n");
			return MFG_EXIT_USAGE;
		}
		o.prefix_num = true;
		o.prefix_digits = (int)digits;
	}
	if (p.set[OPT_JOBS]) {
		if (mfg_parse_int(p.val[OPT_JOBS][0], &v) || v < 1 || v > 4) {
			fprintf(stderr, "espfab mfg generate: --jobs needs a number from 1 to 4\n");
			return MFG_EXIT_USAGE;
		}
		o.jobs = (unsigned)v;
	}
	if (p.set[OPT_KEYGEN] && p.set[OPT_INPUTKEY]) {
		fprintf(stderr, "espfab mfg generate: --keygen and --inputkey both are not allowed\n");
		return MFG_EXIT_USAGE;
	}
	o.keys = p.set[OPT_KEYGEN] ? MFG_KEYS_GENERATE : p.set[OPT_INPUTKEY] ? MFG_KEYS_INPUT : MFG_KEYS_NONE;
	o.inputkey = p.val[OPT_INPUTKEY][0];
	o.key_protect_hmac = p.set[OPT_KEY_PROTECT_HMAC];
	o.kp_hmac_keygen = p.set[OPT_KP_HMAC_KEYGEN];
	o.kp_hmac_inputkey = p.val[OPT_KP_HMAC_INPUTKEY][0];
	if (o.keys == MFG_KEYS_GENERATE && o.key_protect_hmac && o.kp_hmac_keygen && p.set[OPT_KP_HMAC_KEYFILE]) {
		/* The reference writes every device's new HMAC key to that one name,
		 * each overwriting the last: the keys of all but one device would be
		 * lost. Each device's HMAC key goes to keys/hmac-keys-PREFIX-ID.bin. */
		fprintf(stderr, "espfab mfg generate: --kp_hmac_keyfile cannot name one file for the HMAC keys of "
				"every device (they go to keys/hmac-keys-PREFIX-ID.bin)\n");
		return MFG_EXIT_USAGE;
	}
	/* Ctrl-C half-way through a batch removes what was written, like any
	 * other failure, instead of leaving part of the set behind. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	o.cancel = &interrupted;
	rc = mfg_generate(&o, &res, &err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (rc) {
		fprintf(stderr, "espfab mfg: %s\n", err.msg);
		return rc == MFG_ECANCELED ? 130 : MFG_EXIT_ERROR;
	}
	printf("Created %zu CSV files in %s/csv, %zu NVS images (%s%s) in %s/bin", res.devices,
	       o.outdir ? o.outdir : ".", res.devices, o.version == NVS_VERSION_1 ? "V1" : "V2",
	       o.keys == MFG_KEYS_NONE ? "" : ", encrypted", o.outdir ? o.outdir : ".");
	if (o.keys == MFG_KEYS_GENERATE)
		printf(" and %zu key files in %s/keys", res.devices, o.outdir ? o.outdir : ".");
	printf("\n");
	return MFG_EXIT_OK;
}

int cmd_mfg(int argc, char **argv, const struct cli_globals *g)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? MFG_EXIT_USAGE : MFG_EXIT_OK;
	}
	if (!strcmp(argv[1], "generate"))
		return cmd_generate(argc - 1, argv + 1);
	/* mfg_gen.py generate-key is nvs_partition_gen's generate_key(args):
	 * one implementation, `espfab nvs generate-key`'s, with its options. */
	if (!strcmp(argv[1], "generate-key"))
		return cmd_nvs(argc, argv, g);
	fprintf(stderr, "espfab mfg: unknown command '%s' (generate or generate-key)\n", argv[1]);
	return MFG_EXIT_USAGE;
}
