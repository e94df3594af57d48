/* The esp_secure_cert partition on the device. See pipeline_ident.h. */
#include "pipeline_ident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "espfab/seccert.h"
#include "espfab/seccert_pem.h"

/* The ROM loader reads 64 bytes per round trip (see pipeline.c). */
#define IDENT_READ_STEP 64u

int pipeline_ident_take(struct jobq_msg *rep, struct pipeline_ident *pi, char *msg, size_t cap)
{
	memset(pi, 0, sizeof(*pi));
	if (rep->u.claim.ident == JOBQ_IDENT_NONE)
		return 0;
	if (!rep->data || !rep->u.claim.ident_len || rep->u.claim.ident_len > rep->len) {
		snprintf(msg, cap, "identity: claim reply of %zu bytes cannot hold %u identity bytes", rep->len,
			 (unsigned)rep->u.claim.ident_len);
		return -1;
	}
	pi->data = malloc(rep->u.claim.ident_len);
	if (!pi->data) {
		snprintf(msg, cap, "identity: out of memory");
		return -1;
	}
	pi->mode = rep->u.claim.ident;
	pi->offset = rep->u.claim.ident_offset;
	pi->len = rep->u.claim.ident_len;
	rep->len -= rep->u.claim.ident_len;
	memcpy(pi->data, rep->data + rep->len, pi->len);
	OPENSSL_cleanse(rep->data + rep->len, pi->len);
	return 0;
}

void pipeline_ident_clear(struct pipeline_ident *pi)
{
	if (pi->data) {
		OPENSSL_cleanse(pi->data, pi->len);
		free(pi->data);
	}
	memset(pi, 0, sizeof(*pi));
}

/* Read the device's TLV chain (header by header, 64 bytes a step) into buf
 * (cap bytes, the rest 0xFF) and walk it. *out is the walked image. */
static int read_chain(struct devsess *dev, uint32_t off, size_t cap, struct seccert_image **out, char *msg,
		      size_t mcap)
{
	uint8_t *buf = malloc(cap);
	size_t have = 0, pos = 0;
	struct seccert_err err = {0};
	int rc = -1;

	*out = NULL;
	if (!buf) {
		snprintf(msg, mcap, "out of memory");
		return -1;
	}
	memset(buf, 0xFF, cap);
	/* Follow the chain: read until the next header is in, then skip to its end. */
	while (pos + SECCERT_HEADER_LEN <= cap) {
		size_t need = pos + SECCERT_HEADER_LEN;
		while (have < need) {
			size_t n = cap - have < IDENT_READ_STEP ? cap - have : IDENT_READ_STEP;
			if (devsess_read_unchecked(dev, off + (uint32_t)have, buf + have, n, msg, mcap))
				goto out;
			have += n;
		}
		if (buf[pos] != 0x11 || buf[pos + 1] != 0xBA || buf[pos + 2] != 0x5E || buf[pos + 3] != 0xBA)
			break;
		pos += seccert_tlv_size((size_t)buf[pos + 10] | ((size_t)buf[pos + 11] << 8));
		if (pos > cap)
			break;
		while (have < pos && have < cap) {
			size_t n = cap - have < IDENT_READ_STEP ? cap - have : IDENT_READ_STEP;
			if (devsess_read_unchecked(dev, off + (uint32_t)have, buf + have, n, msg, mcap))
				goto out;
			have += n;
		}
	}
	/* One MD5 over what was read (secure download mode has none). */
	rc = devsess_verify(dev, off, buf, have, msg, mcap);
	if (rc && rc != DEVSESS_ESECURE)
		goto out;
	if (seccert_parse(buf, have, out, &err)) {
		snprintf(msg, mcap, "%s", err.msg);
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, cap);
	free(buf);
	return rc ? -1 : 0;
}

/* The device certificate TLV of im equals der? */
static int holds_cert(const struct seccert_image *im, const uint8_t *der, size_t der_len)
{
	const struct seccert_tlv *t = seccert_find(im, SECCERT_DEV_CERT, 0);
	X509 *x = NULL;
	unsigned char *mine = NULL;
	int n, same = 0;

	if (!t || !t->crc_ok || seccert_pem_read_cert(t->data, t->length, &x, NULL))
		return 0;
	n = i2d_X509(x, &mine);
	same = n > 0 && (size_t)n == der_len && !memcmp(mine, der, der_len);
	OPENSSL_free(mine);
	X509_free(x);
	return same;
}

int pipeline_ident_check(struct devsess *dev, const struct pipeline_ident *pi, char *msg, size_t cap)
{
	struct seccert_image *im = NULL;
	char why[256];
	int rc = -1;

	if (read_chain(dev, pi->offset, SECCERT_MAX_IMAGE, &im, why, sizeof(why))) {
		snprintf(msg, cap,
			 "identity: the device's esp_secure_cert partition at 0x%x does not hold its certificate (%s), "
			 "and the station keeps no copy of its key",
			 (unsigned)pi->offset, why);
		goto out;
	}
	if (!holds_cert(im, pi->data, pi->len) || !seccert_find(im, SECCERT_PRIV_KEY, 0) || im->problem_count) {
		snprintf(msg, cap,
			 "identity: the device's esp_secure_cert partition at 0x%x no longer holds the certificate "
			 "issued to it, and the station keeps no copy of its key",
			 (unsigned)pi->offset);
		goto out;
	}
	rc = 0;
out:
	seccert_image_free(im);
	return rc;
}

int pipeline_ident_write(struct devsess *dev, const struct pipeline_ident *pi, char *msg, size_t cap)
{
	struct seccert_image *want = NULL, *got = NULL;
	struct seccert_err err = {0};
	const struct seccert_tlv *wc;
	char why[256];
	int rc = -1;

	if (seccert_parse(pi->data, pi->len, &want, &err)) {
		snprintf(msg, cap, "identity: image: %s", err.msg);
		return -1;
	}
	if (devsess_write(dev, pi->offset, pi->data, pi->len, NULL, NULL, why, sizeof(why))) {
		snprintf(msg, cap, "identity: write at 0x%x: %s", (unsigned)pi->offset, why);
		goto out;
	}
	if (devsess_verify(dev, pi->offset, pi->data, pi->len, why, sizeof(why))) {
		snprintf(msg, cap, "identity: verify at 0x%x: %s", (unsigned)pi->offset, why);
		goto out;
	}
	/* Read the chain back (it holds the key: compared, then wiped) and
	 * walk it as the device's esp_secure_cert_mgr will. */
	if (read_chain(dev, pi->offset, pi->len, &got, why, sizeof(why))) {
		snprintf(msg, cap, "identity: read-back at 0x%x: %s", (unsigned)pi->offset, why);
		goto out;
	}
	wc = seccert_find(want, SECCERT_DEV_CERT, 0);
	if (got->used != want->used || memcmp(got->bytes, want->bytes, want->used) || got->problem_count || !wc) {
		snprintf(msg, cap, "identity: read-back esp_secure_cert chain differs from the image%s%s",
			 got->problem_count ? ": " : "", got->problem_count ? got->problems[0].msg : "");
		goto out;
	}
	rc = 0;
out:
	seccert_image_free(want);
	seccert_image_free(got);
	return rc;
}
