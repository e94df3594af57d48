/* The generator: rows in, NVS image out, following nvs_partition_gen.py
 * 0.2.0 (NVS.write_namespace/write_entry, Page.write_*) byte for byte except
 * where ../shared/golden/policy.tsv says the port differs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "espfab/csv.h"
#include "nvs_internal.h"

#define NVS_NS_MAX 254u /* index 255 (0xFF) is reserved by the device */

struct nvs_ap_value {
	uint8_t *v;
	size_t len; /* 0 also for "no value": both are false in Python */
};

struct nvs_gen {
	struct nvs_layout l;
	enum nvs_version version;
	uint32_t size;
	unsigned ns_count; /* namespaces created */
	unsigned ns_cur;   /* index rows are written to; 0 = none yet */
	uint8_t ns_len[NVS_NS_MAX + 1];
	char ns_name[NVS_NS_MAX + 1][NVS_KEY_MAX];
	bool sta_extras; /* sta.apinfo/pmk/apsw written */
	struct nvs_ap_value ap_ssid, ap_passwd, ap_authmode;
	struct nvs_scratch scratch;
	struct nvs_xts xts;
};

/* A printable copy of a key for messages (keys are names, not secrets). */
static const char *nvs_key_label(const char *key, size_t len, char out[48])
{
	size_t o = 0;
	for (size_t i = 0; i < len && o < 40; i++) {
		unsigned char c = (unsigned char)key[i];
		out[o++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
	}
	if (len > 40 && o == 40) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int nvs_gen_new(struct nvs_gen **out, uint32_t size, enum nvs_version version, struct nvs_err *err)
{
	struct nvs_gen *g;
	int rc;

	*out = NULL;
	if (size < NVS_PAGE_SIZE || size % NVS_PAGE_SIZE)
		return nvs_fail(err, NVS_ESIZE, "partition size 0x%x must be a non-zero multiple of 4096",
				(unsigned)size);
	if (version != NVS_VERSION_1 && version != NVS_VERSION_2)
		return nvs_fail(err, NVS_EINPUT, "unknown NVS format version %d", (int)version);
	g = calloc(1, sizeof(*g));
	if (!g)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	rc = nvs_layout_init(&g->l, size, version, err);
	if (rc < 0) {
		free(g);
		return rc;
	}
	g->size = size;
	g->version = version;
	nvs_xts_init(&g->xts);
	*out = g;
	return 0;
}

static void nvs_ap_clear(struct nvs_ap_value *a)
{
	if (a->v) {
		OPENSSL_cleanse(a->v, a->len);
		free(a->v);
	}
	a->v = NULL;
	a->len = 0;
}

void nvs_gen_reset(struct nvs_gen *g)
{
	nvs_layout_clear(&g->l);
	g->ns_count = 0;
	g->ns_cur = 0;
	g->sta_extras = false;
	nvs_ap_clear(&g->ap_ssid);
	nvs_ap_clear(&g->ap_passwd);
	nvs_ap_clear(&g->ap_authmode);
}

void nvs_gen_free(struct nvs_gen *g)
{
	if (!g)
		return;
	nvs_gen_reset(g);
	nvs_xts_deinit(&g->xts);
	if (g->scratch.buf) {
		/* Values are secrets (DeviceSecret...). */
		OPENSSL_cleanse(g->scratch.buf, g->scratch.cap);
		free(g->scratch.buf);
	}
	nvs_layout_deinit(&g->l);
	free(g);
}

size_t nvs_gen_entry_count(const struct nvs_gen *g)
{
	size_t n = 0;
	for (uint32_t p = 0; p < g->l.npages; p++)
		n += g->l.entries[p];
	return n;
}

size_t nvs_gen_image_len(const struct nvs_gen *g)
{
	return nvs_layout_image_len(&g->l) + g->l.growth_bytes;
}

/* The first 24 bytes of an entry plus the data field's initial state.
 * Quirk kept (case key-utf8-multibyte): the reference stores the key with
 * entry[8:8+len(key)] = key.encode(), where len() counts characters. A key of
 * c characters and b bytes grows the 32-byte struct by g = b - c, which
 * leaves zeros in entry bytes 24..24+g-1 under whatever is written there.
 * Keys are at most 15 bytes here (policy), so the key field itself is
 * always key + NUL padding. */
static size_t nvs_entry_template(uint8_t e[32], uint8_t ns, uint8_t type, uint8_t span, const char *key,
				 size_t key_len)
{
	size_t chars = 0, g;

	e[0] = ns;
	e[1] = type;
	e[2] = span;
	e[3] = NVS_CHUNK_ANY;
	memset(e + 4, 0xFF, 4);
	memset(e + 8, 0, 16);
	memcpy(e + 8, key, key_len);
	memset(e + 24, 0xFF, 8);
	for (size_t i = 0; i < key_len; i++)
		chars += ((unsigned char)key[i] & 0xC0) != 0x80;
	g = key_len - chars;
	if (g)
		memset(e + 24, 0, g > 8 ? 8 : g);
	return g;
}

/* Write an entry header. With a key grown by more than 8 bytes the
 * reference's 32+g-byte struct also puts g-8 zero bytes at the start of the
 * next slot (plain images only: encryption takes the first 32 bytes). A
 * header in the page's last slot runs past the page's end instead, and the
 * reference's page (a bytearray) becomes 4096+g bytes long. */
static int nvs_put_header(struct nvs_layout *l, const uint8_t e[32], size_t grow, struct nvs_err *err)
{
	bool last = l->entry_num == NVS_PAGE_ENTRIES - 1;

	nvs_page_write(l, e, 32, 1);
	if (grow && last)
		return nvs_page_grow(l, grow, err);
	if (grow > 8)
		nvs_page_spill_zeros(l, grow - 8);
	return 0;
}

static int nvs_write_prim(struct nvs_gen *g, const char *key, size_t key_len, uint8_t ns, uint8_t type,
			  unsigned width, uint64_t bits, struct nvs_err *err)
{
	uint8_t e[32];
	int rc;

	if (g->l.entry_num >= NVS_PAGE_ENTRIES) {
		rc = nvs_page_new(&g->l, err);
		if (rc < 0)
			return rc;
	}
	size_t grow = nvs_entry_template(e, ns, type, 1, key, key_len);
	for (unsigned i = 0; i < width; i++)
		e[24 + i] = (uint8_t)(bits >> (8 * i));
	nvs_entry_set_crc(e);
	return nvs_put_header(&g->l, e, grow, err);
}

static bool nvs_varlen_fits(const struct nvs_gen *g, bool multipage, unsigned total)
{
	/* Page.write_varlen_data(): ">=" makes an item that would fill the
	 * page's last slot move to the next page; V2 blobs are split instead. */
	if (g->l.entry_num >= NVS_PAGE_ENTRIES)
		return false;
	return multipage || g->l.entry_num + total < NVS_PAGE_ENTRIES;
}

static int nvs_write_blob_chunks(struct nvs_gen *g, uint8_t e[32], size_t grow, const uint8_t *data, size_t len,
				 struct nvs_err *err)
{
	size_t offset = 0, remaining = len;
	unsigned chunks = 0;
	int rc;

	for (;;) {
		size_t tailroom = (NVS_PAGE_ENTRIES - g->l.entry_num - 1) * NVS_ENTRY_SIZE;
		size_t chunk = remaining < tailroom ? remaining : tailroom;
		unsigned count = (unsigned)((chunk + 31) / 32);

		if (chunks > 254)
			return nvs_fail(err, NVS_EINPUT, "blob of %zu bytes needs more than 255 chunks", len);
		remaining -= chunk;
		e[1] = NVS_TYPE_BLOB_DATA;
		e[2] = (uint8_t)(count + 1);
		e[3] = (uint8_t)chunks;
		le_put16(e + 24, (uint32_t)chunk);
		le_put32(e + 28, nvs_crc32(data + offset, chunk));
		nvs_entry_set_crc(e);
		rc = nvs_put_header(&g->l, e, grow, err);
		if (rc < 0)
			return rc;
		nvs_page_write(&g->l, data + offset, chunk, count);
		chunks++;
		/* A chunk that leaves no slot for the index (or a chunk started in
		 * slot 125 with no room at all) moves on to a new page. */
		if (remaining || tailroom - chunk < NVS_ENTRY_SIZE) {
			rc = nvs_page_new(&g->l, err);
			if (rc < 0)
				return rc;
		}
		offset += chunk;
		if (!remaining)
			break;
	}
	memset(e + 24, 0xFF, 8);
	e[1] = NVS_TYPE_BLOB_IDX;
	e[2] = 1;
	e[3] = NVS_CHUNK_ANY;
	le_put32(e + 24, (uint32_t)len);
	e[28] = (uint8_t)chunks;
	e[29] = 0; /* chunk start */
	nvs_entry_set_crc(e);
	return nvs_put_header(&g->l, e, grow, err);
}

static int nvs_write_varlen(struct nvs_gen *g, const char *key, size_t key_len, uint8_t ns, enum nvs_kind kind,
			    const uint8_t *data, size_t len, struct nvs_err *err)
{
	bool v1 = g->version == NVS_VERSION_1;
	bool multipage = !v1 && kind == NVS_KIND_BLOB;
	size_t max = v1 ? 1984 : 4000;
	unsigned count, total;
	size_t grow;
	uint8_t e[32];
	int rc;

	/* The V2 limit applies to strings only; V1 limits blobs too. */
	if (!multipage && len > max)
		return nvs_fail(err, NVS_EINPUT, "size %zu exceeds the maximum of %zu bytes", len, max);
	count = (unsigned)((len + 31) / 32);
	total = count + 1;
	if (!nvs_varlen_fits(g, multipage, total)) {
		rc = nvs_page_new(&g->l, err);
		if (rc < 0)
			return rc;
		if (!nvs_varlen_fits(g, multipage, total))
			/* 3969..4000-byte strings pass the limit but never fit a
			 * page (the reference crashes with PageFullError). */
			return nvs_fail(err, NVS_EINPUT, "string of %zu bytes does not fit in a page (at most 3968)",
					len);
	}
	grow = nvs_entry_template(e, ns, kind == NVS_KIND_STRING ? NVS_TYPE_SZ : NVS_TYPE_BLOB,
				  multipage ? 0xFF : (uint8_t)total, key, key_len);
	if (multipage)
		return nvs_write_blob_chunks(g, e, grow, data, len, err);
	le_put16(e + 24, (uint32_t)len);
	le_put32(e + 28, nvs_crc32(data, len));
	nvs_entry_set_crc(e);
	rc = nvs_put_header(&g->l, e, grow, err);
	if (rc < 0)
		return rc;
	nvs_page_write(&g->l, data, len, count);
	return 0;
}

static int nvs_write_value(struct nvs_gen *g, const char *key, size_t key_len, const struct nvs_value *v,
			   struct nvs_err *err)
{
	/* policy (entry-before-namespace): index 0 is unreadable on the device. */
	if (g->ns_cur == 0)
		return nvs_fail(err, NVS_EINPUT, "data row before any namespace row");
	switch (v->kind) {
	case NVS_KIND_PRIM:
		return nvs_write_prim(g, key, key_len, (uint8_t)g->ns_cur, v->type, v->width, v->bits, err);
	case NVS_KIND_STRING:
	case NVS_KIND_BLOB:
		return nvs_write_varlen(g, key, key_len, (uint8_t)g->ns_cur, v->kind, v->data, v->len, err);
	}
	return nvs_fail(err, NVS_EINPUT, "unknown value kind");
}

/* NVS.write_entry(): encoding is lower-cased BEFORE the value is converted
 * (policy encoding-uppercase; the reference converted first). */
static int nvs_write_entry(struct nvs_gen *g, const char *key, size_t key_len, const char *enc, size_t enc_len,
			   const uint8_t *value, size_t len, bool from_file, bool missing, struct nvs_err *err)
{
	char local[64], *lower = local;
	struct nvs_value v;
	int rc;

	if (!enc)
		return nvs_fail(err, NVS_EINPUT, "no encoding");
	if (enc_len >= sizeof(local)) {
		/* Only blob_fill(...) can be this long: re.match() ignores what
		 * follows its ")". */
		lower = malloc(enc_len + 1);
		if (!lower)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < enc_len; i++)
		lower[i] = (enc[i] >= 'A' && enc[i] <= 'Z') ? (char)(enc[i] + 32) : enc[i];
	lower[enc_len] = '\0';
	/* A NUL would cut the name short ("u8\0x" is not "u8"); after the ")" of
	 * blob_fill(...) it is ignored like any other character. */
	if (memchr(enc, '\0', enc_len) && strncmp(lower, "blob_fill(", 10) && strncmp(lower, "blob_sz_fill(", 13))
		rc = nvs_fail(err, NVS_EINPUT, "unsupported encoding");
	else
		rc = nvs_value_convert(lower, value, len, from_file, missing, g->size, &g->scratch, &v, err);
	if (lower != local)
		free(lower);
	if (rc < 0)
		return rc;
	return nvs_write_value(g, key, key_len, &v, err);
}

static int nvs_write_blob_const(struct nvs_gen *g, const char *key, const uint8_t *data, size_t len,
				struct nvs_err *err)
{
	struct nvs_value v = {.kind = NVS_KIND_BLOB, .data = data, .len = len};
	return nvs_write_value(g, key, strlen(key), &v, err);
}

static int nvs_write_namespace(struct nvs_gen *g, const char *name, size_t len, struct nvs_err *err)
{
	int rc;

	for (unsigned i = 1; i <= g->ns_count; i++) {
		if (g->ns_len[i] == len && !memcmp(g->ns_name[i], name, len)) {
			/* policy (namespace-switch-back): rows after a switch back use
			 * the named namespace's index, not the newest one. */
			g->ns_cur = i;
			return 0;
		}
	}
	if (g->ns_count >= NVS_NS_MAX)
		return nvs_fail(err, NVS_EINPUT, "more than %u namespaces (index 255 is reserved)", NVS_NS_MAX);
	rc = nvs_write_prim(g, name, len, 0, NVS_TYPE_U8, 1, g->ns_count + 1, err);
	if (rc < 0)
		return rc;
	g->ns_count++;
	g->ns_cur = g->ns_count;
	g->ns_len[g->ns_count] = (uint8_t)len;
	memcpy(g->ns_name[g->ns_count], name, len);
	return 0;
}

static bool nvs_key_is(const char *key, size_t len, const char *want)
{
	return strlen(want) == len && !memcmp(key, want, len);
}

static int nvs_ap_set(struct nvs_ap_value *a, const char *value, size_t len, struct nvs_err *err)
{
	nvs_ap_clear(a);
	if (!value || !len)
		return 0;
	a->v = malloc(len);
	if (!a->v)
		return nvs_fail(err, NVS_ENOMEM, "out of memory");
	memcpy(a->v, value, len);
	a->len = len;
	return 0;
}

/* write_entry() of the reference's module: Wi-Fi keys get extra entries. */
static int nvs_wifi_ap(struct nvs_gen *g, const char *key, size_t key_len, const char *value, size_t len,
		       struct nvs_err *err)
{
	uint8_t info[132];
	int rc = 0;

	if (nvs_key_is(key, key_len, "ap.ssid"))
		rc = nvs_ap_set(&g->ap_ssid, value, len, err);
	else if (nvs_key_is(key, key_len, "ap.passwd"))
		rc = nvs_ap_set(&g->ap_passwd, value, len, err);
	else if (!(value && len == 1 && value[0] == '0'))
		/* authmode "0" (open) leaves the previous authmode in place. */
		rc = nvs_ap_set(&g->ap_authmode, value, len, err);
	if (rc < 0 || !g->ap_ssid.len || !g->ap_passwd.len || !g->ap_authmode.len)
		return rc;
	/* ap.pmk_info: 100 zero bytes, then PBKDF2-HMAC-SHA1(passwd, ssid, 4096, 32). */
	memset(info, 0, 100);
	if (!PKCS5_PBKDF2_HMAC((const char *)g->ap_passwd.v, (int)g->ap_passwd.len, g->ap_ssid.v,
			       (int)g->ap_ssid.len, 4096, EVP_sha1(), 32, info + 100))
		return nvs_fail(err, NVS_ECRYPTO, "PBKDF2 failed");
	rc = nvs_write_blob_const(g, "ap.pmk_info", info, sizeof(info), err);
	OPENSSL_cleanse(info, sizeof(info));
	return rc;
}

static int nvs_gen_row(struct nvs_gen *g, const char *key, size_t key_len, const char *type, size_t type_len,
		       const char *enc, size_t enc_len, const char *value, size_t value_len,
		       const uint8_t *file_data, size_t file_len, bool have_file, const struct nvs_file_source *files,
		       struct nvs_err *err)
{
	bool is_file = type && type_len == 4 && !memcmp(type, "file", 4);
	bool is_ns = type && type_len == 9 && !memcmp(type, "namespace", 9);
	uint8_t *owned = NULL;
	char *path;
	int rc;

	if (!key)
		return nvs_fail(err, NVS_EINPUT, "row has no key");
	/* policy (key-utf8-long): the limit is 15 bytes, not characters. */
	if (key_len > NVS_KEY_MAX)
		return nvs_fail(err, NVS_EINPUT, "key is %zu bytes long, at most %u allowed", key_len, NVS_KEY_MAX);

	if (nvs_key_is(key, key_len, "ap.ssid") || nvs_key_is(key, key_len, "ap.passwd") ||
	    nvs_key_is(key, key_len, "ap.authmode")) {
		rc = nvs_wifi_ap(g, key, key_len, value, value_len, err);
		if (rc < 0)
			return rc;
	}
	if (nvs_key_is(key, key_len, "sta.ssid") || nvs_key_is(key, key_len, "sta.pswd")) {
		static const uint8_t zeros[32];
		uint8_t apinfo[140];

		/* The reference writes these rows with their encoding whatever the
		 * type, then (once) sta.apinfo, sta.pmk and sta.apsw. */
		rc = nvs_write_entry(g, key, key_len, enc, enc_len, (const uint8_t *)value, value_len, false,
				     value == NULL, err);
		if (rc < 0 || g->sta_extras)
			return rc;
		memset(apinfo, 0xFF, sizeof(apinfo));
		rc = nvs_write_blob_const(g, "sta.apinfo", apinfo, sizeof(apinfo), err);
		if (rc == 0)
			rc = nvs_write_blob_const(g, "sta.pmk", zeros, 32, err);
		if (rc == 0)
			rc = nvs_write_blob_const(g, "sta.apsw", zeros, 2, err);
		g->sta_extras = true;
		return rc;
	}
	if (is_ns)
		return nvs_write_namespace(g, key, key_len, err);
	if (!is_file)
		return nvs_write_entry(g, key, key_len, enc, enc_len, (const uint8_t *)value, value_len, false,
				       value == NULL, err);
	if (!have_file) {
		if (!value || memchr(value, '\0', value_len))
			return nvs_fail(err, NVS_EINPUT, "file row without a file name");
		if (!files || !files->read)
			return nvs_fail(err, NVS_EINPUT, "file rows are not allowed here");
		/* value need not be NUL-terminated: hand the reader a C string. */
		path = malloc(value_len + 1);
		if (!path)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
		memcpy(path, value, value_len);
		path[value_len] = '\0';
		rc = files->read(files->ctx, path, &owned, &file_len, err);
		free(path);
		if (rc < 0)
			return rc;
		file_data = owned;
	}
	rc = nvs_write_entry(g, key, key_len, enc, enc_len, file_data, file_len, true, false, err);
	if (owned) {
		OPENSSL_cleanse(owned, file_len);
		free(owned);
	}
	return rc;
}

/* Prefix err->msg with "key 'k': ". */
static int nvs_key_err(int rc, const char *key, size_t key_len, struct nvs_err *err)
{
	char label[48], tmp[sizeof(err->msg)];

	if (rc >= 0 || !err || !key)
		return rc;
	memcpy(tmp, err->msg, sizeof(tmp));
	nvs_fail(err, rc, "key '%s': %s", nvs_key_label(key, key_len, label), tmp);
	return rc;
}

int nvs_gen_add_row(struct nvs_gen *g, const char *key, const char *type, const char *encoding, const char *value,
		    size_t value_len, struct nvs_err *err)
{
	size_t key_len = key ? strlen(key) : 0;
	bool is_file = type && !strcmp(type, "file");
	int rc;

	if (err)
		err->line = 0;
	rc = nvs_gen_row(g, key, key_len, type, type ? strlen(type) : 0, encoding, encoding ? strlen(encoding) : 0,
			 value, value_len, (const uint8_t *)value, value_len, is_file, NULL, err);
	return nvs_key_err(rc, key, key_len, err);
}

int nvs_gen_add_fields(struct nvs_gen *g, const char *key, size_t key_len, const char *type, size_t type_len,
		       const char *encoding, size_t encoding_len, const char *value, size_t value_len,
		       const struct nvs_file_source *files, struct nvs_err *err)
{
	int rc = nvs_gen_row(g, key, key_len, type, type_len, encoding, encoding_len, value, value_len, NULL, 0,
			     false, files, err);
	return nvs_key_err(rc, key, key_len, err);
}

int nvs_gen_add_csv(struct nvs_gen *g, const char *text, size_t len, const char *name,
		    const struct nvs_file_source *files, struct nvs_err *err)
{
	static const char *const cols[4] = {"key", "type", "encoding", "value"};
	struct csv_reader *r = NULL;
	struct csv_record rec;
	struct csv_err cerr;
	long idx[4] = {-1, -1, -1, -1};
	bool header = true;
	int rc;

	if (!name)
		name = "<csv>";
	if (err)
		err->line = 0;
	/* The reference opens the file as utf8 (strict) and filters lines that
	 * start with '#' before csv.DictReader sees them. A BOM is skipped
	 * (policy csv-bom: the reference fails on it). */
	rc = csv_reader_new(&r, text, len, CSV_SKIP_HASH_LINES | CSV_SKIP_BOM | CSV_UTF8, 0, &cerr);
	while (rc == 0 && (rc = csv_reader_next(r, &rec, &cerr)) == 1) {
		const char *f[4] = {NULL, NULL, NULL, NULL};
		size_t fl[4] = {0, 0, 0, 0};

		rc = 0;
		if (header) {
			/* DictReader takes the first record as the header, even a blank one. */
			for (int i = 0; i < 4; i++)
				idx[i] = csv_record_find(&rec, cols[i]);
			header = false;
			continue;
		}
		if (rec.nfields == 0)
			continue; /* DictReader skips blank rows */
		for (int i = 0; i < 4; i++) {
			if (idx[i] < 0) {
				rc = nvs_fail(err, NVS_EINPUT, "%s:%u: the header has no '%s' column", name, rec.line,
					      cols[i]);
				goto out;
			}
			if ((size_t)idx[i] < rec.nfields) {
				f[i] = rec.fields[idx[i]].ptr;
				fl[i] = rec.fields[idx[i]].len;
			}
		}
		rc = nvs_gen_add_fields(g, f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3], fl[3], files, err);
		if (rc < 0) {
			char tmp[sizeof(err->msg)];
			if (err) {
				memcpy(tmp, err->msg, sizeof(tmp));
				nvs_fail(err, rc, "%s:%u: %s", name, rec.line, tmp);
				err->line = rec.line;
			}
			goto out;
		}
	}
	if (rc < 0) {
		rc = nvs_fail(err, rc == CSV_ENOMEM ? NVS_ENOMEM : NVS_EINPUT, "%s:%u: %s", name, cerr.line, cerr.msg);
		if (err)
			err->line = cerr.line;
	}
out:
	csv_reader_free(r);
	return rc < 0 ? rc : 0;
}

int nvs_parse_size(const char *text, int64_t *out)
{
	return nvs_parse_int0(text, out) == 0 ? 0 : NVS_EINPUT;
}

int nvs_parse_int(const char *text, int64_t *out)
{
	bool neg = false;
	uint64_t mag = 0;

	if (nvs_parse_int10((const uint8_t *)text, strlen(text), false, &neg, &mag) < 0 ||
	    mag > (uint64_t)INT64_MAX + neg)
		return NVS_EINPUT;
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int nvs_gen_finish(struct nvs_gen *g, const uint8_t *xts_key, uint8_t *buf, size_t cap, size_t *out_len,
		   struct nvs_err *err)
{
	const struct nvs_layout *l = &g->l;
	size_t n = nvs_layout_image_len(l);
	size_t used = (size_t)l->npages * NVS_PAGE_SIZE;
	size_t want = xts_key ? n : n + l->growth_bytes;
	int rc;

	*out_len = 0;
	if (cap < want)
		return nvs_fail(err, NVS_ESIZE, "buffer of %zu bytes is smaller than the %zu-byte image", cap, want);
	if (!xts_key) {
		/* Everything past the last written byte is 0xFF: copy only up to it. */
		memcpy(buf, l->img, l->dirty);
		memset(buf + l->dirty, 0xFF, n - l->dirty);
		nvs_layout_apply_spills(l, buf);
		if (l->ngrowth)
			nvs_layout_apply_growth(l, buf);
		*out_len = want;
		return 0;
	}
	/* Each written entry is encrypted on its own, its tweak being its byte
	 * offset in the partition; headers, bitmaps and unused entries stay as
	 * they are. */
	memset(buf, 0xFF, used);
	for (uint32_t p = 0; p < l->npages; p++) {
		size_t base = (size_t)p * NVS_PAGE_SIZE;
		unsigned count = l->entries[p];
		memcpy(buf + base, l->img + base, NVS_FIRST_ENTRY);
		/* The key is first used (and checked) by the first entry: an
		 * image without entries is written whatever the key, as by the
		 * reference. */
		if (count && (rc = nvs_xts_setkey(&g->xts, xts_key, 1, err)) < 0)
			return rc;
		for (unsigned e = 0; e < count; e++) {
			size_t off = base + NVS_FIRST_ENTRY + (size_t)e * NVS_ENTRY_SIZE;
			rc = nvs_xts_run(&g->xts, off, l->img + off, buf + off, NVS_ENTRY_SIZE, err);
			if (rc < 0)
				return rc;
		}
	}
	memset(buf + used, 0xFF, n - used);
	*out_len = n;
	return 0;
}
