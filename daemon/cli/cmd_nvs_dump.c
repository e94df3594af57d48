/* espfab nvs dump IMAGE [--json] [--keyfile KEYS]
 *
 * Decodes an NVS partition image with the nvsgen decoder and prints it: page
 * states and sequence numbers, every entry, the namespaces, every value, and
 * every CRC mismatch or inconsistency found. Values are printed because the
 * user asked for the dump; nothing else in espfab shows them.
 *
 * Exit status: 0 the image is clean; 3 it was decoded but has problems (they
 * are listed); 1 it could not be read or is malformed (one line on stderr);
 * 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "cli_args.h"
#include "espfab/fsu.h"
#include "espfab/nvs_decode.h"

#define DUMP_EXIT_OK 0
#define DUMP_EXIT_ERROR 1
#define DUMP_EXIT_USAGE 2
#define DUMP_EXIT_PROBLEMS 3

/* Bigger than any NVS partition a flash chip can hold. */
#define DUMP_MAX_IMAGE (256u * 1024u * 1024u)

static void dump_usage(FILE *f)
{
	fprintf(f, "usage: espfab nvs dump IMAGE [--json] [--keyfile KEYS]\n"
		   "  Decode an NVS partition image: pages, entries, namespaces, values and CRC checks.\n"
		   "  --keyfile KEYS  decrypt with the first 64 bytes of KEYS (an nvs_keys.bin)\n"
		   "  --json          print JSON instead of the listing\n"
		   "  Exit status: 0 clean, 3 decoded with problems (listed), 1 unreadable or malformed.\n");
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t need;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			need = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + need >= n)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* A string value's text: the reference stores a NUL terminator (counted in
 * the size), except for its upper-case STRING quirk; show it without. */
static size_t text_len(const struct nvs_decode_value *v)
{
	return v->len && v->data[v->len - 1] == '\0' ? v->len - 1 : v->len;
}

static void print_quoted(FILE *f, const uint8_t *p, size_t n)
{
	bool utf8 = utf8_valid(p, n);
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Keys and namespace names as they are when printable, escaped when not. */
static void print_quoted_bare(FILE *f, const uint8_t *p, size_t n)
{
	bool utf8 = utf8_valid(p, n);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7F || (p[i] >= 0x80 && !utf8))
			fprintf(f, "\\x%02x", p[i]);
		else
			fputc(p[i], f);
	}
}

static void print_hex_block(FILE *f, const uint8_t *p, size_t n, const char *indent)
{
	for (size_t i = 0; i < n; i += 32) {
		fprintf(f, "%s%04zx:", indent, i);
		for (size_t k = i; k < n && k < i + 32; k++)
			fprintf(f, "%s%02x", (k - i) % 4 ? "" : " ", p[k]);
		fputc('\n', f);
	}
}

static void print_value(FILE *f, const struct nvs_decode_value *v)
{
	const char *tn = v->type == NVS_DECODE_BLOB_IDX ? "blob" : v->type == NVS_DECODE_BLOB ? "blob(v1)"
											    : nvs_decode_type_name(v->type);
	fprintf(f, "  %s/", v->ns ? v->ns : "?");
	print_quoted_bare(f, (const uint8_t *)v->key, strlen(v->key));
	fprintf(f, "  %s  ", tn ? tn : "?");
	if (nvs_decode_type_is_int(v->type)) {
		if (v->type & 0x10)
			fprintf(f, "%" PRId64, v->i);
		else
			fprintf(f, "%" PRIu64, v->u);
	} else if (v->type == NVS_DECODE_STR) {
		print_quoted(f, v->data, text_len(v));
		if (text_len(v) == v->len)
			fputs(" (no NUL terminator)", f);
	} else {
		fprintf(f, "%zu bytes", v->len);
		if (v->type == NVS_DECODE_BLOB_IDX)
			fprintf(f, " in %u chunk%s", v->chunks, v->chunks == 1 ? "" : "s");
	}
	if (!v->ok)
		fputs("  [CHECK FAILED]", f);
	if (v->shadowed)
		fputs("  [duplicate: the device reads another]", f);
	fputc('\n', f);
	if (v->type == NVS_DECODE_BLOB || v->type == NVS_DECODE_BLOB_IDX)
		print_hex_block(f, v->data, v->len, "      ");
}

static void print_listing(FILE *f, const char *path, const struct nvs_decode *d)
{
	size_t k = 0;
	fprintf(f, "image %s: %zu bytes, %zu pages, format %s, %s\n", path, d->size, d->page_count,
		d->version == 2 ? "V2 (multipage blobs)" : d->version == 1 ? "V1" : "unknown (no written page)",
		d->encrypted ? "encrypted (decrypted with the key file)" : "plain");
	for (size_t p = 0; p < d->page_count; p++) {
		const struct nvs_decode_page *pg = &d->pages[p];
		if (pg->state == NVS_DECODE_PAGE_EMPTY) {
			size_t q = p;
			while (q + 1 < d->page_count && d->pages[q + 1].state == NVS_DECODE_PAGE_EMPTY)
				q++;
			if (q == p)
				fprintf(f, "page %zu: EMPTY\n", p);
			else
				fprintf(f, "pages %zu-%zu: EMPTY\n", p, q);
			p = q;
			continue;
		}
		fprintf(f, "page %zu: %s (0x%08x) seq %u version %s header crc %s; entries: %u written, %u erased, %u empty\n",
			p, nvs_decode_page_state_name(pg->state), pg->state_raw, pg->seq,
			pg->version_raw == 0xFE ? "2" : pg->version_raw == 0xFF ? "1" : "?",
			pg->header_crc_ok ? "ok" : "MISMATCH", pg->written, pg->erased, pg->empty);
		for (k = 0; k < d->item_count; k++) {
			const struct nvs_decode_item *it = &d->items[k];
			const char *tn = nvs_decode_type_name(it->type);
			if (it->page != p)
				continue;
			fprintf(f, "  entry %3u @0x%06x ns %3u %-10s span %3u", it->slot, it->offset, it->ns_index,
				tn ? tn : "?", it->span);
			if (it->chunk_index != 0xFF)
				fprintf(f, " chunk %3u", it->chunk_index);
			fputs(" key ", f);
			print_quoted(f, (const uint8_t *)it->key, strlen(it->key));
			if (!it->crc_ok) {
				fprintf(f, "  entry crc MISMATCH (0x%08x, computed 0x%08x)\n", it->crc, it->crc_calc);
				continue;
			}
			if (it->ns_index == 0 && it->type == NVS_DECODE_U8)
				fprintf(f, "  namespace index %u", (unsigned)it->u);
			else if (nvs_decode_type_is_int(it->type) && (it->type & 0x10))
				fprintf(f, "  = %" PRId64, it->i);
			else if (nvs_decode_type_is_int(it->type))
				fprintf(f, "  = %" PRIu64, it->u);
			if (it->type == NVS_DECODE_STR || it->type == NVS_DECODE_BLOB || it->type == NVS_DECODE_BLOB_DATA)
				fprintf(f, "  %zu bytes, data crc %s", it->len, it->data_crc_ok ? "ok" : "MISMATCH");
			if (it->type == NVS_DECODE_BLOB_IDX)
				fprintf(f, "  %u bytes in %u chunks from %u", it->blob_size, it->chunk_count,
					it->chunk_start);
			fputc('\n', f);
		}
	}
	fprintf(f, "namespaces:%s\n", d->namespace_count ? "" : " none");
	for (k = 0; k < d->namespace_count; k++)
		fprintf(f, "  %3u %s\n", d->namespaces[k].index, d->namespaces[k].name);
	fprintf(f, "values:%s\n", d->value_count ? "" : " none");
	for (k = 0; k < d->value_count; k++)
		print_value(f, &d->values[k]);
	fprintf(f, "problems:%s\n", d->problem_count ? "" : " none");
	for (k = 0; k < d->problem_count; k++)
		fprintf(f, "  %s: %s\n", nvs_decode_problem_name(d->problems[k].kind), d->problems[k].msg);
}

/* A JSON string for text read from the image (names, messages quoting
 * keys): as is when it is UTF-8, else with each stray byte as U+FFFD, so
 * the field is never silently dropped. */
static json_t *json_text(const char *s)
{
	size_t n = strlen(s);
	json_t *j;
	char *copy;
	size_t o = 0;
	if (utf8_valid((const uint8_t *)s, n))
		return json_stringn(s, n);
	copy = malloc(3 * n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x80) {
			copy[o++] = s[i];
		} else {
			memcpy(copy + o, "\xEF\xBF\xBD", 3);
			o += 3;
		}
	}
	j = json_stringn(copy, o);
	free(copy);
	return j;
}

static char *hex_string(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* Adds "hex": ... (and a "text" for valid UTF-8 strings) to o. */
static int json_bytes(json_t *o, const char *field, const uint8_t *p, size_t n)
{
	char *hex = hex_string(p, n);
	int rc;
	if (!hex)
		return -1;
	rc = json_object_set_new(o, field, json_string(hex));
	OPENSSL_cleanse(hex, 2 * n);
	free(hex);
	return rc;
}

/* JSON integers are int64 in jansson: an u64 above that is a string. */
static json_t *json_int(uint8_t type, uint64_t u, int64_t i)
{
	char buf[32];
	if (type & 0x10)
		return json_integer((json_int_t)i);
	if (u <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)u);
	snprintf(buf, sizeof(buf), "%" PRIu64, u);
	return json_string(buf);
}

static json_t *json_value(const struct nvs_decode_value *v)
{
	json_t *o = json_object();
	json_t *key = json_stringn(v->key, strlen(v->key));
	const char *tn = v->type == NVS_DECODE_BLOB_IDX ? "blob" : nvs_decode_type_name(v->type);
	if (!o) {
		json_decref(key);
		return NULL;
	}
	json_object_set_new(o, "namespace", v->ns ? json_text(v->ns) : json_null());
	json_object_set_new(o, "ns_index", json_integer(v->ns_index));
	/* keys are not always valid UTF-8 (the reference cuts bytes, not characters) */
	if (key)
		json_object_set_new(o, "key", key);
	else
		json_bytes(o, "key_hex", (const uint8_t *)v->key, strlen(v->key));
	if (v->type == NVS_DECODE_BLOB || v->type == NVS_DECODE_BLOB_IDX)
		json_object_set_new(o, "format", json_string(v->type == NVS_DECODE_BLOB ? "v1" : "v2"));
	json_object_set_new(o, "type", json_string(tn ? tn : "unknown"));
	if (nvs_decode_type_is_int(v->type)) {
		json_object_set_new(o, "value", json_int(v->type, v->u, v->i));
	} else {
		size_t tl = v->type == NVS_DECODE_STR ? text_len(v) : 0;
		json_object_set_new(o, "size", json_integer((json_int_t)v->len));
		if (v->type == NVS_DECODE_STR) {
			json_t *s = memchr(v->data, 0, tl) ? NULL : json_stringn(v->data ? (const char *)v->data : "", tl);
			json_object_set_new(o, "nul_terminated", json_boolean(tl != v->len));
			if (s)
				json_object_set_new(o, "value", s);
		}
		json_bytes(o, "hex", v->data ? v->data : (const uint8_t *)"", v->len);
		if (v->type == NVS_DECODE_BLOB_IDX)
			json_object_set_new(o, "chunks", json_integer(v->chunks));
	}
	json_object_set_new(o, "ok", json_boolean(v->ok));
	json_object_set_new(o, "shadowed", json_boolean(v->shadowed));
	json_object_set_new(o, "page", json_integer(v->item->page));
	json_object_set_new(o, "entry", json_integer(v->item->slot));
	return o;
}

static json_t *json_item(const struct nvs_decode_item *it)
{
	json_t *o = json_object();
	json_t *key = json_stringn(it->key, strlen(it->key));
	const char *tn = nvs_decode_type_name(it->type);
	if (!o) {
		json_decref(key);
		return NULL;
	}
	json_object_set_new(o, "page", json_integer(it->page));
	json_object_set_new(o, "entry", json_integer(it->slot));
	json_object_set_new(o, "offset", json_integer(it->offset));
	json_object_set_new(o, "ns_index", json_integer(it->ns_index));
	json_object_set_new(o, "type", tn ? json_string(tn) : json_integer(it->type));
	json_object_set_new(o, "span", json_integer(it->span));
	json_object_set_new(o, "chunk_index", json_integer(it->chunk_index));
	if (key)
		json_object_set_new(o, "key", key);
	else
		json_bytes(o, "key_hex", (const uint8_t *)it->key, strlen(it->key));
	json_object_set_new(o, "crc_ok", json_boolean(it->crc_ok));
	if (it->crc_ok && nvs_decode_type_is_int(it->type))
		json_object_set_new(o, "value", json_int(it->type, it->u, it->i));
	if (it->type == NVS_DECODE_STR || it->type == NVS_DECODE_BLOB || it->type == NVS_DECODE_BLOB_DATA) {
		json_object_set_new(o, "size", json_integer((json_int_t)it->len));
		json_object_set_new(o, "data_crc_ok", json_boolean(it->data_crc_ok));
	}
	if (it->type == NVS_DECODE_BLOB_IDX) {
		json_object_set_new(o, "blob_size", json_integer(it->blob_size));
		json_object_set_new(o, "chunk_count", json_integer(it->chunk_count));
		json_object_set_new(o, "chunk_start", json_integer(it->chunk_start));
	}
	return o;
}

static int print_json(FILE *f, const char *path, const struct nvs_decode *d)
{
	json_t *root = json_object(), *pages = json_array(), *items = json_array(), *nss = json_array(),
	       *values = json_array(), *probs = json_array();
	int rc = -1;
	if (!root || !pages || !items || !nss || !values || !probs)
		goto out;
	json_object_set_new(root, "image", json_text(path));
	json_object_set_new(root, "size", json_integer((json_int_t)d->size));
	json_object_set_new(root, "encrypted", json_boolean(d->encrypted));
	json_object_set_new(root, "version", d->version ? json_integer(d->version) : json_null());
	for (size_t p = 0; p < d->page_count; p++) {
		const struct nvs_decode_page *pg = &d->pages[p];
		json_t *o = json_object();
		char raw[16];
		if (!o)
			goto out;
		snprintf(raw, sizeof(raw), "0x%08x", pg->state_raw);
		json_object_set_new(o, "index", json_integer(pg->index));
		json_object_set_new(o, "state", json_string(nvs_decode_page_state_name(pg->state)));
		json_object_set_new(o, "state_raw", json_string(raw));
		if (pg->state != NVS_DECODE_PAGE_EMPTY) {
			json_object_set_new(o, "seq", json_integer(pg->seq));
			json_object_set_new(o, "version_raw", json_integer(pg->version_raw));
			json_object_set_new(o, "header_crc_ok", json_boolean(pg->header_crc_ok));
			json_object_set_new(o, "written", json_integer(pg->written));
			json_object_set_new(o, "erased", json_integer(pg->erased));
			json_object_set_new(o, "empty", json_integer(pg->empty));
		}
		json_array_append_new(pages, o);
	}
	for (size_t k = 0; k < d->item_count; k++)
		json_array_append_new(items, json_item(&d->items[k]));
	for (size_t k = 0; k < d->namespace_count; k++) {
		json_t *o = json_object();
		if (!o)
			goto out;
		json_object_set_new(o, "index", json_integer(d->namespaces[k].index));
		json_object_set_new(o, "name", json_text(d->namespaces[k].name));
		json_array_append_new(nss, o);
	}
	for (size_t k = 0; k < d->value_count; k++)
		json_array_append_new(values, json_value(&d->values[k]));
	for (size_t k = 0; k < d->problem_count; k++) {
		json_t *o = json_object();
		if (!o)
			goto out;
		json_object_set_new(o, "kind", json_string(nvs_decode_problem_name(d->problems[k].kind)));
		json_object_set_new(o, "page", json_integer(d->problems[k].page));
		json_object_set_new(o, "entry", d->problems[k].slot < 0 ? json_null() : json_integer(d->problems[k].slot));
		json_object_set_new(o, "offset", json_integer(d->problems[k].offset));
		json_object_set_new(o, "message", json_text(d->problems[k].msg));
		json_array_append_new(probs, o);
	}
	json_object_set(root, "pages", pages);
	json_object_set(root, "entries", items);
	json_object_set(root, "namespaces", nss);
	json_object_set(root, "values", values);
	json_object_set(root, "problems", probs);
	if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0) {
		fputc('\n', f);
		rc = 0;
	}
out:
	json_decref(probs);
	json_decref(values);
	json_decref(nss);
	json_decref(items);
	json_decref(pages);
	json_decref(root);
	return rc;
}

enum dump_opt_id { DUMP_OPT_HELP, DUMP_OPT_JSON, DUMP_OPT_KEYFILE };

static const struct cli_opt dump_opts[] = {
	{"--help", 'h', CLI_ARGS_FLAG, DUMP_OPT_HELP, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, DUMP_OPT_JSON, {NULL, NULL}, 0},
	{"--keyfile", 0, CLI_ARGS_ONE, DUMP_OPT_KEYFILE, {NULL, NULL}, 0},
};

struct dump_args {
	const char *image, *keyfile;
	bool json;
};

static int dump_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct dump_args *a = ctx;

	(void)nvals;
	switch ((enum dump_opt_id)o->id) {
	case DUMP_OPT_HELP:
		dump_usage(stdout);
		return CLI_ARGS_DONE;
	case DUMP_OPT_JSON:
		a->json = true;
		break;
	case DUMP_OPT_KEYFILE:
		a->keyfile = vals[0];
		break;
	}
	return 0;
}

static int dump_on_run(void *ctx, char **run, int n, int *used)
{
	struct dump_args *a = ctx;

	*used = 0;
	if (!a->image && n)
		a->image = run[(*used)++];
	return 0; /* more: "unexpected argument" */
}

/* IMAGE [--json] [--keyfile KEYS]: 0, CLI_ARGS_DONE after --help, or 2. */
static int dump_parse(int argc, char **argv, const char **image, const char **keyfile, bool *json)
{
	struct dump_args a = {0};
	const struct cli_args p = {.prog = "espfab nvs dump", .opts = dump_opts,
				   .nopts = sizeof(dump_opts) / sizeof(dump_opts[0]), .flags = CLI_ARGS_DASH_VALUE,
				   .style = CLI_ARGS_ESPFAB, .hint = "see --help", .ctx = &a, .on_opt = dump_on_opt,
				   .on_run = dump_on_run};
	int rc = cli_args_parse(&p, argc, argv, 1);

	*image = a.image;
	*keyfile = a.keyfile;
	*json = a.json;
	return rc;
}

int cmd_nvs_dump(int argc, char **argv, const struct cli_globals *g)
{
	const char *image_path = NULL, *key_path = NULL;
	bool as_json = false;
	uint8_t *image = NULL, *keybuf = NULL;
	size_t image_len = 0, key_len = 0;
	struct nvs_decode *d = NULL;
	struct nvs_err err = {0};
	int status = DUMP_EXIT_USAGE, rc;

	(void)g;
	rc = dump_parse(argc, argv, &image_path, &key_path, &as_json);
	if (rc) {
		status = rc == CLI_ARGS_DONE ? DUMP_EXIT_OK : DUMP_EXIT_USAGE;
		goto out;
	}
	if (!image_path) {
		dump_usage(stderr);
		goto out;
	}
	status = DUMP_EXIT_ERROR;
	if (key_path) {
		rc = fsu_read_file(key_path, 1024 * 1024, &keybuf, &key_len);
		if (rc) {
			fprintf(stderr, "espfab nvs dump: %s: %s\n", key_path,
				rc == -EFBIG ? "too large for a key file" : strerror(-rc));
			goto out;
		}
		if (key_len < NVS_XTS_KEY_LEN) {
			fprintf(stderr, "espfab nvs dump: %s: %zu bytes, a key file holds at least %u (the XTS key)\n",
				key_path, key_len, NVS_XTS_KEY_LEN);
			goto out;
		}
	}
	rc = fsu_read_file(image_path, DUMP_MAX_IMAGE, &image, &image_len);
	if (rc) {
		fprintf(stderr, "espfab nvs dump: %s: %s\n", image_path,
			rc == -EFBIG ? "larger than any NVS partition" : strerror(-rc));
		goto out;
	}
	rc = nvs_decode_image(image, image_len, keybuf, &d, &err);
	if (rc) {
		fprintf(stderr, "espfab nvs dump: %s: %s\n", image_path, err.msg);
		goto out;
	}
	if (as_json) {
		if (print_json(stdout, image_path, d)) {
			fprintf(stderr, "espfab nvs dump: out of memory building the JSON output\n");
			goto out;
		}
	} else {
		print_listing(stdout, image_path, d);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "espfab nvs dump: writing the output: %s\n", strerror(errno));
		goto out;
	}
	status = DUMP_EXIT_OK;
	if (d->problem_count) {
		size_t crc_ok = 0;
		for (size_t k = 0; k < d->item_count; k++)
			crc_ok += d->items[k].crc_ok;
		fprintf(stderr, "espfab nvs dump: %s: %zu problem%s, first: %s\n", image_path, d->problem_count,
			d->problem_count == 1 ? "" : "s", d->problems[0].msg);
		if (d->item_count && !crc_ok)
			fprintf(stderr, "espfab nvs dump: %s: no entry CRC matches: %s\n", image_path,
				d->encrypted ? "wrong key file?" : "encrypted image? (try --keyfile)");
		status = DUMP_EXIT_PROBLEMS;
	}
out:
	nvs_decode_free(d);
	if (image) {
		OPENSSL_cleanse(image, image_len);
		free(image);
	}
	if (keybuf) {
		OPENSSL_cleanse(keybuf, key_len);
		free(keybuf);
	}
	return status;
}
