/* Per-device identities in the store (schema 004): a product's identity
 * profile and the certificates issued to its devices.
 *
 * The store keeps what is needed to give a returning device the same
 * certificate and what the plant registers with its cloud: the certificate
 * (DER), its serial and SHA-256 fingerprint, and the private key only when
 * the profile keeps keys (sealed with the store's seal key; refused without
 * one). Every issue, supersede and delivery is audited (event
 * "certificate", cert_serial, image_sha256 = the fingerprint), in the same
 * transaction as the change. Conventions as espfab/store.h.
 */
#ifndef ESPFAB_STORE_CERT_H
#define ESPFAB_STORE_CERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/store.h"

/* Attach a profile to a product (once). profile_json is the canonical text
 * (seccert_profile_json); the partition is looked up in the product's table
 * by the profile's label and must be of type 0x3F. */
int store_identity_set(struct store *s, const char *product, const char *profile_json, const char *part_label,
		       struct store_err *err);

struct store_identity {
	int64_t product_id;
	char *profile_json;
	uint32_t part_offset, part_size;
};
/* STORE_ENOTFOUND when the product has no profile. *out: store_identity_free. */
int store_identity_get(struct store *s, int64_t product_id, struct store_identity **out, struct store_err *err);
void store_identity_free(struct store_identity *id);

struct store_cert {
	int64_t id;
	char mac[STORE_MAC_LEN + 1];
	char *record_id;
	char serial[80];
	char sha256[65];
	char ca_sha256[65];
	char state[12];
	uint8_t *der; /* the certificate */
	size_t der_len;
	uint8_t *key; /* the unsealed private key (PEM TLV bytes) when kept, else NULL; wiped by free */
	size_t key_len;
};
/* The live (issued or delivered) certificate of (product, MAC), or
 * STORE_ENOTFOUND. *out: store_cert_free. */
int store_cert_live(struct store *s, int64_t product_id, const char *mac, struct store_cert **out,
		    struct store_err *err);
void store_cert_free(struct store_cert *c);

struct store_cert_new {
	int64_t product_id;
	const char *product; /* for the audit */
	const char *mac, *record_id, *station, *port;
	const char *serial, *sha256, *ca_sha256, *subject, *not_after;
	const uint8_t *der;
	size_t der_len;
	const uint8_t *key; /* NULL: the key is not kept */
	size_t key_len;
	int64_t job_id;
};
/* Records a newly issued certificate ('issued'); a live 'issued' one of the
 * same MAC becomes 'superseded'. STORE_ESTATE when the MAC already has a
 * delivered certificate; STORE_EEXIST when the serial repeats for that CA. */
int store_cert_add(struct store *s, const struct store_cert_new *c, struct store_err *err);
/* issued -> delivered (no-op when already delivered). */
int store_cert_delivered(struct store *s, int64_t product_id, const char *mac, const char *station,
			 const char *port, int64_t job_id, struct store_err *err);

struct store_cert_filter {
	const char *product; /* NULL = all */
	const char *mac;     /* NULL = all */
	const char *state;   /* NULL = live ones (issued, delivered); "all"; or one state */
};
/* {"certificates":[{"product","mac","record_id","serial","sha256","ca_sha256","subject",
 *  "not_after","state","station","issued_at","delivered_at","key_kept","pem"}]} */
int store_cert_query(struct store *s, const struct store_cert_filter *f, json_t **out, struct store_err *err);

#endif
