/* espfab secure-cert: esp_secure_cert partition images.
 *
 *   espfab secure-cert generate [--ca-cert F] [--device-cert F] [--private-key F]
 *                               [--no-integrity] [--pad SIZE] [--json] OUTPUT
 *   espfab secure-cert dump IMAGE [--json] [--show-key]
 *
 * generate writes what configure_esp_secure_cert.py --skip_flash writes for
 * the same files (byte for byte; see tests/data/secure_cert/README.md), or,
 * with --pad, that image followed by erased flash up to SIZE (the partition's
 * size: flashing it clears whatever an older image left behind). The output
 * is written atomically with mode 0600 when it holds a private key; a failure
 * leaves no file.
 *
 * dump walks an image or a whole partition read from a device (espfab flash
 * read), checks every magic, CRC and the integrity TLV, decodes the
 * certificates and says whether the private key belongs to the device
 * certificate. The key itself is shown only with --show-key.
 *
 * Exit status: 0 fine; 3 dumped with problems (listed); 1 unreadable or not
 * an image (one line on stderr); 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli.h"
#include "cli_args.h"
#include "espfab/fsu.h"
#include "espfab/nvs.h"
#include "espfab/seccert.h"
#include "espfab/seccert_pem.h"
#include "x509_info.h"

#define PROG "espfab secure-cert"
#define SC_EXIT_OK 0
#define SC_EXIT_ERROR 1
#define SC_EXIT_USAGE 2
#define SC_EXIT_PROBLEMS 3
#define SC_MAX_INPUT (1u << 20)           /* certificates and keys are a few KiB */
#define SC_MAX_IMAGE (16u * 1024u * 1024u) /* bigger than any partition it could be */

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab secure-cert generate [--ca-cert FILE] [--device-cert FILE] [--private-key FILE]\n"
		   "                                  [--no-integrity] [--pad SIZE] [--json] OUTPUT\n"
		   "       espfab secure-cert dump IMAGE [--json] [--show-key]\n"
		   "\n"
		   "generate: an esp_secure_cert partition image (TLV format), byte-exact to\n"
		   "  configure_esp_secure_cert.py --skip_flash for the same files (PEM or DER).\n"
		   "  --pad SIZE  fill with erased flash (0xFF) up to SIZE, e.g. 0x2000\n"
		   "  --no-integrity  leave out the SHA-256 integrity TLV the reference adds\n"
		   "dump: list and check an image or a partition read from a device.\n"
		   "  --show-key  also print the private key (it is a secret)\n"
		   "  Exit status: 0 clean, 3 problems found (listed), 1 unreadable or not an image.\n");
}

static int read_file(const char *what, const char *path, size_t max, uint8_t **out, size_t *len)
{
	int rc = fsu_read_file(path, max, out, len);

	if (!rc && !*len) {
		free(*out);
		*out = NULL;
		fprintf(stderr, PROG ": %s %s: empty file\n", what, path);
		return -1;
	}
	if (rc == -EFBIG)
		fprintf(stderr, PROG ": %s %s: larger than %zu bytes\n", what, path, max);
	else if (rc)
		fprintf(stderr, PROG ": %s %s: %s\n", what, path, strerror(-rc));
	return rc ? -1 : 0;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (!*s || *s == '-' || *end || errno || v == 0 || v > SC_MAX_IMAGE)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* ---- generate --------------------------------------------------------------- */

struct gen_input {
	const char *flag, *what;
	const char *path;
	bool key;
	uint8_t type;
	uint8_t *tlv;
	size_t tlv_len;
	bool pem;
};

static int key_matches_cert(const uint8_t *key_tlv, size_t key_len, const uint8_t *cert_tlv, size_t cert_len)
{
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int r = -1;

	if (seccert_pem_read_key(key_tlv, key_len, &k, NULL) == 0 &&
	    seccert_pem_read_cert(cert_tlv, cert_len, &x, NULL) == 0)
		r = EVP_PKEY_eq(k, X509_get0_pubkey(x)) == 1;
	EVP_PKEY_free(k);
	X509_free(x);
	return r;
}

enum sc_opt_id {
	SC_OPT_CA_CERT, SC_OPT_DEVICE_CERT, SC_OPT_PRIVATE_KEY, /* in struct gen_input's order */
	SC_OPT_NO_INTEGRITY, SC_OPT_PAD, SC_OPT_JSON, SC_OPT_HELP, SC_OPT_SHOW_KEY,
};

static const struct cli_opt sc_opts[] = {
	{"--ca-cert", 0, CLI_ARGS_ONE, SC_OPT_CA_CERT, {NULL, NULL}, 0},
	{"--device-cert", 0, CLI_ARGS_ONE, SC_OPT_DEVICE_CERT, {NULL, NULL}, 0},
	{"--private-key", 0, CLI_ARGS_ONE, SC_OPT_PRIVATE_KEY, {NULL, NULL}, 0},
	{"--no-integrity", 0, CLI_ARGS_FLAG, SC_OPT_NO_INTEGRITY, {NULL, NULL}, 0},
	{"--pad", 0, CLI_ARGS_ONE, SC_OPT_PAD, {NULL, NULL}, 0},
	/* from here on: dump's options too */
	{"--json", 0, CLI_ARGS_FLAG, SC_OPT_JSON, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, SC_OPT_HELP, {NULL, NULL}, 0},
	{"--show-key", 0, CLI_ARGS_FLAG, SC_OPT_SHOW_KEY, {NULL, NULL}, 0}, /* dump only: the last entry */
};
#define SC_NOPTS (sizeof(sc_opts) / sizeof(sc_opts[0]))

/* One command line of generate or dump. */
struct sc_args {
	const char *word; /* "OUTPUT" or "IMAGE", for messages */
	const char *sub;  /* "generate" or "dump" */
	struct gen_input *in;
	const char *file;
	bool integrity, json, show_key;
	size_t pad;
};

static int sc_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct sc_args *a = ctx;

	(void)nvals;
	switch ((enum sc_opt_id)o->id) {
	case SC_OPT_CA_CERT:
	case SC_OPT_DEVICE_CERT:
	case SC_OPT_PRIVATE_KEY:
		a->in[o->id].path = vals[0];
		break;
	case SC_OPT_NO_INTEGRITY:
		a->integrity = false;
		break;
	case SC_OPT_JSON:
		a->json = true;
		break;
	case SC_OPT_SHOW_KEY:
		a->show_key = true;
		break;
	case SC_OPT_PAD:
		if (parse_size(vals[0], &a->pad)) {
			fprintf(stderr, PROG " generate: --pad needs a size in bytes, e.g. 0x2000\n");
			return SC_EXIT_USAGE;
		}
		break;
	case SC_OPT_HELP:
		usage(stdout);
		return CLI_ARGS_DONE;
	}
	return 0;
}

static int sc_on_run(void *ctx, char **run, int n, int *used)
{
	struct sc_args *a = ctx;

	for (*used = 0; *used < n; (*used)++) {
		if (a->file) {
			if (a->in)
				fprintf(stderr, PROG " %s: more than one %s ('%s', '%s')\n", a->sub, a->word, a->file,
					run[*used]);
			else
				fprintf(stderr, PROG " %s: more than one %s\n", a->sub, a->word);
			return SC_EXIT_USAGE;
		}
		a->file = run[*used];
	}
	return 0;
}

/* 0 to go on, or the exit status (help printed: SC_EXIT_OK). */
static int sc_parse(int argc, char **argv, struct sc_args *a)
{
	char prog[40];
	/* generate: all but --show-key; dump: --json, --help, --show-key */
	const struct cli_args p = {.prog = prog, .opts = a->in ? sc_opts : sc_opts + SC_OPT_JSON,
				   .nopts = a->in ? SC_NOPTS - 1 : SC_NOPTS - SC_OPT_JSON, .flags = CLI_ARGS_DASH_VALUE,
				   .style = CLI_ARGS_ESPFAB, .ctx = a, .on_opt = sc_on_opt, .on_run = sc_on_run};
	int rc;

	snprintf(prog, sizeof(prog), PROG " %s", a->sub);
	rc = cli_args_parse(&p, argc, argv, 1);
	if (rc)
		return rc == CLI_ARGS_DONE ? SC_EXIT_OK : SC_EXIT_USAGE;
	if (!a->file) {
		fprintf(stderr, PROG " %s: %s is missing\n", a->sub, a->word);
		return SC_EXIT_USAGE;
	}
	return 0;
}

/* What generate wrote: one line, or with --json the layout of the TLVs. */
static void sc_report(const char *output, const struct seccert_entry *e, const bool *e_pem, size_t n, bool integrity,
		      bool json, size_t pad, size_t len)
{
if (json) {
	json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:[]}", "output", output, "size", (json_int_t)(pad ? pad : len),
			      "used", (json_int_t)len, "integrity", integrity, "tlvs");
	json_t *arr = json_object_get(o, "tlvs");
	size_t off = 0;
	for (size_t k = 0; k < n; k++) {
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s}", "type", seccert_type_name(e[k].type),
						     "offset", (json_int_t)off, "length", (json_int_t)e[k].len,
						     "encoding", e_pem[k] ? "pem" : "der"));
		off += seccert_tlv_size(e[k].len);
	}
	if (integrity)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "type", "integrity", "offset",
						     (json_int_t)off, "length", (json_int_t)SECCERT_SHA256_LEN));
	json_dumpf(o, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(o);
} else {
	printf("%s: %zu bytes (%zu TLVs%s)%s\n", output, pad ? pad : len, n + (integrity ? 1 : 0),
	       integrity ? " with integrity" : "", pad ? ", padded with 0xFF" : "");
}
}

static int cmd_generate(int argc, char **argv)
{
	/* The reference's order: CA, device certificate, private key. */
	struct gen_input in[3] = {
	    {"--ca-cert", "CA certificate", NULL, false, SECCERT_CA_CERT, NULL, 0, false},
	    {"--device-cert", "device certificate", NULL, false, SECCERT_DEV_CERT, NULL, 0, false},
	    {"--private-key", "private key", NULL, true, SECCERT_PRIV_KEY, NULL, 0, false},
	};
	struct sc_args args = {.word = "OUTPUT", .sub = "generate", .in = in, .integrity = true};
	struct seccert_entry e[3];
	bool e_pem[3];
	struct seccert_err err = {0};
	struct nvs_err werr = {0};
	const char *output;
	bool integrity, json;
	size_t pad, n = 0, len = 0, cap = 0;
	uint8_t *img = NULL;
	int rc = SC_EXIT_ERROR;

	rc = sc_parse(argc, argv, &args);
	if (rc)
		return rc;
	rc = SC_EXIT_ERROR;
	output = args.file;
	integrity = args.integrity;
	json = args.json;
	pad = args.pad;
	if (!in[0].path && !in[1].path && !in[2].path) {
		fprintf(stderr, PROG " generate: nothing to write: give --device-cert, --private-key or --ca-cert\n");
		return SC_EXIT_USAGE;
	}

	for (size_t k = 0; k < 3; k++) {
		uint8_t *raw = NULL;
		size_t raw_len = 0;
		int r;
		if (!in[k].path)
			continue;
		if (read_file(in[k].what, in[k].path, SC_MAX_INPUT, &raw, &raw_len))
			goto out;
		if (in[k].key)
			r = seccert_pem_key(raw, raw_len, in[k].path, &in[k].tlv, &in[k].tlv_len, &in[k].pem, &err);
		else
			r = seccert_pem_cert(raw, raw_len, in[k].path, &in[k].tlv, &in[k].tlv_len, &in[k].pem, &err);
		OPENSSL_cleanse(raw, raw_len);
		free(raw);
		if (r) {
			fprintf(stderr, PROG ": %s\n", err.msg);
			goto out;
		}
		e_pem[n] = in[k].pem;
		e[n++] = (struct seccert_entry){.type = in[k].type, .data = in[k].tlv, .len = in[k].tlv_len};
	}
	if (in[1].tlv && in[2].tlv && key_matches_cert(in[2].tlv, in[2].tlv_len, in[1].tlv, in[1].tlv_len) == 0)
		fprintf(stderr, PROG ": warning: the private key %s does not belong to the device certificate %s\n",
			in[2].path, in[1].path);

	cap = pad ? pad : SECCERT_MAX_IMAGE;
	if (cap > SECCERT_MAX_IMAGE)
		cap = SECCERT_MAX_IMAGE; /* the TLVs themselves stay within what the reference builds */
	img = malloc(pad > cap ? pad : cap);
	if (!img) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (seccert_build(e, n, integrity, img, cap, &len, &err)) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		goto out;
	}
	if (pad) {
		memset(img + len, 0xFF, pad - len);
	}
	if (nvs_file_write_atomic(output, img, pad ? pad : len, in[2].tlv ? 0600 : 0644, &werr) < 0) {
		fprintf(stderr, PROG ": %s\n", werr.msg);
		goto out;
	}
	sc_report(output, e, e_pem, n, integrity, json, pad, len);
	rc = SC_EXIT_OK;
out:
	for (size_t k = 0; k < 3; k++)
		seccert_pem_free_secret(in[k].tlv, in[k].tlv_len);
	if (img) {
		OPENSSL_cleanse(img, pad > cap ? pad : cap);
		free(img);
	}
	return rc;
}

/* ---- dump ------------------------------------------------------------------- */

static json_t *problem_json(const char *kind, uint32_t offset, const char *msg)
{
	return json_pack("{s:s, s:I, s:s}", "kind", kind, "offset", (json_int_t)offset, "message", msg);
}

static const char *problem_kind(enum seccert_problem_kind k)
{
	switch (k) {
	case SECCERT_P_CRC:
		return "crc";
	case SECCERT_P_RESERVED:
		return "reserved";
	case SECCERT_P_INTEGRITY:
		return "integrity";
	case SECCERT_P_DUPLICATE:
		return "duplicate";
	}
	return "?";
}

/* One JSON object per TLV with what can be said of its contents; semantic
 * findings (undecodable certificate, key not matching) go to problems. */
static json_t *describe(const struct seccert_image *im, const struct seccert_tlv *t, bool show_key,
			json_t *problems)
{
	const char *name = seccert_type_name(t->type);
	json_t *o = json_pack("{s:I, s:i, s:s?, s:i, s:i, s:i, s:b}", "offset", (json_int_t)t->offset, "type",
			      t->type, "name", name, "subtype", t->subtype, "flags", t->flags, "length", t->length,
			      "crc_ok", t->crc_ok);
	char msg[160];

	if (t->type == SECCERT_CA_CERT || t->type == SECCERT_DEV_CERT) {
		X509 *x = NULL;
		json_object_set_new(o, "encoding", json_string(t->length && t->data[0] == '-' ? "pem" : "der"));
		if (seccert_pem_read_cert(t->data, t->length, &x, NULL) == 0) {
			uint8_t *pem = NULL;
			size_t pem_len = 0;
			json_object_set_new(o, "certificate", x509_info_cert(x));
			/* Certificates are public: JSON carries them for the next tool. */
			if (seccert_pem_from_x509(x, &pem, &pem_len, NULL) == 0)
				json_object_set_new(o, "pem", json_stringn((const char *)pem, pem_len - 1));
			free(pem);
			if (t->type == SECCERT_DEV_CERT) {
				const struct seccert_tlv *ca = seccert_find(im, SECCERT_CA_CERT, t->subtype);
				X509 *cx = NULL;
				if (ca && seccert_pem_read_cert(ca->data, ca->length, &cx, NULL) == 0)
					json_object_set_new(o, "signed_by_ca_tlv",
							    json_boolean(X509_verify(x, X509_get0_pubkey(cx)) == 1));
				X509_free(cx);
			}
		} else {
			snprintf(msg, sizeof(msg), "TLV at 0x%x (%s/%u): not a PEM or DER X.509 certificate",
				 (unsigned)t->offset, name, (unsigned)t->subtype);
			json_array_append_new(problems, problem_json("certificate", t->offset, msg));
		}
		X509_free(x);
	} else if (t->type == SECCERT_PRIV_KEY && t->flags == 0) {
		EVP_PKEY *k = NULL;
		json_object_set_new(o, "encoding", json_string(t->length && t->data[0] == '-' ? "pem" : "der"));
		if (seccert_pem_read_key(t->data, t->length, &k, NULL) == 0) {
			const struct seccert_tlv *dev = seccert_find(im, SECCERT_DEV_CERT, t->subtype);
			char desc[80];
			x509_info_key(k, desc, sizeof(desc));
			json_object_set_new(o, "key", json_string(desc));
			if (dev) {
				X509 *x = NULL;
				if (seccert_pem_read_cert(dev->data, dev->length, &x, NULL) == 0) {
					bool eq = EVP_PKEY_eq(k, X509_get0_pubkey(x)) == 1;
					json_object_set_new(o, "matches_dev_cert", json_boolean(eq));
					if (!eq) {
						snprintf(msg, sizeof(msg),
							 "TLV at 0x%x (priv_key/%u): the key does not belong to the device "
							 "certificate",
							 (unsigned)t->offset, (unsigned)t->subtype);
						json_array_append_new(problems, problem_json("key", t->offset, msg));
					}
				}
				X509_free(x);
			}
			if (show_key && t->data[0] == '-')
				json_object_set_new(o, "pem", json_stringn((const char *)t->data, strnlen((const char *)t->data, t->length)));
		} else {
			snprintf(msg, sizeof(msg), "TLV at 0x%x (priv_key/%u): not a PEM or DER private key",
				 (unsigned)t->offset, (unsigned)t->subtype);
			json_array_append_new(problems, problem_json("key", t->offset, msg));
		}
		EVP_PKEY_free(k);
	} else if (t->type == SECCERT_PRIV_KEY) {
		json_object_set_new(o, "key",
				    json_string(t->flags & SECCERT_FLAG_HMAC_ENCRYPTED     ? "HMAC-encrypted"
						: t->flags & SECCERT_FLAG_HMAC_DERIVED_ECDSA ? "HMAC-derived ECDSA"
						: t->flags & SECCERT_FLAG_ECDSA_PERIPHERAL   ? "ECDSA peripheral (eFuse)"
											     : "unknown form"));
	}
	return o;
}

static void print_text(const char *path, const json_t *doc)
{
	size_t i;
	const json_t *t, *p;
	const json_t *tlvs = json_object_get(doc, "tlvs"), *problems = json_object_get(doc, "problems");

	printf("%s: %lld bytes, TLV chain %lld bytes, %zu TLVs\n", path,
	       (long long)json_integer_value(json_object_get(doc, "size")),
	       (long long)json_integer_value(json_object_get(doc, "used")), json_array_size(tlvs));
	json_array_foreach(tlvs, i, t)
	{
		const char *name = json_string_value(json_object_get(t, "name"));
		const json_t *cert = json_object_get(t, "certificate"), *v;
		char label[48];
		snprintf(label, sizeof(label), "%s/%lld", name ? name : "custom",
			 (long long)json_integer_value(json_object_get(t, "subtype")));
		printf("0x%04llx  %-20s %5lld bytes  flags 0x%02llx  crc %s", (long long)json_integer_value(json_object_get(t, "offset")),
		       label, (long long)json_integer_value(json_object_get(t, "length")),
		       (long long)json_integer_value(json_object_get(t, "flags")),
		       json_is_true(json_object_get(t, "crc_ok")) ? "ok" : "BAD");
		if ((v = json_object_get(t, "encoding")))
			printf("  %s", json_string_value(v));
		putchar('\n');
		if (cert)
			x509_info_print(stdout, cert, "          ");
		if ((v = json_object_get(t, "signed_by_ca_tlv")))
			printf("          %-10s %s\n", "signed by", json_is_true(v) ? "the CA certificate TLV" : "another CA");
		if ((v = json_object_get(t, "key")) && !cert)
			printf("          %-10s %s\n", "key", json_string_value(v));
		if ((v = json_object_get(t, "matches_dev_cert")))
			printf("          %-10s %s\n", "matches", json_is_true(v) ? "the device certificate" : "NOT the device certificate");
		if ((v = json_object_get(t, "pem")))
			printf("%s", json_string_value(v));
	}
	if (!json_array_size(problems)) {
		printf("problems: none\n");
		return;
	}
	printf("problems: %zu\n", json_array_size(problems));
	json_array_foreach(problems, i, p) printf("  %s\n", json_string_value(json_object_get(p, "message")));
}

static int cmd_dump(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false, show_key = false;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct seccert_image *im = NULL;
	struct seccert_err err = {0};
	json_t *doc = NULL, *tlvs, *problems;
	int rc = SC_EXIT_ERROR;

	struct sc_args args = {.word = "IMAGE", .sub = "dump"};

	if ((rc = sc_parse(argc, argv, &args)) != 0)
		return rc;
	rc = SC_EXIT_ERROR;
	path = args.file;
	json = args.json;
	show_key = args.show_key;
	if (read_file("image", path, SC_MAX_IMAGE, &buf, &len))
		goto out;
	if (seccert_parse(buf, len, &im, &err)) {
		fprintf(stderr, PROG ": %s: %s\n", path, err.msg);
		goto out;
	}
	doc = json_pack("{s:I, s:I, s:[], s:[]}", "size", (json_int_t)im->len, "used", (json_int_t)im->used, "tlvs",
			"problems");
	tlvs = json_object_get(doc, "tlvs");
	problems = json_object_get(doc, "problems");
	for (size_t i = 0; i < im->problem_count; i++)
		json_array_append_new(problems, problem_json(problem_kind(im->problems[i].kind), im->problems[i].offset,
							     im->problems[i].msg));
	for (size_t i = 0; i < im->tlv_count; i++)
		json_array_append_new(tlvs, describe(im, &im->tlvs[i], show_key, problems));
	if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		print_text(path, doc);
	}
	rc = json_array_size(problems) ? SC_EXIT_PROBLEMS : SC_EXIT_OK;
out:
	json_decref(doc); /* a --show-key PEM in it is freed with it; it was asked for */
	seccert_image_free(im);
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}

int cmd_secure_cert(int argc, char **argv, const struct cli_globals *g)
{
	(void)g;
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SC_EXIT_USAGE : SC_EXIT_OK;
	}
	if (!strcmp(argv[1], "generate"))
		return cmd_generate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s' (generate or dump)\n", argv[1]);
	return SC_EXIT_USAGE;
}
