/* espfab certs: per-device identities in the store (issue 13).
 *
 *   espfab [--db DB] certs profile PRODUCT PROFILE.json [--seal-key FILE]
 *   espfab [--db DB] certs list [--product P] [--state S] [--json]
 *   espfab [--db DB] certs show MAC [--product P] [--json]
 *   espfab [--db DB] certs export [--product P] [--state S] [--format pem|json] [-o FILE]
 *
 * profile attaches an identity profile to a product once (it never
 * changes); the CA files it names are loaded and checked now, so a typo
 * shows here and not on the first device. list/show/export read the
 * certificates the station issued; export writes what a cloud's bulk
 * registration takes: a PEM bundle or JSON (mac, serial, sha256, pem) of
 * the delivered certificates (--state all|issued|delivered|superseded).
 * Private keys are never shown. Exit: 0 ok, 1 error (one line), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cli.h"
#include "cli_args.h"
#include "espfab/fsu.h"
#include "espfab/nvs.h"
#include "espfab/seccert_issue.h"
#include "espfab/store.h"
#include "espfab/store_cert.h"
#include "x509_info.h"

#define PROG "espfab certs"
#define CERTS_DEFAULT_DB "/var/lib/espfab/espfab.db"
#define CERTS_MAX_FILE (1u << 20)

struct certs_opts {
	const char *product, *state, *format, *output, *seal_key;
	const char *pos[3];
	int npos;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab [--db DB] certs profile PRODUCT PROFILE.json [--seal-key FILE]\n"
		   "       espfab [--db DB] certs list [--product P] [--state S] [--json]\n"
		   "       espfab [--db DB] certs show MAC [--product P] [--json]\n"
		   "       espfab [--db DB] certs export [--product P] [--state S] [--format pem|json] [-o FILE]\n"
		   "  S: issued, delivered, superseded or all (list: live ones; export: delivered)\n");
}

static int read_file(const char *path, char **out, size_t *len)
{
	uint8_t *buf;
	int rc = fsu_read_file(path, CERTS_MAX_FILE, &buf, len);

	*out = NULL;
	if (!rc && !*len) {
		free(buf);
		rc = -ENODATA;
	}
	if (rc) {
		fprintf(stderr, PROG ": %s: %s\n", path,
			rc == -EFBIG ? "too large" : rc == -ENODATA ? "empty or unreadable" : strerror(-rc));
		return -1;
	}
	*out = (char *)buf;
	return 0;
}

enum certs_opt_id { CERTS_OPT_JSON, CERTS_OPT_HELP, CERTS_OPT_PRODUCT, CERTS_OPT_STATE, CERTS_OPT_FORMAT,
		   CERTS_OPT_OUTPUT, CERTS_OPT_SEAL_KEY };

static const struct cli_opt certs_opts[] = {
	{"--json", 0, CLI_ARGS_FLAG, CERTS_OPT_JSON, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, CERTS_OPT_HELP, {NULL, NULL}, 0},
	{"--product", 0, CLI_ARGS_ONE, CERTS_OPT_PRODUCT, {NULL, NULL}, 0},
	{"--state", 0, CLI_ARGS_ONE, CERTS_OPT_STATE, {NULL, NULL}, 0},
	{"--format", 0, CLI_ARGS_ONE, CERTS_OPT_FORMAT, {NULL, NULL}, 0},
	{"--output", 'o', CLI_ARGS_ONE, CERTS_OPT_OUTPUT, {NULL, NULL}, 0},
	{"--seal-key", 0, CLI_ARGS_ONE, CERTS_OPT_SEAL_KEY, {NULL, NULL}, 0},
};

static int certs_on_opt(void *ctx, const struct cli_opt *opt, char **vals, int nvals)
{
	struct certs_opts *o = ctx;
	const char *v = nvals ? vals[0] : NULL;

	switch ((enum certs_opt_id)opt->id) {
	case CERTS_OPT_JSON:
		o->json = true;
		break;
	case CERTS_OPT_HELP:
		usage(stdout);
		return CLI_ARGS_DONE;
	case CERTS_OPT_PRODUCT:
		o->product = v;
		break;
	case CERTS_OPT_STATE:
		o->state = v;
		break;
	case CERTS_OPT_FORMAT:
		o->format = v;
		break;
	case CERTS_OPT_OUTPUT:
		o->output = v;
		break;
	case CERTS_OPT_SEAL_KEY:
		o->seal_key = v;
		break;
	}
	return 0;
}

static int certs_on_run(void *ctx, char **run, int n, int *used)
{
	struct certs_opts *o = ctx;

	for (*used = 0; *used < n; (*used)++) {
		if (o->npos >= 3) {
			fprintf(stderr, PROG ": too many arguments\n");
			return 2;
		}
		o->pos[o->npos++] = run[*used];
	}
	return 0;
}

/* 0, 1 after --help, -1 after a one-line error. */
static int parse(int argc, char **argv, struct certs_opts *o)
{
	const struct cli_args p = {.prog = PROG, .opts = certs_opts, .nopts = sizeof(certs_opts) / sizeof(certs_opts[0]),
				   .flags = CLI_ARGS_DASH_VALUE, .style = CLI_ARGS_ESPFAB, .ctx = o,
				   .on_opt = certs_on_opt, .on_run = certs_on_run};
	int rc;

	memset(o, 0, sizeof(*o));
	rc = cli_args_parse(&p, argc, argv, 2);
	if (rc)
		return rc == CLI_ARGS_DONE ? 1 : -1;
	if (o->state && strcmp(o->state, "issued") && strcmp(o->state, "delivered") && strcmp(o->state, "superseded") &&
	    strcmp(o->state, "all")) {
		fprintf(stderr, PROG ": --state is issued, delivered, superseded or all, not '%s'\n", o->state);
		return -1;
	}
	if (o->format && strcmp(o->format, "pem") && strcmp(o->format, "json")) {
		fprintf(stderr, PROG ": --format is pem or json, not '%s'\n", o->format);
		return -1;
	}
	return 0;
}

static int open_db(const struct cli_globals *g, const struct certs_opts *o, unsigned flags, struct store **s)
{
	uint8_t key[STORE_SEAL_KEY_LEN];
	struct store_err err = {0};
	int rc = -1;

	if (o->seal_key && store_seal_key_read(o->seal_key, key, &err)) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	if (store_open(s, g->db_path ? g->db_path : CERTS_DEFAULT_DB, flags, o->seal_key ? key : NULL, &err)) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static int cmd_profile(const struct cli_globals *g, const struct certs_opts *o)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	struct seccert_ca *ca = NULL;
	struct store *s = NULL;
	struct store_err serr = {0};
	struct store_identity *id = NULL;
	struct store_product *prod = NULL;
	char *text = NULL, *canon = NULL, *cert = NULL, *key = NULL;
	size_t len = 0, clen = 0, klen = 0;
	int rc = 1;

	if (o->npos != 2) {
		fprintf(stderr, PROG " profile: PRODUCT and PROFILE.json are needed\n");
		return 2;
	}
	if (read_file(o->pos[1], &text, &len))
		goto out;
	if (seccert_profile_parse(text, len, &p, &err)) {
		fprintf(stderr, PROG ": %s: %s\n", o->pos[1], err.msg);
		goto out;
	}
	/* The daemon reads the CA at the first device; check it now. A
	 * systemd credential is only there for the service: checked there. */
	if (strncmp(p.ca_cert, "credential:", 11) && strncmp(p.ca_key, "credential:", 11)) {
		if (read_file(p.ca_cert, &cert, &clen) || read_file(p.ca_key, &key, &klen))
			goto out;
		if (seccert_ca_load((const uint8_t *)cert, clen, (const uint8_t *)key, klen, &ca, &err)) {
			fprintf(stderr, PROG ": %s: %s\n", o->pos[1], err.msg);
			goto out;
		}
	}
	if (seccert_profile_json(&p, &canon, &err)) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	if (open_db(g, o, 0, &s))
		goto out;
	if (store_identity_set(s, o->pos[0], canon, p.partition, &serr) ||
	    store_product_get(s, o->pos[0], &prod, &serr) || store_identity_get(s, prod->id, &id, &serr)) {
		fprintf(stderr, PROG ": %s\n", serr.msg);
		goto out;
	}
	printf("product %s: identity profile set: %s key, %s at 0x%x+0x%x%s%s\n", o->pos[0],
	       p.key_type == SECCERT_KEY_RSA_2048 ? "RSA-2048" : "ECDSA P-256", p.partition, (unsigned)id->part_offset,
	       (unsigned)id->part_size, ca ? ", CA sha256 " : "", ca ? ca->sha256 : "");
	rc = 0;
out:
	store_identity_free(id);
	store_product_free(prod);
	store_close(s);
	seccert_ca_free(ca);
	free(text);
	free(canon);
	free(cert);
	if (key) {
		OPENSSL_cleanse(key, klen);
		free(key);
	}
	return rc;
}

static int query(const struct cli_globals *g, const struct certs_opts *o, const char *mac, const char *state,
		 json_t **out)
{
	struct store *s = NULL;
	struct store_err err = {0};
	struct store_cert_filter f = {.product = o->product, .mac = mac, .state = state};
	int rc;

	if (open_db(g, o, STORE_OPEN_READONLY, &s))
		return 1;
	rc = store_cert_query(s, &f, out, &err);
	if (rc)
		fprintf(stderr, PROG ": %s\n", err.msg);
	store_close(s);
	return rc ? 1 : 0;
}

static const char *str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "-";
}

static int cmd_list(const struct cli_globals *g, const struct certs_opts *o)
{
	json_t *j = NULL, *c;
	size_t i;

	if (o->npos) {
		fprintf(stderr, PROG " list: no arguments (use --product, --state)\n");
		return 2;
	}
	if (query(g, o, NULL, o->state, &j))
		return 1;
	if (o->json) {
		json_array_foreach(json_object_get(j, "certificates"), i, c) json_object_del(c, "pem");
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		printf("%-10s %-17s %-10s %-32s %-20s %s\n", "PRODUCT", "MAC", "STATE", "SERIAL", "NOT AFTER", "SUBJECT");
		json_array_foreach(json_object_get(j, "certificates"), i, c)
			printf("%-10s %-17s %-10s %-32s %-20s %s\n", str(c, "product"), str(c, "mac"), str(c, "state"),
			       str(c, "serial"), str(c, "not_after"), str(c, "subject"));
	}
	json_decref(j);
	return 0;
}

static int cmd_show(const struct cli_globals *g, const struct certs_opts *o)
{
	json_t *j = NULL, *c;
	size_t i;
	int rc = 1;

	if (o->npos != 1) {
		fprintf(stderr, PROG " show: MAC is needed\n");
		return 2;
	}
	if (query(g, o, o->pos[0], o->state ? o->state : "all", &j))
		return 1;
	if (!json_array_size(json_object_get(j, "certificates"))) {
		fprintf(stderr, PROG ": no certificate for %s%s%s\n", o->pos[0], o->product ? " in product " : "",
			o->product ? o->product : "");
		goto out;
	}
	if (o->json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		json_array_foreach(json_object_get(j, "certificates"), i, c)
		{
			static const char *const keys[] = {"product", "mac",       "record_id", "state",    "serial",
							   "sha256",  "ca_sha256", "subject",   "not_after", "station",
							   "issued_at", "delivered_at"};
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
				printf("%-13s %s\n", keys[k], str(c, keys[k]));
			printf("%-13s %s\n", "key_kept", json_is_true(json_object_get(c, "key_kept")) ? "yes" : "no");
			printf("%s", str(c, "pem"));
		}
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static int cmd_export(const struct cli_globals *g, const struct certs_opts *o)
{
	json_t *j = NULL, *c, *arr = NULL;
	char *text = NULL;
	size_t i, n = 0, cap = 0;
	struct nvs_err werr = {0};
	bool as_json = o->format && !strcmp(o->format, "json");
	int rc = 1;

	if (o->npos) {
		fprintf(stderr, PROG " export: no arguments (use --product, --state, --format, -o)\n");
		return 2;
	}
	if (query(g, o, NULL, o->state ? o->state : "delivered", &j))
		return 1;
	if (as_json) {
		arr = json_array();
		json_array_foreach(json_object_get(j, "certificates"), i, c)
			json_array_append_new(arr, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "product",
							     json_object_get(c, "product"), "mac", json_object_get(c, "mac"),
							     "serial", json_object_get(c, "serial"), "sha256",
							     json_object_get(c, "sha256"), "subject",
							     json_object_get(c, "subject"), "pem", json_object_get(c, "pem")));
		{
			json_t *doc = json_pack("{s:o}", "certificates", arr);
			arr = NULL; /* doc took it */
			text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
			json_decref(doc);
		}
		n = text ? strlen(text) : 0;
	} else {
		json_array_foreach(json_object_get(j, "certificates"), i, c) cap += strlen(str(c, "pem")) + 1;
		text = calloc(1, cap + 1);
		json_array_foreach(json_object_get(j, "certificates"), i, c) if (text)
		{
			size_t k = strlen(str(c, "pem"));
			memcpy(text + n, str(c, "pem"), k);
			n += k;
		}
	}
	if (!text) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (o->output && strcmp(o->output, "-")) {
		if (nvs_file_write_atomic(o->output, (const uint8_t *)text, n, 0644, &werr) < 0) {
			fprintf(stderr, PROG ": %s\n", werr.msg);
			goto out;
		}
		fprintf(stderr, PROG ": %zu certificate(s) to %s\n", json_array_size(json_object_get(j, "certificates")),
			o->output);
	} else {
		fwrite(text, 1, n, stdout);
		if (as_json)
			fputc('\n', stdout);
	}
	rc = 0;
out:
	free(text);
	json_decref(arr);
	json_decref(j);
	return rc;
}

int cmd_certs(int argc, char **argv, const struct cli_globals *g)
{
	struct certs_opts o;
	int r;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	r = parse(argc, argv, &o);
	if (r)
		return r > 0 ? 0 : 2;
	if (!strcmp(argv[1], "profile"))
		return cmd_profile(g, &o);
	if (!strcmp(argv[1], "list"))
		return cmd_list(g, &o);
	if (!strcmp(argv[1], "show"))
		return cmd_show(g, &o);
	if (!strcmp(argv[1], "export"))
		return cmd_export(g, &o);
	fprintf(stderr, PROG ": unknown command '%s' (profile, list, show or export)\n", argv[1]);
	return 2;
}
