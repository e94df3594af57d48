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

/* set_target_filepath() for a key file name: ".bin" added when it has no
 * extension, refused when its extension does not contain ".bin". */
static int key_name(const char *name, char *out, size_t cap)
{
	const char *base = strrchr(name, '/'), *dot, *p;
	base = base ? base + 1 : name;
	for (p = base; *p == '.'; p++)
		;
	dot = strrchr(base, '.');
	if (dot && dot < p)
		dot = NULL;
	if (dot && !strstr(dot, ".bin"))
		return -1;
	if ((size_t)snprintf(out, cap, "%s%s", name, dot ? "" : ".bin") >= cap)
		return -1;
	return 0;
}

static int mkdir_p(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(path))
		return n ? -ENAMETOOLONG : 0;
	memcpy(path, dir, n + 1);
	for (char *s = path + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(path, 0777) && errno != EEXIST)
			return -errno;
		*s = c;
		if (!c)
			break;
	}
	return 0;
}

/* generate_key() of nvs_partition_gen 0.2.0, which `mfg_gen.py generate-key` calls. */
/* The folder holding path, created as needed; 0, or -1 after one line. */
static int mkdir_parent(const char *path)
{
	char dir[8300], *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if ((rc = mkdir_p(dir))) {
		fprintf(stderr, "espfab mfg generate-key: cannot create %s: %s\n", dir, strerror(-rc));
		return -1;
	}
	return 0;
}

/* The XTS keys: random, or derived from an HMAC key (a new one, whose file
 * name goes to hpath, or --kp_hmac_inputkey's). 0, or -1 after one line;
 * the caller wipes key and hkey either way. */
static int key_material(const struct parsed *pp, const char *keyfile, const char *keys_dir,
			uint8_t key[NVS_XTS_KEY_LEN], uint8_t hkey[32], char *hpath, size_t hpath_cap)
{
	char hname[4096];
	uint8_t *in = NULL;
	size_t in_len = 0;
	int rc, status = -1;

	if (pp->set[OPT_KEY_PROTECT_HMAC]) {
		if (pp->set[OPT_KP_HMAC_KEYGEN]) {
			const char *hk = pp->val[OPT_KP_HMAC_KEYFILE][0];
			char hdef[4200];
			if (!hk) {
				snprintf(hdef, sizeof(hdef), "hmac-%s", keyfile);
				hk = hdef;
			}
			if (key_name(hk, hname, sizeof(hname))) {
				fprintf(stderr, "espfab mfg generate-key: %s: only a .bin key file name is accepted\n", hk);
				goto out;
			}
			if (hname[0] == '/')
				snprintf(hpath, hpath_cap, "%s", hname);
			else
				snprintf(hpath, hpath_cap, "%s/%s", keys_dir, hname);
			if (nvs_key_random(hkey, 32, NULL)) {
				fprintf(stderr, "espfab mfg generate-key: no random bytes\n");
				goto out;
			}
			in_len = 32;
		} else {
			rc = nvs_file_read_max(pp->val[OPT_KP_HMAC_INPUTKEY][0], 1024 * 1024, &in, &in_len);
			if (rc) {
				fprintf(stderr, "espfab mfg generate-key: %s: %s\n", pp->val[OPT_KP_HMAC_INPUTKEY][0],
					strerror(-rc));
				goto out;
			}
		}
		if (nvs_key_from_hmac(in ? in : hkey, in_len, key, NULL)) {
			fprintf(stderr, "espfab mfg generate-key: cannot derive keys from the HMAC key\n");
			goto out;
		}
	} else if (nvs_key_random(key, NVS_XTS_KEY_LEN, NULL)) {
		/* The reference draws the key from Python's `random`; a CSPRNG here. */
		fprintf(stderr, "espfab mfg generate-key: no random bytes\n");
		goto out;
	}
	status = 0;
out:
	if (in) {
		OPENSSL_cleanse(in, in_len);
		free(in);
	}
	return status;
}

static int cmd_generate_key(int argc, char **argv)
{
	struct parsed p;
	const char *outdir, *keyfile;
	char defname[64], kname[4096], keys_dir[4096], path[8300], hpath[8300];
	uint8_t key[NVS_XTS_KEY_LEN], hkey[32], kbuf[NVS_PAGE_SIZE];
	struct nvs_err nerr;
	int status = MFG_EXIT_ERROR;

	if (parse_args(argc, argv, false, &p))
		return MFG_EXIT_USAGE;
	if (p.set[OPT_HELP]) {
		usage(stdout);
		return MFG_EXIT_OK;
	}
	if (p.npos) {
		fprintf(stderr, "espfab mfg generate-key: unexpected argument '%s'\n", p.pos[0]);
		return MFG_EXIT_USAGE;
	}
	outdir = p.val[OPT_OUTDIR][0] ? p.val[OPT_OUTDIR][0] : ".";
	keyfile = p.val[OPT_KEYFILE][0];
	if (!keyfile) {
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(defname, sizeof(defname), "keys-%m-%d_%H-%M.bin", &tm);
		keyfile = defname;
	}
	if (key_name(keyfile, kname, sizeof(kname))) {
		fprintf(stderr, "espfab mfg generate-key: %s: only a .bin key file name is accepted\n", keyfile);
		goto out;
	}
	if (p.set[OPT_KEY_PROTECT_HMAC] && !p.set[OPT_KP_HMAC_KEYGEN] && !p.val[OPT_KP_HMAC_INPUTKEY][0]) {
		fprintf(stderr, "espfab mfg generate-key: --key_protect_hmac needs --kp_hmac_keygen or "
				"--kp_hmac_inputkey FILE (the HMAC key)\n");
		goto out;
	}
	snprintf(keys_dir, sizeof(keys_dir), "%s/keys", outdir);
	if (kname[0] == '/')
		snprintf(path, sizeof(path), "%s", kname);
	else
		snprintf(path, sizeof(path), "%s/%s", keys_dir, kname);
	if (key_material(&p, keyfile, keys_dir, key, hkey, hpath, sizeof(hpath)))
		goto out;
	nvs_keyfile_build(key, kbuf);
	if (mkdir_parent(path))
		goto out;
	if (p.set[OPT_KEY_PROTECT_HMAC] && p.set[OPT_KP_HMAC_KEYGEN]) {
		if (mkdir_parent(hpath))
			goto out;
		if (nvs_file_write_atomic(hpath, hkey, sizeof(hkey), 0600, &nerr) < 0) {
			fprintf(stderr, "espfab mfg generate-key: %s\n", nerr.msg);
			goto out;
		}
	}
	if (nvs_file_write_atomic(path, kbuf, sizeof(kbuf), 0600, &nerr) < 0) {
		fprintf(stderr, "espfab mfg generate-key: %s\n", nerr.msg);
		goto out;
	}
	printf("Created encryption keys: ===> %s\n", path);
	status = MFG_EXIT_OK;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(kbuf, sizeof(kbuf));
	return status;
}

int cmd_mfg(int argc, char **argv, const struct cli_globals *g)
{
	(void)g;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? MFG_EXIT_USAGE : MFG_EXIT_OK;
	}
	if (!strcmp(argv[1], "generate"))
		return cmd_generate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "generate-key"))
		return cmd_generate_key(argc - 1, argv + 1);
	fprintf(stderr, "espfab mfg: unknown command '%s' (generate or generate-key)\n", argv[1]);
	return MFG_EXIT_USAGE;
}
