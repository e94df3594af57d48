/* Per-device identities: a key pair generated at the station and a
 * certificate signed by a local CA, bound to the device's MAC, and the
 * esp_secure_cert image that carries them.
 *
 * The product's identity profile (JSON, see docs/secure-cert.md):
 *   {"key": "ec-p256" | "rsa-2048",            default ec-p256
 *    "subject": [["O", "Acme"], ["CN", "{mac}"]], required, in this order
 *    "validity_days": 7300,                     default 7300
 *    "include_ca": true,                        the CA certificate TLV, default true
 *    "keep_keys": false,                        the store keeps the sealed key, default false
 *    "partition": "esp_secure_cert",            the table label, default that
 *    "ca_cert": PATH, "ca_key": PATH}           the issuing CA (read by the daemon)
 * Subject templates: {mac} aa:bb:cc:dd:ee:ff, {mac_hex} aabbccddeeff,
 * {record} the record's id, {field:NAME} a value of the record. A subject
 * must contain {mac} or {mac_hex} somewhere (the certificate is bound to the
 * device). Every certificate also names the MAC in a SAN URI
 * "urn:dev:mac:aabbccddeeff" (RFC 9039 style), so the binding holds whatever
 * the subject says.
 *
 * Pure computation with OpenSSL (key generation, signing, random serial):
 * no files, no globals. Private keys are secrets: never in messages.
 */
#ifndef ESPFAB_SECCERT_ISSUE_H
#define ESPFAB_SECCERT_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "espfab/seccert.h"

#define SECCERT_ISSUE_MAX_RDN 8
#define SECCERT_ISSUE_SERIAL_LEN 16 /* random bytes; top bit clear: positive, 127 bits of entropy */

enum seccert_key_type { SECCERT_KEY_EC_P256, SECCERT_KEY_RSA_2048 };

struct seccert_rdn {
	char attr[16];  /* "CN", "O", "OU", "C", "L", "ST", "serialNumber" ... */
	char tmpl[128];
};

struct seccert_profile {
	enum seccert_key_type key_type;
	struct seccert_rdn subject[SECCERT_ISSUE_MAX_RDN];
	size_t n_subject;
	unsigned validity_days;
	bool include_ca;
	bool keep_keys;
	char partition[20];
	char ca_cert[256];
	char ca_key[256];
};

/* Parse and check a profile (JSON text). Unknown members are errors. */
int seccert_profile_parse(const char *json, size_t len, struct seccert_profile *p, struct seccert_err *err);
/* The profile back as canonical JSON text (malloc'd, NUL-terminated). */
int seccert_profile_json(const struct seccert_profile *p, char **out, struct seccert_err *err);

/* A loaded issuing CA. */
struct seccert_ca {
	X509 *cert;
	EVP_PKEY *key;
	char sha256[65]; /* of the CA certificate's DER, hex: names the CA in the store */
};

/* From PEM (or DER) bytes: the key must belong to the certificate, and the
 * certificate must be a CA (basicConstraints CA:TRUE) that may sign
 * certificates. *out is the caller's (seccert_ca_free, which frees the key). */
int seccert_ca_load(const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
		    struct seccert_ca **out, struct seccert_err *err);
void seccert_ca_free(struct seccert_ca *ca);

/* Values for the subject templates. field may be NULL (no {field:} then). */
struct seccert_vars {
	const char *mac; /* "aa:bb:cc:dd:ee:ff" */
	const char *record_id;
	int (*field)(void *ctx, const char *name, const char **value, size_t *len);
	void *ctx;
};

/* A fresh key pair and its certificate. *cert and *key are the caller's
 * (X509_free, EVP_PKEY_free). */
int seccert_issue(const struct seccert_profile *p, const struct seccert_ca *ca, const struct seccert_vars *v,
		  X509 **cert, EVP_PKEY **key, struct seccert_err *err);

/* The same with a key made beforehand (seccert_keygen, e.g. on another
 * thread): given must be of the profile's key type; the call takes it (on
 * success it comes back in *key, on error it is freed). */
int seccert_issue_key(const struct seccert_profile *p, const struct seccert_ca *ca, const struct seccert_vars *v,
		      EVP_PKEY *given, X509 **cert, EVP_PKEY **key, struct seccert_err *err);
/* A fresh key pair of that type. */
int seccert_keygen(enum seccert_key_type t, EVP_PKEY **out, struct seccert_err *err);

/* The esp_secure_cert image for a device: CA certificate (when ca is not
 * NULL), device certificate, private key (when key is not NULL), integrity
 * TLV, then 0xFF up to cap (the partition's size) when pad. The same bytes
 * configure_esp_secure_cert.py writes for those objects saved as PEM. buf
 * holds a private key: the caller wipes it. */
int seccert_issue_image(const X509 *ca, const X509 *cert, const EVP_PKEY *key, bool pad, uint8_t *buf,
			size_t cap, size_t *out_len, struct seccert_err *err);

/* Hex helpers for what the store and the audit record. out: 65 bytes / 2*n+1. */
int seccert_cert_sha256(const X509 *cert, char *out);
int seccert_cert_serial(const X509 *cert, char *out, size_t cap);

#endif
