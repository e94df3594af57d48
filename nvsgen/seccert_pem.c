/* Certificate and key TLV bytes as the reference writes them. See
 * espfab/seccert_pem.h. */
#include "espfab/err.h"
#include "espfab/seccert_pem.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void set_err(struct seccert_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(struct seccert_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	err->code = code;
	err->offset = 0;
	va_start(ap, fmt);
	err_vformat(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* Never prompt on a terminal for a PEM pass phrase. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static bool has_text(const uint8_t *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, s, k) == 0)
			return true;
	return false;
}

/* A memory BIO's contents, optionally with a NUL (the reference appends one
 * to every PEM it writes so the device can hand it to mbedTLS as a string). */
static int bio_take(BIO *b, bool nul, bool secret, uint8_t **out, size_t *out_len, struct seccert_err *err)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	uint8_t *r;

	if (n <= 0) {
		set_err(err, SECCERT_ECRYPTO, "secure cert: OpenSSL wrote nothing");
		return SECCERT_ECRYPTO;
	}
	r = malloc((size_t)n + 1);
	if (!r) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		return SECCERT_ENOMEM;
	}
	memcpy(r, p, (size_t)n);
	r[n] = 0;
	if (secret)
		OPENSSL_cleanse(p, (size_t)n);
	*out = r;
	*out_len = (size_t)n + (nul ? 1 : 0);
	return SECCERT_OK;
}

int seccert_pem_from_x509(const X509 *cert, uint8_t **out, size_t *out_len, struct seccert_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	int rc;

	if (!b) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		return SECCERT_ENOMEM;
	}
	if (!PEM_write_bio_X509(b, (X509 *)cert)) {
		set_err(err, SECCERT_ECRYPTO, "secure cert: cannot write the certificate as PEM");
		rc = SECCERT_ECRYPTO;
	} else {
		rc = bio_take(b, true, false, out, out_len, err);
	}
	BIO_free(b);
	return rc;
}

static int key_kind_ok(const EVP_PKEY *key, const char *what, struct seccert_err *err)
{
	int id = EVP_PKEY_get_base_id(key);
	if (id == EVP_PKEY_EC || id == EVP_PKEY_RSA)
		return SECCERT_OK;
	set_err(err, SECCERT_ECRYPTO, "%s: a %s key; only EC and RSA keys have the traditional form the device reads",
		what, OBJ_nid2sn(id));
	return SECCERT_ECRYPTO;
}

int seccert_pem_from_pkey(const EVP_PKEY *key, uint8_t **out, size_t *out_len, struct seccert_err *err)
{
	BIO *b = NULL;
	int rc = key_kind_ok(key, "private key", err);

	if (rc)
		return rc;
	b = BIO_new(BIO_s_mem());
	if (!b) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		return SECCERT_ENOMEM;
	}
	/* cryptography's TraditionalOpenSSL PEM: SEC1 / PKCS#1, unencrypted. */
	if (!PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL, NULL)) {
		set_err(err, SECCERT_ECRYPTO, "secure cert: cannot write the private key as PEM");
		rc = SECCERT_ECRYPTO;
	} else {
		rc = bio_take(b, true, true, out, out_len, err);
	}
	BIO_free(b);
	return rc;
}

int seccert_pem_cert(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *out_len, bool *pem,
		     struct seccert_err *err)
{
	BIO *b = NULL;
	X509 *x = NULL;
	const unsigned char *p = in;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len > INT_MAX) {
		set_err(err, SECCERT_EINVAL, "%s: %zu bytes is too large for a certificate", what, len);
		return SECCERT_EINVAL;
	}
	b = BIO_new_mem_buf(in, (int)len);
	if (!b) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		return SECCERT_ENOMEM;
	}
	/* The reference tries PEM first (the first CERTIFICATE block), then DER. */
	x = PEM_read_bio_X509(b, NULL, no_password, NULL);
	if (x) {
		*pem = true;
		rc = seccert_pem_from_x509(x, out, out_len, err);
		goto out;
	}
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != in + len) {
		set_err(err, SECCERT_ECRYPTO, "%s: neither a PEM nor a DER X.509 certificate", what);
		rc = SECCERT_ECRYPTO;
		goto out;
	}
	*pem = false;
	{
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);
		if (n <= 0) {
			set_err(err, SECCERT_ECRYPTO, "%s: cannot encode the certificate as DER", what);
			rc = SECCERT_ECRYPTO;
			goto out;
		}
		*out = malloc((size_t)n);
		if (!*out) {
			OPENSSL_free(der);
			set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
			rc = SECCERT_ENOMEM;
			goto out;
		}
		memcpy(*out, der, (size_t)n);
		*out_len = (size_t)n;
		OPENSSL_free(der);
	}
	rc = SECCERT_OK;
out:
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

int seccert_pem_key(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *out_len, bool *pem,
		    struct seccert_err *err)
{
	BIO *b = NULL;
	EVP_PKEY *k = NULL;
	const unsigned char *p = in;
	unsigned char *der = NULL;
	int n = 0, rc;

	*out = NULL;
	*out_len = 0;
	if (len > INT_MAX) {
		set_err(err, SECCERT_EINVAL, "%s: %zu bytes is too large for a key", what, len);
		return SECCERT_EINVAL;
	}
	b = BIO_new_mem_buf(in, (int)len);
	if (!b) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		return SECCERT_ENOMEM;
	}
	k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	if (k) {
		*pem = true;
		rc = key_kind_ok(k, what, err);
		if (!rc)
			rc = seccert_pem_from_pkey(k, out, out_len, err);
		goto out;
	}
	if (has_text(in, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || has_text(in, len, "Proc-Type: 4,ENCRYPTED")) {
		set_err(err, SECCERT_ECRYPTO, "%s: the PEM key is encrypted; give it unencrypted", what);
		rc = SECCERT_ECRYPTO;
		goto out;
	}
	k = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (!k || p != in + len) {
		set_err(err, SECCERT_ECRYPTO, "%s: neither a PEM nor a DER private key", what);
		rc = SECCERT_ECRYPTO;
		goto out;
	}
	*pem = false;
	rc = key_kind_ok(k, what, err);
	if (rc)
		goto out;
	/* i2d_PrivateKey writes the type-specific (traditional) DER for EC and
	 * RSA, as cryptography's DER TraditionalOpenSSL does. */
	n = i2d_PrivateKey(k, &der);
	if (n <= 0) {
		set_err(err, SECCERT_ECRYPTO, "%s: cannot encode the key as DER", what);
		rc = SECCERT_ECRYPTO;
		goto out;
	}
	*out = malloc((size_t)n);
	if (!*out) {
		set_err(err, SECCERT_ENOMEM, "secure cert: out of memory");
		rc = SECCERT_ENOMEM;
		goto out;
	}
	memcpy(*out, der, (size_t)n);
	*out_len = (size_t)n;
	rc = SECCERT_OK;
out:
	if (der) {
		OPENSSL_cleanse(der, (size_t)n);
		OPENSSL_free(der);
	}
	EVP_PKEY_free(k);
	BIO_free(b);
	ERR_clear_error();
	return rc;
}

void seccert_pem_free_secret(uint8_t *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* PEM TLVs end in the NUL the reference adds; DER ones must be exact. */
int seccert_pem_read_cert(const uint8_t *data, size_t len, X509 **out, struct seccert_err *err)
{
	BIO *b = NULL;
	const unsigned char *p = data;
	X509 *x = NULL;

	*out = NULL;
	if (len > INT_MAX) {
		set_err(err, SECCERT_EINVAL, "certificate TLV: too large");
		return SECCERT_EINVAL;
	}
	if (len >= 10 && !memcmp(data, "-----BEGIN", 10)) {
		b = BIO_new_mem_buf(data, (int)len);
		if (b)
			x = PEM_read_bio_X509(b, NULL, no_password, NULL);
		BIO_free(b);
	} else {
		x = d2i_X509(NULL, &p, (long)len);
		if (x && p != data + len) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	if (!x) {
		set_err(err, SECCERT_ECRYPTO, "certificate TLV: not a PEM or DER X.509 certificate");
		return SECCERT_ECRYPTO;
	}
	*out = x;
	return SECCERT_OK;
}

int seccert_pem_read_key(const uint8_t *data, size_t len, EVP_PKEY **out, struct seccert_err *err)
{
	BIO *b = NULL;
	const unsigned char *p = data;
	EVP_PKEY *k = NULL;

	*out = NULL;
	if (len > INT_MAX) {
		set_err(err, SECCERT_EINVAL, "private key TLV: too large");
		return SECCERT_EINVAL;
	}
	if (len >= 10 && !memcmp(data, "-----BEGIN", 10)) {
		b = BIO_new_mem_buf(data, (int)len);
		if (b)
			k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
		BIO_free(b);
	} else {
		k = d2i_AutoPrivateKey(NULL, &p, (long)len);
		if (k && p != data + len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	ERR_clear_error();
	if (!k) {
		set_err(err, SECCERT_ECRYPTO, "private key TLV: not a PEM or DER private key");
		return SECCERT_ECRYPTO;
	}
	*out = k;
	return SECCERT_OK;
}
