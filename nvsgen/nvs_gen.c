/* The generator: rows in, NVS image out, following nvs_partition_gen.py
 * 0.2.0 (NVS.write_namespace/write_entry, Page.write_*) byte for byte except
 * where ../shared/golden/policy.tsv says the port differs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "espfab/csv.h"
#include "nvs_gen_int.h"

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
