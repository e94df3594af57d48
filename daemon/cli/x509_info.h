/* What espfab shows of a certificate or key: one JSON description used by
 * `secure-cert dump` and `certs`, and its text form. Never key material. */
#ifndef ESPFAB_X509_INFO_H
#define ESPFAB_X509_INFO_H

#include <stdio.h>

#include <jansson.h>
#include <openssl/types.h>

/* {subject, issuer, serial (hex), not_before, not_after (ISO 8601 UTC),
 *  sha256 (of the DER, hex), key ("EC P-256", "RSA 2048", ...)}.
 * NULL when out of memory; the caller owns the result. */
json_t *x509_info_cert(X509 *cert);

/* "EC P-256", "RSA 2048", ... into buf. */
void x509_info_key(const EVP_PKEY *key, char *buf, size_t cap);

/* The description as indented "name: value" lines. */
void x509_info_print(FILE *f, const json_t *info, const char *indent);

#endif
