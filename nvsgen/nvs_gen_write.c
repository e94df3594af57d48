/* The generator, one value at a time: NVS.write_entry/write_namespace and
 * Page.write_primitive_data/write_varlen_data of nvs_partition_gen.py 0.2.0
 * (see nvs_gen.c). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nvs_gen_int.h"

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

/* NVS.write_entry(): see nvs_gen_int.h. */
int nvs_write_entry(struct nvs_gen *g, const char *key, size_t key_len, const char *enc, size_t enc_len,
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

int nvs_write_blob_const(struct nvs_gen *g, const char *key, const uint8_t *data, size_t len,
			 struct nvs_err *err)
{
	struct nvs_value v = {.kind = NVS_KIND_BLOB, .data = data, .len = len};
	return nvs_write_value(g, key, strlen(key), &v, err);
}

int nvs_write_namespace(struct nvs_gen *g, const char *name, size_t len, struct nvs_err *err)
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

