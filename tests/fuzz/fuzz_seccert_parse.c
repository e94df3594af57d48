/* Fuzz the esp_secure_cert walker behind `espfab secure-cert dump`: any
 * bytes either walk (every TLV's data readable, certificate and key TLVs
 * handed to the decoders) or are rejected with a message; never a crash,
 * leak or hang. A clean walk with zero padding must rebuild to the same
 * bytes: the builder and the walker agree on the format. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "espfab/seccert.h"
#include "espfab/seccert_pem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool padding_zero(const struct seccert_tlv *t)
{
	size_t pad = (SECCERT_ALIGN - t->length % SECCERT_ALIGN) % SECCERT_ALIGN;
	for (size_t i = 0; i < pad; i++)
		if (t->data[t->length + i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seccert_image *im = NULL;
	struct seccert_err err = {0};
	volatile unsigned sink = 0;

	if (size > 64 * 1024)
		return 0;
	if (seccert_parse(data, size, &im, &err) != 0) {
		if (!err.msg[0])
			abort(); /* a rejection always says why */
		return 0;
	}
	bool clean = im->problem_count == 0;
	struct seccert_entry *e = calloc(im->tlv_count + 1, sizeof(*e));
	if (!e)
		abort();
	for (size_t i = 0; i < im->tlv_count; i++) {
		const struct seccert_tlv *t = &im->tlvs[i];
		for (size_t k = 0; k < t->length; k++)
			sink += t->data[k];
		if (t->type == SECCERT_CA_CERT || t->type == SECCERT_DEV_CERT) {
			X509 *x = NULL;
			if (seccert_pem_read_cert(t->data, t->length, &x, &err) == 0)
				X509_free(x);
		} else if (t->type == SECCERT_PRIV_KEY) {
			EVP_PKEY *k = NULL;
			if (seccert_pem_read_key(t->data, t->length, &k, &err) == 0)
				EVP_PKEY_free(k);
		}
		clean = clean && padding_zero(t);
		e[i] = (struct seccert_entry){.type = t->type, .subtype = t->subtype, .flags = t->flags,
					      .data = t->data, .len = t->length};
	}
	for (size_t i = 0; i < im->problem_count; i++)
		sink += (unsigned)strlen(im->problems[i].msg);
	if (clean) {
		uint8_t *re = malloc(im->used ? im->used : 1);
		size_t len = 0;
		if (!re || seccert_build(e, im->tlv_count, false, re, im->used, &len, &err) != 0 || len != im->used ||
		    memcmp(re, data, len) != 0)
			abort();
		free(re);
	}
	free(e);
	seccert_image_free(im);
	(void)sink;
	return 0;
}
