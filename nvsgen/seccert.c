/* esp_secure_cert TLV images: building and walking. See espfab/seccert.h. */
#include "espfab/err.h"
#include "espfab/seccert.h"
#include "espfab/le.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <zlib.h>

static void set_err(struct seccert_err *err, int code, uint32_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(struct seccert_err *err, int code, uint32_t offset, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	err->code = code;
	err->offset = offset;
	va_start(ap, fmt);
	err_vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static size_t pad_len(size_t len) { return (SECCERT_ALIGN - len % SECCERT_ALIGN) % SECCERT_ALIGN; }

/* The reference calls zlib.crc32(header + data + padding, 0xffffffff); the
 * device checks it with esp_crc32_le(UINT32_MAX, ...), the same function. */
static uint32_t tlv_crc(const uint8_t *p, size_t n) { return (uint32_t)crc32(0xFFFFFFFFul, p, (uInt)n); }

size_t seccert_tlv_size(size_t len) { return SECCERT_HEADER_LEN + len + pad_len(len) + SECCERT_FOOTER_LEN; }

const char *seccert_type_name(uint8_t type)
{
	static const char *const names[] = {"ca_cert",   "dev_cert",   "priv_key", "ds_data",
					    "ds_context", "ecdsa_key_salt", "sec_cfg", "tee_sec_storage_key",
					    "signature_block", "integrity"};
	static const char *const user[] = {"user_data_1", "user_data_2", "user_data_3", "user_data_4",
					   "user_data_5"};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	if (type == SECCERT_TLV_END)
		return "tlv_end";
	if (type >= SECCERT_USER_DATA_1 && type <= SECCERT_USER_DATA_5)
		return user[type - SECCERT_USER_DATA_1];
	return NULL;
}

/* One TLV at buf + off; the caller has checked that it fits. */
static size_t put_tlv(uint8_t *buf, size_t off, const struct seccert_entry *e)
{
	uint8_t *p = buf + off;
	size_t body = SECCERT_HEADER_LEN + e->len + pad_len(e->len);

	le_put32(p, SECCERT_MAGIC);
	p[4] = e->flags;
	p[5] = p[6] = p[7] = 0;
	p[8] = e->type;
	p[9] = e->subtype;
	le_put16(p + 10, (uint16_t)e->len);
	if (e->len)
		memcpy(p + SECCERT_HEADER_LEN, e->data, e->len);
	memset(p + SECCERT_HEADER_LEN + e->len, 0, pad_len(e->len));
	le_put32(p + body, tlv_crc(p, body));
	return body + SECCERT_FOOTER_LEN;
}

int seccert_build(const struct seccert_entry *entries, size_t n, bool integrity, uint8_t *buf, size_t cap,
		  size_t *out_len, struct seccert_err *err)
{
	size_t off = 0;
	uint8_t sha[SECCERT_SHA256_LEN];

	if (!buf || (n && !entries) || !out_len) {
		set_err(err, SECCERT_EINVAL, 0, "secure cert: missing buffer or entries");
		return SECCERT_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct seccert_entry *e = &entries[i];
		const char *name = seccert_type_name(e->type);
		if (e->len > 0xFFFFu) {
			set_err(err, SECCERT_EINVAL, (uint32_t)off,
				"secure cert: TLV %u (%s) has %zu data bytes, more than the 65535 its length field holds",
				(unsigned)i, name ? name : "custom", e->len);
			return SECCERT_EINVAL;
		}
		if (e->len && !e->data) {
			set_err(err, SECCERT_EINVAL, (uint32_t)off, "secure cert: TLV %u has no data", (unsigned)i);
			return SECCERT_EINVAL;
		}
		if (seccert_tlv_size(e->len) > cap - off) {
			set_err(err, SECCERT_ETOOBIG, (uint32_t)off,
				"secure cert: TLV %u (%s, %zu bytes) does not fit: the image would be %zu bytes, limit %zu",
				(unsigned)i, name ? name : "custom", e->len, off + seccert_tlv_size(e->len), cap);
			return SECCERT_ETOOBIG;
		}
		off += put_tlv(buf, off, &entries[i]);
	}
	if (integrity) {
		struct seccert_entry ie = {.type = SECCERT_INTEGRITY, .data = sha, .len = sizeof(sha)};
		if (seccert_tlv_size(sizeof(sha)) > cap - off) {
			set_err(err, SECCERT_ETOOBIG, (uint32_t)off,
				"secure cert: the integrity TLV does not fit: the image would be %zu bytes, limit %zu",
				off + seccert_tlv_size(sizeof(sha)), cap);
			return SECCERT_ETOOBIG;
		}
		/* SHA-256 of every byte before the integrity TLV (the reference's
		 * add_integrity_tlv; esp_secure_cert_verify_partition_integrity). */
		SHA256(buf, off, sha);
		off += put_tlv(buf, off, &ie);
	}
	*out_len = off;
	return SECCERT_OK;
}

/* ---- reading -------------------------------------------------------------- */

static void add_problem(struct seccert_image *im, enum seccert_problem_kind kind, uint32_t offset,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* problems has room for every TLV times every kind (allocated by parse). */
static void add_problem(struct seccert_image *im, enum seccert_problem_kind kind, uint32_t offset,
			const char *fmt, ...)
{
	struct seccert_problem *p = &im->problems[im->problem_count++];
	va_list ap;
	p->kind = kind;
	p->offset = offset;
	va_start(ap, fmt);
	err_vformat(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

static const char *name_or_custom(uint8_t type)
{
	const char *n = seccert_type_name(type);
	return n ? n : "custom";
}

void seccert_image_free(struct seccert_image *im)
{
	if (!im)
		return;
	if (im->bytes) {
		OPENSSL_cleanse(im->bytes, im->len);
		free(im->bytes);
	}
	free(im->tlvs);
	free(im->problems);
	free(im);
}

const struct seccert_tlv *seccert_find(const struct seccert_image *im, uint8_t type, uint8_t subtype)
{
	for (size_t i = 0; im && i < im->tlv_count; i++)
		if (im->tlvs[i].type == type && im->tlvs[i].subtype == subtype)
			return &im->tlvs[i];
	return NULL;
}

static void check_tlv(struct seccert_image *im, size_t idx)
{
	struct seccert_tlv *t = &im->tlvs[idx];
	const char *name = name_or_custom(t->type);

	if (!t->crc_ok)
		add_problem(im, SECCERT_P_CRC, t->offset,
			    "TLV at 0x%x (%s/%u): CRC 0x%08x stored, 0x%08x computed", (unsigned)t->offset, name,
			    (unsigned)t->subtype, (unsigned)t->crc_stored, (unsigned)t->crc_computed);
	if (t->reserved[0] || t->reserved[1] || t->reserved[2])
		add_problem(im, SECCERT_P_RESERVED, t->offset,
			    "TLV at 0x%x (%s/%u): reserved header bytes %02x %02x %02x are not zero",
			    (unsigned)t->offset, name, (unsigned)t->subtype, t->reserved[0], t->reserved[1],
			    t->reserved[2]);
	for (size_t k = 0; k < idx; k++)
		if (im->tlvs[k].type == t->type && im->tlvs[k].subtype == t->subtype) {
			add_problem(im, SECCERT_P_DUPLICATE, t->offset,
				    "TLV at 0x%x (%s/%u) repeats the one at 0x%x", (unsigned)t->offset, name,
				    (unsigned)t->subtype, (unsigned)im->tlvs[k].offset);
			break;
		}
	if (t->type == SECCERT_INTEGRITY) {
		uint8_t sha[SECCERT_SHA256_LEN];
		if (t->length != SECCERT_SHA256_LEN) {
			add_problem(im, SECCERT_P_INTEGRITY, t->offset,
				    "integrity TLV at 0x%x holds %u bytes, not a 32-byte SHA-256", (unsigned)t->offset,
				    (unsigned)t->length);
			return;
		}
		SHA256(im->bytes, t->offset, sha);
		if (memcmp(sha, t->data, sizeof(sha)) != 0)
			add_problem(im, SECCERT_P_INTEGRITY, t->offset,
				    "integrity TLV at 0x%x: the SHA-256 of bytes 0..0x%x does not match",
				    (unsigned)t->offset, (unsigned)t->offset);
	}
}

int seccert_parse(const uint8_t *img, size_t len, struct seccert_image **out, struct seccert_err *err)
{
	struct seccert_image *im = NULL;
	size_t off = 0, max_tlvs;
	int rc;

	if (out)
		*out = NULL;
	if (!img || !out) {
		set_err(err, SECCERT_EINVAL, 0, "secure cert: missing image");
		return SECCERT_EINVAL;
	}
	if (len < SECCERT_HEADER_LEN || le_get32(img) != SECCERT_MAGIC) {
		if (len >= 4 && le_get32(img) == 0xFFFFFFFFu)
			set_err(err, SECCERT_EFORMAT, 0,
				"not an esp_secure_cert image: offset 0 is erased flash (no TLV)");
		else if (len < 4)
			set_err(err, SECCERT_EFORMAT, 0, "not an esp_secure_cert image: only %zu bytes", len);
		else if (le_get32(img) != SECCERT_MAGIC)
			set_err(err, SECCERT_EFORMAT, 0,
				"not an esp_secure_cert image: magic 0x%08x at offset 0, expected 0xba5eba11",
				(unsigned)le_get32(img));
		else
			set_err(err, SECCERT_EFORMAT, 0, "esp_secure_cert image cut short: %zu bytes", len);
		return SECCERT_EFORMAT;
	}
	if (len > UINT32_MAX) {
		set_err(err, SECCERT_EINVAL, 0, "secure cert: image of %zu bytes is too large", len);
		return SECCERT_EINVAL;
	}
	/* The smallest TLV is 16 bytes, so len / 16 bounds the count. */
	max_tlvs = len / (SECCERT_HEADER_LEN + SECCERT_FOOTER_LEN) + 1;
	im = calloc(1, sizeof(*im));
	if (!im)
		goto nomem;
	im->bytes = malloc(len);
	im->tlvs = calloc(max_tlvs, sizeof(*im->tlvs));
	/* At most one problem of each of the four kinds per TLV. */
	im->problems = calloc(max_tlvs * 4, sizeof(*im->problems));
	if (!im->bytes || !im->tlvs || !im->problems)
		goto nomem;
	memcpy(im->bytes, img, len);
	im->len = len;

	/* The device walks while the magic matches: the first position without
	 * it (0xFFFFFFFF on erased flash) ends the chain. */
	while (len - off >= SECCERT_HEADER_LEN && le_get32(im->bytes + off) == SECCERT_MAGIC) {
		struct seccert_tlv *t = &im->tlvs[im->tlv_count];
		const uint8_t *h = im->bytes + off;
		uint16_t dlen = le_get16(h + 10);
		size_t body = SECCERT_HEADER_LEN + dlen + pad_len(dlen);

		if (body + SECCERT_FOOTER_LEN > len - off) {
			set_err(err, SECCERT_EFORMAT, (uint32_t)off,
				"esp_secure_cert TLV at 0x%zx (%s/%u) claims %u data bytes and runs past the end (%zu bytes)",
				off, name_or_custom(h[8]), (unsigned)h[9], (unsigned)dlen, len);
			rc = SECCERT_EFORMAT;
			goto fail;
		}
		t->offset = (uint32_t)off;
		t->flags = h[4];
		memcpy(t->reserved, h + 5, 3);
		t->type = h[8];
		t->subtype = h[9];
		t->length = dlen;
		t->data = h + SECCERT_HEADER_LEN;
		t->crc_stored = le_get32(h + body);
		t->crc_computed = tlv_crc(h, body);
		t->crc_ok = t->crc_stored == t->crc_computed;
		im->tlv_count++;
		check_tlv(im, im->tlv_count - 1);
		off += body + SECCERT_FOOTER_LEN;
	}
	im->used = off;
	*out = im;
	return SECCERT_OK;

nomem:
	set_err(err, SECCERT_ENOMEM, 0, "secure cert: out of memory");
	rc = SECCERT_ENOMEM;
fail:
	seccert_image_free(im);
	return rc;
}
