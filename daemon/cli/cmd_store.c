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
	int npos;
	struct cmd_hmac_opts hmac;
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

/* allowed: space-separated option names without dashes. */
static int parse(struct opts *o, int argc, char **argv, int first, const char *allowed, int max_pos)
{
	static const struct {
		const char *name;
		int has_arg;
	} known[] = {{"product", 1}, {"state", 1},    {"id", 1},      {"reason", 1},   {"since", 1},
		     {"mac", 1},     {"table", 1},    {"firmware", 1},    {"partition", 1}, {"seal-key", 1}, {"version", 1},
		     {"unique", 1},  {"limit", 1},    {"json", 0},    {"reveal", 0},   {"after", 1},
		     {"nvs-encryption", 1}, {"hmac-key-block", 1}, {"hmac-protect", 1}, {"hmac-seal-key", 0}};
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		if (a[0] != '-' || a[1] != '-' || !a[2]) {
			if (o->npos >= max_pos)
				return usage_err(o, "unexpected argument '%s'", a);
			o->pos[o->npos++] = a;
			continue;
		}
		char name[32];
		const char *eq = strchr(a + 2, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name))
			return usage_err(o, "unknown option '%s'", a);
		memcpy(name, a + 2, nl);
		name[nl] = 0;
		size_t k;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(known[k].name, name))
				break;
		/* whole-word match in the allowed list */
		const char *hit = strstr(allowed, name);
		while (hit && ((hit != allowed && hit[-1] != ' ') || (hit[nl] && hit[nl] != ' ')))
			hit = strstr(hit + 1, name);
		if (k == sizeof(known) / sizeof(known[0]) || !hit)
			return usage_err(o, "unknown option '%s'", a);
		if (known[k].has_arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return usage_err(o, "option '%s' needs a value", a);
		} else if (eq) {
			return usage_err(o, "option '%s' takes no value", a);
		}
		if (!strcmp(name, "product"))
			o->product = val;
		else if (!strcmp(name, "state"))
			o->state = val;
		else if (!strcmp(name, "id"))
			o->id_col = val;
		else if (!strcmp(name, "reason"))
			o->reason = val;
		else if (!strcmp(name, "since"))
			o->since = val;
		else if (!strcmp(name, "mac"))
			o->mac = val;
		else if (!strcmp(name, "table"))
			o->table = val;
		else if (!strcmp(name, "partition"))
			o->partition = val;
		else if (!strcmp(name, "firmware"))
			o->firmware = val;
		else if (!strcmp(name, "seal-key"))
			o->seal_key = val;
		else if (!strcmp(name, "json"))
			o->json = 1;
		else if (!strcmp(name, "nvs-encryption"))
			o->hmac.encryption = val;
		else if (!strcmp(name, "hmac-key-block"))
			o->hmac.key_block = val;
		else if (!strcmp(name, "hmac-protect"))
			o->hmac.protect = val;
		else if (!strcmp(name, "hmac-seal-key"))
			o->hmac.seal = 1;
		else if (!strcmp(name, "reveal"))
			o->reveal = 1;
		else if (!strcmp(name, "version")) {
			if (strcmp(val, "1") && strcmp(val, "2"))
				return usage_err(o, "--version must be 1 or 2, not '%s'", val);
			o->version = val[0] - '0';
		} else if (!strcmp(name, "unique")) {
			if (o->n_unique == MAX_UNIQUE)
				return usage_err(o, "too many --unique fields");
			o->unique[o->n_unique++] = val;
		} else if (!strcmp(name, "limit")) {
			char *end;
			errno = 0;
			o->limit = strtoll(val, &end, 10);
			if (errno || *end || o->limit <= 0)
				return usage_err(o, "--limit needs a positive number, not '%s'", val);
		} else if (!strcmp(name, "after")) {
			char *end;
			errno = 0;
			o->after = strtoll(val, &end, 10);
			if (errno || *end || end == val || o->after < 0)
				return usage_err(o, "--after needs an audit row id (0 or more), not '%s'", val);
		}
	}
	return 0;
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
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0;

	*buf = NULL;
	if (!f)
		return -1;
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(b, cap + 1);
			if (!nb) {
				free(b);
				fclose(f);
				errno = ENOMEM;
				return -1;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		errno = EIO;
		return -1;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

/* ---- rendering ---- */

static const char *jstr(json_t *o, const char *k, char *tmp, size_t cap)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	return "-";
}

/* A table: header + rows of the given keys, columns as wide as their widest cell. */
static void table(FILE *f, json_t *rows, const char *const *keys, const char *const *heads, size_t n)
{
	size_t w[16] = {0}, i;
	json_t *r;
	char tmp[32];

	for (size_t c = 0; c < n; c++)
		w[c] = strlen(heads[c]);
	json_array_foreach(rows, i, r) for (size_t c = 0; c < n; c++)
	{
		size_t l = strlen(jstr(r, keys[c], tmp, sizeof(tmp)));
		if (l > w[c])
			w[c] = l;
	}
	for (size_t c = 0; c < n; c++)
		fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, heads[c], c + 1 < n ? "  " : "\n");
	json_array_foreach(rows, i, r)
	{
		for (size_t c = 0; c < n; c++)
			fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, jstr(r, keys[c], tmp, sizeof(tmp)),
				c + 1 < n ? "  " : "\n");
		json_t *vals = json_object_get(r, "values");
		const char *k;
		json_t *v;
		json_object_foreach(vals, k, v)
		{
			if (json_is_string(v))
				fprintf(f, "    %s=%s\n", k, json_string_value(v));
			else
				fprintf(f, "    %s=hex:%s\n", k, json_string_value(json_object_get(v, "hex")));
		}
	}
}

void cmd_store_render(FILE *f, const char *cmd, json_t *reply)
{
	if (!strcmp(cmd, "records.list")) {
		static const char *const k[] = {"product", "id", "state", "mac", "station", "port", "bound_at"};
		static const char *const h[] = {"PRODUCT", "ID", "STATE", "MAC", "STATION", "PORT", "BOUND"};
		table(f, json_object_get(reply, "records"), k, h, 7);
	} else if (!strcmp(cmd, "records.stats")) {
		static const char *const k[] = {"product", "total", "available", "reserved", "sent", "verified", "retired"};
		static const char *const h[] = {"PRODUCT", "TOTAL", "AVAILABLE", "RESERVED", "SENT", "VERIFIED", "RETIRED"};
		table(f, json_object_get(reply, "stats"), k, h, 7);
	} else if (!strcmp(cmd, "audit")) {
		static const char *const k[] = {"time", "event", "result", "product", "record_id", "mac",
						"port", "batch_id", "duration_ms", "error"};
		static const char *const h[] = {"TIME", "EVENT", "RESULT", "PRODUCT", "RECORD", "MAC",
						"PORT", "BATCH", "MS", "DETAIL"};
		table(f, json_object_get(reply, "audit"), k, h, 10);
	} else if (!strcmp(cmd, "product.list")) {
		json_t *ps = json_object_get(reply, "products"), *p, *rows = json_array();
		size_t i;
		json_array_foreach(ps, i, p)
		{
			json_t *part = json_object_get(p, "partition"), *rc = json_object_get(p, "records");
			char off[32], size[32];
			snprintf(off, sizeof(off), "0x%llx", (long long)json_integer_value(json_object_get(part, "offset")));
			snprintf(size, sizeof(size), "0x%llx", (long long)json_integer_value(json_object_get(part, "size")));
			json_array_append_new(rows, json_pack("{s:O s:O s:O s:s s:s s:I s:O}", "name", json_object_get(p, "name"),
							      "nvs_version", json_object_get(p, "nvs_version"), "label",
							      json_object_get(part, "label"), "offset", off, "size", size,
							      "fields", (json_int_t)json_array_size(json_object_get(p, "fields")),
							      "available", json_object_get(rc, "available")));
		}
		static const char *const k[] = {"name", "nvs_version", "label", "offset", "size", "fields", "available"};
		static const char *const h[] = {"PRODUCT", "NVS", "PARTITION", "OFFSET", "SIZE", "FIELDS", "AVAILABLE"};
		table(f, rows, k, h, 7);
		json_decref(rows);
	} else if (!strcmp(cmd, "product.show")) {
		json_t *ps = json_object_get(reply, "products"), *p;
		size_t i;
		json_array_foreach(ps, i, p)
		{
			json_t *part = json_object_get(p, "partition"), *rc = json_object_get(p, "records");
			char tmp[32];
			fprintf(f, "product:    %s\n", jstr(p, "name", tmp, sizeof(tmp)));
			fprintf(f, "nvs:        version %s\n", jstr(p, "nvs_version", tmp, sizeof(tmp)));
			fprintf(f, "partition:  %s at 0x%llx, 0x%llx bytes\n", jstr(part, "label", tmp, sizeof(tmp)),
				(long long)json_integer_value(json_object_get(part, "offset")),
				(long long)json_integer_value(json_object_get(part, "size")));
			fprintf(f, "records:   ");
			const char *st;
			json_t *n;
			json_object_foreach(rc, st, n)
				fprintf(f, " %s %lld", st, (long long)json_integer_value(n));
			fprintf(f, "\nfields:\n");
			static const char *const k[] = {"namespace", "key", "type", "encoding", "repeat", "unique"};
			static const char *const h[] = {"  NAMESPACE", "KEY", "TYPE", "ENCODING", "REPEAT", "UNIQUE"};
			json_t *fields = json_deep_copy(json_object_get(p, "fields")), *fl;
			size_t j;
			json_array_foreach(fields, j, fl)
			{
				char ns[64];
				snprintf(ns, sizeof(ns), "  %s", json_string_value(json_object_get(fl, "namespace")));
				json_object_set_new(fl, "namespace", json_string(ns));
			}
			table(f, fields, k, h, 6);
			json_decref(fields);
			cmd_hmac_render(f, p);
			json_t *fw = json_object_get(p, "firmware"), *im;
			if (json_is_object(fw)) {
				fprintf(f, "firmware:   %s\n", jstr(fw, "chip", tmp, sizeof(tmp)));
				fprintf(f, "  %-10s %-10s %-24s %s\n", "OFFSET", "SIZE", "NAME", "SHA256 / FILE");
				json_array_foreach(json_object_get(fw, "images"), j, im)
					fprintf(f, "  0x%-8llx %-10lld %-24s %s %s\n",
						(long long)json_integer_value(json_object_get(im, "offset")),
						(long long)json_integer_value(json_object_get(im, "size")),
						json_string_value(json_object_get(im, "name")) ?: "",
						json_string_value(json_object_get(im, "sha256")) ?: "",
						json_string_value(json_object_get(im, "file")) ?: "");
			}
		}
	} else if (!strcmp(cmd, "records.retire")) {
		char tmp[32];
		fprintf(f, "retired record %s: %s\n", jstr(reply, "retired", tmp, sizeof(tmp)),
			jstr(reply, "reason", tmp, sizeof(tmp)));
	} else if (!strcmp(cmd, "records.check")) {
		fprintf(f, "ok: every record is in exactly one valid state, none reached two devices\n");
	} else if (!strcmp(cmd, "batch.list") || !strcmp(cmd, "batch.show")) {
		static const char *const k[] = {"id", "product", "count", "state", "verified", "failed", "in_flight", "remaining"};
		static const char *const h[] = {"BATCH", "PRODUCT", "COUNT", "STATE", "VERIFIED", "FAILED", "IN_FLIGHT", "REMAINING"};
		table(f, json_object_get(reply, "batches"), k, h, 8);
	} else {
		char *s = json_dumps(reply, JSON_INDENT(2));
		if (s)
			fprintf(f, "%s\n", s);
		free(s);
	}
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
	/* The default is the first data/nvs partition, as the firmware's
	 * nvs_flash_init() uses the one labelled "nvs"... but a product may
	 * keep its records in another one (--partition). */
	const struct part_entry *e = o->partition ? part_find_label(t, o->partition)
						  : part_find_type(t, PART_TYPE_DATA, PART_SUBTYPE_DATA_NVS);
	if (!e) {
		if (o->partition)
			fprintf(stderr, "espfab %s: %s: no partition labelled '%s'\n", o->word, o->table, o->partition);
		else
			fprintf(stderr, "espfab %s: %s: no data/nvs partition\n", o->word, o->table);
		goto out;
	}
	if (e->type != PART_TYPE_DATA || e->subtype != PART_SUBTYPE_DATA_NVS) {
		fprintf(stderr, "espfab %s: %s: partition '%s' is not a data/nvs partition\n", o->word, o->table, e->name);
		goto out;
	}
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
		int r = parse(&o, argc, argv, 2, "table partition version unique seal-key firmware nvs-encryption hmac-key-block hmac-protect hmac-seal-key", 2);
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
