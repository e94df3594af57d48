/* The bytes esp_secure_cert_mgr puts in a certificate or private-key TLV.
 *
 * configure_esp_secure_cert.py does not copy its input files: it loads them
 * (PEM first, then DER) and writes them again, a certificate as PEM with a
 * NUL appended or as the same DER, a private key in OpenSSL's traditional
 * form ("EC PRIVATE KEY" / "RSA PRIVATE KEY" PEM plus a NUL, or SEC1 /
 * PKCS#1 DER). So CRLF line ends, text around the PEM block and PKCS#8 keys
 * all end up as the same TLV bytes. These functions do the same with
 * OpenSSL; espfab's generator therefore matches the reference for any input
 * the reference takes.
 *
 * No files: callers read them. The key functions' output is secret: free it
 * with seccert_pem_free_secret() (wipes). Only EC and RSA keys are taken (the
 * reference refuses the others: the traditional form needs one). Encrypted
 * PEM keys are refused (the reference's CLI cannot pass a password through
 * its plaintext path either).
 */
#ifndef ESPFAB_SECCERT_PEM_H
#define ESPFAB_SECCERT_PEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "espfab/seccert.h"

/* in: a certificate file's bytes (PEM or DER). *out: malloc'd TLV data,
 * *pem says which form was found. what names the input in errors
 * ("device certificate"). */
int seccert_pem_cert(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *out_len, bool *pem,
		     struct seccert_err *err);

/* in: a private key file's bytes (PEM or DER, traditional or PKCS#8). */
int seccert_pem_key(const uint8_t *in, size_t len, const char *what, uint8_t **out, size_t *out_len, bool *pem,
		    struct seccert_err *err);

/* The same from objects already loaded (the station's issuer): PEM form,
 * NUL included, as the reference writes a PEM input. */
int seccert_pem_from_x509(const X509 *cert, uint8_t **out, size_t *out_len, struct seccert_err *err);
int seccert_pem_from_pkey(const EVP_PKEY *key, uint8_t **out, size_t *out_len, struct seccert_err *err);

/* The other way: a certificate or key TLV's data (PEM with its NUL, or DER)
 * as an OpenSSL object the caller frees (X509_free / EVP_PKEY_free). */
int seccert_pem_read_cert(const uint8_t *data, size_t len, X509 **out, struct seccert_err *err);
int seccert_pem_read_key(const uint8_t *data, size_t len, EVP_PKEY **out, struct seccert_err *err);

void seccert_pem_free_secret(uint8_t *p, size_t len); /* wipe and free; NULL is fine */

#endif
