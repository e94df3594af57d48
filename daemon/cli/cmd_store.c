/* espfab product | records | audit: the records store from the command line.
 *
 * Queries build the same request JSON the daemon serves (store_request), run
 * it on the database directly (--db, or the daemon's configured database) or
 * send it to espfabd (--socket), and print the reply with one renderer, so
 * both paths print the same thing. Imports and product definitions always
 * write the database directly: SQLite serialises them with the daemon.
 */
#include <errno.h>
#include <espfab/part.h>
#include <espfab/store.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "espfab/fsu.h"
#include "cmd_lease.h"
#include "cmd_store.h"
#include "cmd_store_hmac.h"
#include "config.h"

#define MAX_UNIQUE 32

struct opts {
	const char *word;     /* "records import", for messages */
	const char *product, *state, *id_col, *reason, *since, *mac, *table, *partition, *seal_key, *firmware;
	int json, reveal, version;
	long long limit;
	long long after;
	const char *unique[MAX_UNIQUE];
	size_t n_unique;
	const char *pos[4];
	int npos, max_pos;
	struct cmd_hmac_opts hmac; /* product add's NVS encryption (cmd_store_hmac.h) */
};

static int usage_err(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Usage problems exit 2, as main.c does for global options. */
static int usage_err(const struct opts *o, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "espfab %s: ", o->word);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'espfab %s --help')\n", o->word);
	return 2;
}

enum store_opt_id {
	STORE_OPT_PRODUCT, STORE_OPT_STATE, STORE_OPT_ID, STORE_OPT_REASON, STORE_OPT_SINCE, STORE_OPT_MAC,
	STORE_OPT_TABLE, STORE_OPT_FIRMWARE, STORE_OPT_PARTITION, STORE_OPT_SEAL_KEY, STORE_OPT_VERSION,
	STORE_OPT_UNIQUE, STORE_OPT_LIMIT, STORE_OPT_JSON, STORE_OPT_REVEAL, STORE_OPT_AFTER,
	STORE_OPT_NVS_ENCRYPTION, STORE_OPT_HMAC_KEY_BLOCK, STORE_OPT_HMAC_PROTECT, STORE_OPT_HMAC_SEAL_KEY,
};

/* Every option of the store's commands; each command allows some of them. */
static const struct cli_opt store_opts[] = {
	{"--product", 0, CLI_ARGS_ONE, STORE_OPT_PRODUCT, {NULL, NULL}, 0},
	{"--state", 0, CLI_ARGS_ONE, STORE_OPT_STATE, {NULL, NULL}, 0},
	{"--id", 0, CLI_ARGS_ONE, STORE_OPT_ID, {NULL, NULL}, 0},
	{"--reason", 0, CLI_ARGS_ONE, STORE_OPT_REASON, {NULL, NULL}, 0},
	{"--since", 0, CLI_ARGS_ONE, STORE_OPT_SINCE, {NULL, NULL}, 0},
	{"--mac", 0, CLI_ARGS_ONE, STORE_OPT_MAC, {NULL, NULL}, 0},
	{"--table", 0, CLI_ARGS_ONE, STORE_OPT_TABLE, {NULL, NULL}, 0},
	{"--firmware", 0, CLI_ARGS_ONE, STORE_OPT_FIRMWARE, {NULL, NULL}, 0},
	{"--partition", 0, CLI_ARGS_ONE, STORE_OPT_PARTITION, {NULL, NULL}, 0},
	{"--seal-key", 0, CLI_ARGS_ONE, STORE_OPT_SEAL_KEY, {NULL, NULL}, 0},
	{"--version", 0, CLI_ARGS_ONE, STORE_OPT_VERSION, {NULL, NULL}, 0},
	{"--unique", 0, CLI_ARGS_ONE, STORE_OPT_UNIQUE, {NULL, NULL}, 0},
	{"--limit", 0, CLI_ARGS_ONE, STORE_OPT_LIMIT, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, STORE_OPT_JSON, {NULL, NULL}, 0},
	{"--reveal", 0, CLI_ARGS_FLAG, STORE_OPT_REVEAL, {NULL, NULL}, 0},
	{"--after", 0, CLI_ARGS_ONE, STORE_OPT_AFTER, {NULL, NULL}, 0},
	{"--nvs-encryption", 0, CLI_ARGS_ONE, STORE_OPT_NVS_ENCRYPTION, {NULL, NULL}, 0},
	{"--hmac-key-block", 0, CLI_ARGS_ONE, STORE_OPT_HMAC_KEY_BLOCK, {NULL, NULL}, 0},
	{"--hmac-protect", 0, CLI_ARGS_ONE, STORE_OPT_HMAC_PROTECT, {NULL, NULL}, 0},
	{"--hmac-seal-key", 0, CLI_ARGS_FLAG, STORE_OPT_HMAC_SEAL_KEY, {NULL, NULL}, 0},
};
#define STORE_NOPTS (sizeof(store_opts) / sizeof(store_opts[0]))

static int store_int_opt(const struct opts *o, enum store_opt_id id, const char *val, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(val, &end, 10);
	if (id == STORE_OPT_LIMIT && (errno || *end || *out <= 0))
		return usage_err(o, "--limit needs a positive number, not '%s'", val);
	if (id == STORE_OPT_AFTER && (errno || *end || end == val || *out < 0))
		return usage_err(o, "--after needs an audit row id (0 or more), not '%s'", val);
	return 0;
}

static int store_on_opt(void *ctx, const struct cli_opt *opt, char **vals, int nvals)
{
	struct opts *o = ctx;
	const char *val = nvals ? vals[0] : NULL;

	switch ((enum store_opt_id)opt->id) {
	case STORE_OPT_PRODUCT: o->product = val; break;
	case STORE_OPT_STATE: o->state = val; break;
	case STORE_OPT_ID: o->id_col = val; break;
	case STORE_OPT_REASON: o->reason = val; break;
	case STORE_OPT_SINCE: o->since = val; break;
	case STORE_OPT_MAC: o->mac = val; break;
	case STORE_OPT_TABLE: o->table = val; break;
	case STORE_OPT_FIRMWARE: o->firmware = val; break;
	case STORE_OPT_PARTITION: o->partition = val; break;
	case STORE_OPT_SEAL_KEY: o->seal_key = val; break;
	case STORE_OPT_JSON: o->json = 1; break;
	case STORE_OPT_REVEAL: o->reveal = 1; break;
	case STORE_OPT_NVS_ENCRYPTION: o->hmac.encryption = val; break;
	case STORE_OPT_HMAC_KEY_BLOCK: o->hmac.key_block = val; break;
	case STORE_OPT_HMAC_PROTECT: o->hmac.protect = val; break;
	case STORE_OPT_HMAC_SEAL_KEY: o->hmac.seal = 1; break;
	case STORE_OPT_VERSION:
		if (strcmp(val, "1") && strcmp(val, "2"))
			return usage_err(o, "--version must be 1 or 2, not '%s'", val);
		o->version = val[0] - '0';
		break;
	case STORE_OPT_UNIQUE:
		if (o->n_unique == MAX_UNIQUE)
			return usage_err(o, "too many --unique fields");
		o->unique[o->n_unique++] = val;
		break;
	case STORE_OPT_LIMIT:
		return store_int_opt(o, STORE_OPT_LIMIT, val, &o->limit);
	case STORE_OPT_AFTER:
		return store_int_opt(o, STORE_OPT_AFTER, val, &o->after);
	}
	return 0;
}

static int store_on_run(void *ctx, char **run, int n, int *used)
{
	struct opts *o = ctx;

	for (*used = 0; *used < n; (*used)++) {
		if (o->npos >= o->max_pos)
			return usage_err(o, "unexpected argument '%s'", run[*used]);
		o->pos[o->npos++] = run[*used];
	}
	return 0;
}

/* allowed: the command's option names without dashes, space-separated. */
static int parse(struct opts *o, int argc, char **argv, int first, const char *allowed, int max_pos)
{
	struct cli_opt opts[STORE_NOPTS];
	char prog[48], hint[64];
	struct cli_args p = {.prog = prog, .opts = opts, .flags = CLI_ARGS_DASH_VALUE, .style = CLI_ARGS_ESPFAB,
			     .hint = hint, .ctx = o,
			     .on_opt = store_on_opt, .on_run = store_on_run};

	for (size_t k = 0; k < STORE_NOPTS; k++) {
		const char *name = store_opts[k].name + 2, *hit = allowed;
		size_t nl = strlen(name);
		/* a whole word of the allowed list */
		while ((hit = strstr(hit, name)) && ((hit != allowed && hit[-1] != ' ') || (hit[nl] && hit[nl] != ' ')))
			hit++;
		if (hit)
			opts[p.nopts++] = store_opts[k];
	}
	snprintf(prog, sizeof(prog), "espfab %s", o->word);
	snprintf(hint, sizeof(hint), "see 'espfab %s --help'", o->word);
	o->max_pos = max_pos;
	return cli_args_parse(&p, argc, argv, first);
}

static int open_store(const struct cli_globals *g, const struct opts *o, unsigned flags, struct store **s)
{
	static struct config cfg; /* large: not on the stack */
	const char *db = g->db_path, *keyfile = o->seal_key;
	uint8_t key[STORE_SEAL_KEY_LEN];
	struct store_err err = {0};
	int rc = 1;

	*s = NULL;
	/* Where the daemon's configuration puts them, read by its own parser. */
	if (!db || !keyfile) {
		if (cli_config(g, &cfg))
			return 1;
		if (!db)
			db = cfg.db_path;
		if (!keyfile && cfg.seal_key[0])
			keyfile = cfg.seal_key;
	}
	if (keyfile && store_seal_key_read(keyfile, key, &err)) {
		fprintf(stderr, "espfab %s: %s\n", o->word, err.msg);
		goto out;
	}
	if (store_open(s, db, flags, keyfile ? key : NULL, &err)) {
		fprintf(stderr, "espfab %s: %s\n", o->word, err.msg);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	uint8_t *data;
	int rc = fsu_read_file(path, SIZE_MAX, &data, len);

	*buf = (char *)data;
	if (rc) {
		errno = -rc; /* the callers word the message */
		return -1;
	}
	return 0;
}

/* Revealed values live in the reply's strings: wipe them before freeing. */
static void wipe_reply(json_t *reply)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(reply, "records"), i, r)
	{
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(r, "values"), k, v)
		{
			json_t *h = json_is_object(v) ? json_object_get(v, "hex") : v;
			if (json_is_string(h))
				OPENSSL_cleanse((char *)json_string_value(h), json_string_length(h));
		}
	}
}

/* Runs one query request locally or through the daemon and prints it. */
static int run_request(const struct cli_globals *g, const struct opts *o, json_t *req, unsigned open_flags)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	json_t *reply = NULL;
	int rc = 1;

	json_object_set_new(req, "v", json_integer(1));
	if (g->socket_path) {
		char msg[256] = "";
		if (cli_daemon_request(g, req, &reply, msg, sizeof(msg))) {
			fprintf(stderr, "espfab %s: %s\n", o->word, msg[0] ? msg : "the daemon refused the request");
			goto out;
		}
	} else {
		struct store *s = NULL;
		struct store_err err = {0};
		if (open_store(g, o, open_flags, &s))
			goto out;
		int r = store_request(s, req, &reply, &err);
		store_close(s);
		if (r) {
			fprintf(stderr, "espfab %s: %s\n", o->word, err.msg);
			goto out;
		}
	}
	if (o->json) {
		char *t = json_dumps(reply, JSON_INDENT(2));
		if (!t)
			goto out;
		printf("%s\n", t);
		OPENSSL_cleanse(t, strlen(t)); /* may hold revealed values */
		free(t);
	} else {
		cmd_store_render(stdout, cmd, reply);
	}
	rc = fflush(stdout) ? 1 : 0;
out:
	if (reply)
		wipe_reply(reply);
	json_decref(reply);
	json_decref(req);
	return rc;
}

/* --since: an ISO date/time prefix ("2026-11-21", "2026-11-21 06:30",
 * "2026-11-21T06:30:00Z") or an age ("90s", "30m", "12h", "7d"). Audit times
 * are UTC ISO strings, so a prefix compares correctly as text. */
static int since_arg(const char *in, char *out, size_t cap)
{
	char *end;
	long long n = strtoll(in, &end, 10);
	if (end != in && n >= 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
		long long mul = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
		time_t t = time(NULL) - (time_t)(n * mul);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	size_t l = strlen(in);
	if (l < 4 || l + 1 > cap)
		return -1;
	for (size_t i = 0; i < l; i++) {
		char c = in[i];
		if (!((c >= '0' && c <= '9') || c == '-' || c == ':' || c == 'T' || c == ' ' || c == '.' || c == 'Z'))
			return -1;
		out[i] = c == ' ' ? 'T' : c;
	}
	out[l] = 0;
	if (out[l - 1] == 'Z')
		out[l - 1] = 0;
	return 0;
}

/* ---- product ---- */

/* The default is the first data/nvs partition, as the firmware's
 * nvs_flash_init() uses the one labelled "nvs"... but a product may keep its
 * records in another one (--partition). NULL after a message on stderr. */
static const struct part_entry *nvs_partition(const struct opts *o, const struct part_table *t)
{
	const struct part_entry *e = o->partition ? part_find_label(t, o->partition)
						  : part_find_type(t, PART_TYPE_DATA, PART_SUBTYPE_DATA_NVS);

	if (!e) {
		if (o->partition)
			fprintf(stderr, "espfab %s: %s: no partition labelled '%s'\n", o->word, o->table, o->partition);
		else
			fprintf(stderr, "espfab %s: %s: no data/nvs partition\n", o->word, o->table);
		return NULL;
	}
	if (e->type != PART_TYPE_DATA || e->subtype != PART_SUBTYPE_DATA_NVS) {
		fprintf(stderr, "espfab %s: %s: partition '%s' is not a data/nvs partition\n", o->word, o->table, e->name);
		return NULL;
	}
	return e;
}

static int product_add(const struct cli_globals *g, struct opts *o)
{
	char *cfg = NULL, *tbl = NULL;
	size_t cfg_len = 0, tbl_len = 0;
	struct part_table *t = NULL;
	struct part_opts po;
	struct part_err pe = {0};
	struct store *s = NULL;
	struct store_err err = {0};
	struct fwimg_set *fw = NULL;
	struct fwimg_err ferr = {0};
	struct store_hmac_product hp;
	uint8_t bin[PART_TABLE_MAX_LEN];
	int rc = 1, hmac = 0;

	if (o->npos != 2 || !o->table)
		return usage_err(o, "usage: espfab product add NAME CONFIG.csv --table PARTITIONS.(csv|bin) "
				    "[--partition LABEL] [--version 1|2] [--unique FIELD]... [--firmware FLASHER_ARGS.json] "
				    "[--nvs-encryption hmac --hmac-key-block BLOCK_KEYn [--hmac-protect P] [--hmac-seal-key]]");
	if (cmd_hmac_check(o->word, &o->hmac, &hmac, &hp))
		return 2;
	if (read_file(o->pos[1], &cfg, &cfg_len)) {
		fprintf(stderr, "espfab %s: %s: %s\n", o->word, o->pos[1], strerror(errno));
		goto out;
	}
	if (read_file(o->table, &tbl, &tbl_len)) {
		fprintf(stderr, "espfab %s: %s: %s\n", o->word, o->table, strerror(errno));
		goto out;
	}
	part_opts_init(&po);
	if (part_table_parse((const uint8_t *)tbl, tbl_len, &po, &t, NULL, &pe) || part_table_verify(t, &po, &pe)) {
		if (pe.line)
			fprintf(stderr, "espfab %s: %s:%u: %s\n", o->word, o->table, pe.line, pe.msg);
		else
			fprintf(stderr, "espfab %s: %s: %s\n", o->word, o->table, pe.msg);
		goto out;
	}
	const struct part_entry *e = nvs_partition(o, t);
	if (!e)
		goto out;
	/* Keep the table as the device holds it (binary, with its MD5), so the
	 * daemon can compare what it reads back. */
	if (part_bin_write(t, &po, bin, &pe)) {
		fprintf(stderr, "espfab %s: %s: %s\n", o->word, o->table, pe.msg);
		goto out;
	}
	/* The images are read and checked before the database is touched. */
	if (o->firmware && fwimg_load(o->firmware, &fw, &ferr)) {
		fprintf(stderr, "espfab %s: %s\n", o->word, ferr.msg);
		goto out;
	}
	if (open_store(g, o, STORE_OPEN_CREATE, &s))
		goto out;
	struct store_product_spec spec = {
		.name = o->pos[0],
		.config_csv = cfg,
		.config_len = cfg_len,
		.config_source = o->pos[1],
		.part_table = bin,
		.part_table_len = sizeof(bin),
		.part_label = e->name,
		.part_offset = e->offset,
		.part_size = e->size,
		.nvs_version = o->version ? o->version : 2,
		.unique = o->unique,
		.n_unique = o->n_unique,
		.firmware = fw,
		.firmware_source = o->firmware,
		.table_offset = po.table_offset,
	};
	/* The product and its encryption in one transaction: both or neither. */
	if ((hmac && store_txn_begin(s, &err)) || store_product_add(s, &spec, &err) ||
	    (hmac && (store_hmac_product_set(s, spec.name, &hp, &err) || store_txn_commit(s, &err)))) {
		store_txn_rollback(s);
		fprintf(stderr, "espfab %s: %s\n", o->word, err.msg);
		goto out;
	}
	printf("product %s: partition %s at 0x%x, 0x%x bytes, NVS version %d\n", spec.name, spec.part_label,
	       (unsigned)spec.part_offset, (unsigned)spec.part_size, spec.nvs_version);
	if (fw)
		printf("product %s: %zu firmware image(s) for %s, %zu bytes\n", spec.name, fw->n, fw->chip, fw->total);
	if (hmac)
		printf("product %s: NVS encryption hmac, BLOCK_KEY%u, protection %s%s\n", spec.name, hp.key_block,
		       hp.protect == 3 ? "read,write" : hp.protect == 1 ? "read" : hp.protect == 2 ? "write" : "none",
		       hp.seal ? ", keys sealed" : "");
	rc = 0;
out:
	fwimg_set_unref(fw);
	store_close(s);
	part_table_free(t);
	free(tbl);
	free(cfg);
	return rc;
}

int cmd_product(int argc, char **argv, const struct cli_globals *g)
{
	struct opts o = {.word = "product"};
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fprintf(sub ? stdout : stderr,
			"usage: espfab [--db PATH] product add NAME CONFIG.csv --table PARTITIONS.(csv|bin)\n"
			"                 [--partition LABEL] [--version 1|2] [--unique FIELD]...\n"
			"                 [--firmware BUILD/flasher_args.json]\n"
			"                 [--nvs-encryption none|hmac --hmac-key-block BLOCK_KEY0..5\n"
			"                  [--hmac-protect read,write|read|write|none] [--hmac-seal-key]]\n"
			"       espfab [--db PATH] product list [--json]\n"
			"       espfab [--db PATH] product show NAME [--json]\n");
		return sub ? 0 : 2;
	}
	if (!strcmp(sub, "add")) {
		o.word = "product add";
		int r = parse(&o, argc, argv, 2,
			      "table partition version unique seal-key firmware nvs-encryption hmac-key-block "
			      "hmac-protect hmac-seal-key",
			      2);
		return r ? r : product_add(g, &o);
	}
	if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
		int show = sub[0] == 's';
		o.word = show ? "product show" : "product list";
		int r = parse(&o, argc, argv, 2, "json", show ? 1 : 0);
		if (r)
			return r;
		if (show && o.npos != 1)
			return usage_err(&o, "usage: espfab product show NAME [--json]");
		return run_request(g, &o, json_pack("{s:s s:s*}", "cmd", show ? "product.show" : "product.list", "name",
						    show ? o.pos[0] : NULL),
				   0);
	}
	return usage_err(&o, "unknown subcommand '%s'", sub);
}

/* ---- records ---- */

static int records_import(const struct cli_globals *g, struct opts *o)
{
	char *buf = NULL;
	size_t len = 0, n = 0;
	struct store *s = NULL;
	struct store_err err = {0};
	int rc = 1;

	if (o->npos != 1 || !o->product)
		return usage_err(o, "usage: espfab records import --product NAME VALUES.csv [--id COLUMN]");
	if (read_file(o->pos[0], &buf, &len)) {
		fprintf(stderr, "espfab %s: %s: %s\n", o->word, o->pos[0], strerror(errno));
		goto out;
	}
	if (open_store(g, o, STORE_OPEN_CREATE, &s))
		goto out;
	/* "file" fields are read relative to the current directory, as mfg_gen does. */
	struct store_import_opts io = {.product = o->product, .source = o->pos[0], .id_column = o->id_col};
	if (store_import_csv(s, &io, buf, len, &n, &err)) {
		fprintf(stderr, "espfab %s: %s (nothing imported)\n", o->word, err.msg);
		goto out;
	}
	printf("imported %zu records into %s\n", n, o->product);
	rc = 0;
out:
	store_close(s);
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}

int cmd_records(int argc, char **argv, const struct cli_globals *g)
{
	struct opts o = {.word = "records"};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int r;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		fprintf(sub ? stdout : stderr,
			"usage: espfab [--db PATH] records import --product NAME VALUES.csv [--id COLUMN] [--seal-key FILE]\n"
			"       espfab [--db PATH] records list [--product P] [--state S] [--limit N] [--json]\n"
			"                                       [--reveal [--seal-key FILE]]\n"
			"       espfab [--db PATH] records stats [--product P] [--json]\n"
			"       espfab [--db PATH] records retire ID --reason TEXT [--product P]\n"
			"       espfab [--db PATH] records check\n"
			"       espfab [--db PATH] records release-lease --station NAME [--reason TEXT] [--json]\n"
			"states: available reserved sent verified retired. Values are shown only with --reveal.\n");
		return sub ? 0 : 2;
	}
	if (!strcmp(sub, "import")) {
		o.word = "records import";
		r = parse(&o, argc, argv, 2, "product id seal-key", 1);
		return r ? r : records_import(g, &o);
	}
	if (!strcmp(sub, "list")) {
		o.word = "records list";
		r = parse(&o, argc, argv, 2, "product state json reveal seal-key limit", 0);
		if (r)
			return r;
		json_t *req = json_pack("{s:s s:s* s:s* s:b}", "cmd", "records.list", "product", o.product, "state",
					o.state, "reveal", o.reveal);
		if (o.limit)
			json_object_set_new(req, "limit", json_integer(o.limit));
		return run_request(g, &o, req, 0);
	}
	if (!strcmp(sub, "stats")) {
		o.word = "records stats";
		r = parse(&o, argc, argv, 2, "product json", 0);
		return r ? r : run_request(g, &o, json_pack("{s:s s:s*}", "cmd", "records.stats", "product", o.product), 0);
	}
	if (!strcmp(sub, "retire")) {
		o.word = "records retire";
		r = parse(&o, argc, argv, 2, "product reason json", 1);
		if (r)
			return r;
		if (o.npos != 1 || !o.reason || !*o.reason)
			return usage_err(&o, "usage: espfab records retire ID --reason TEXT [--product P]");
		return run_request(g, &o,
				   json_pack("{s:s s:s s:s s:s*}", "cmd", "records.retire", "id", o.pos[0], "reason",
					     o.reason, "product", o.product),
				   0);
	}
	if (!strcmp(sub, "release-lease"))
		return cmd_lease_release(argc, argv, g);
	if (!strcmp(sub, "check")) {
		o.word = "records check";
		r = parse(&o, argc, argv, 2, "json", 0);
		return r ? r : run_request(g, &o, json_pack("{s:s}", "cmd", "records.check"), 0);
	}
	return usage_err(&o, "unknown subcommand '%s'", sub);
}

/* ---- audit ---- */

int cmd_audit(int argc, char **argv, const struct cli_globals *g)
{
	struct opts o = {.word = "audit"};
	char since[64];

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: espfab [--db PATH] audit [--since TIME|AGE] [--mac MAC] [--product P] [--after ID] [--limit N]\n"
		       "                  [--json]\n"
		       "--after ID: only rows after that id (a MES polling for what is new)\n"
		       "TIME: 2026-11-21, 2026-11-21T06:30, ... (UTC); AGE: 90s, 30m, 12h, 7d\n");
		return 0;
	}
	int r = parse(&o, argc, argv, 1, "since mac product limit after json", 0);
	if (r)
		return r;
	if (o.since && since_arg(o.since, since, sizeof(since)))
		return usage_err(&o, "--since: '%s' is neither a UTC date/time nor an age like 12h", o.since);
	json_t *req = json_pack("{s:s s:s* s:s* s:s*}", "cmd", "audit", "since", o.since ? since : NULL, "mac", o.mac,
				"product", o.product);
	if (o.limit)
		json_object_set_new(req, "limit", json_integer(o.limit));
	if (o.after)
		json_object_set_new(req, "after", json_integer(o.after));
	return run_request(g, &o, req, 0);
}
