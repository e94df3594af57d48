/* Private to the store: what the SQLite (store_cert.c, store_hmac.c) and
 * PostgreSQL (store_pg_cert.c, store_pg_hmac.c) twins of identities and
 * HMAC keys share, so the checks, the sealing AADs and the messages are
 * written once and both backends give the same answers. */
#ifndef ESPFAB_STORE_IDENT_H
#define ESPFAB_STORE_IDENT_H

#include "espfab/store_cert.h"
#include "espfab/store_hmac.h"
#include "store_int.h"

/* The product's esp_secure_cert partition named part_label: its offset and
 * size, or STORE_EINPUT naming what is wrong with it. */
int store_identity_part(const struct store_product *p, const char *part_label, uint32_t *offset, uint32_t *size,
			struct store_err *err);
/* The device key of c sealed for its row (*sealed NULL when the profile
 * does not keep keys); *sealed: the caller frees it. STORE_ESEAL without a
 * seal key. */
int store_cert_seal_key(const struct store *s, const struct store_cert_new *c, uint8_t **sealed, size_t *sealed_len,
			struct store_err *err);
/* The kept key of a certificate row, unsealed into c->key. */
int store_cert_unseal_key(const struct store *s, struct store_cert *c, int64_t product_id, const uint8_t *ct,
			  size_t len, struct store_err *err);
/* The certificate as PEM text (null when der does not parse). */
json_t *store_cert_der_pem(const void *der, int len);

/* STORE_EINPUT / STORE_ESEAL for a product setting store_hmac_product_set refuses. */
int store_hmac_product_check(const struct store *s, const struct store_hmac_product *hp, struct store_err *err);
/* product.show's "nvs_encryption" object. */
json_t *store_hmac_product_json(const struct store_hmac_product *hp);
/* A row's state; a string the schema does not allow reads as no row. */
enum store_hmac_state store_hmac_state_of_row(const char *state);
/* The event's MAC, normalised into mac, and the target state checked. */
int store_hmac_event_check(const struct store_hmac_event *e, enum store_hmac_state to, char *mac,
			   struct store_err *err);
/* cur -> to allowed, and key given only with BURNING; then the key sealed
 * (*sealed NULL when key is). *sealed: the caller frees it. */
int store_hmac_transition(const struct store *s, const struct store_hmac_event *e, const char *mac,
			  enum store_hmac_state cur, enum store_hmac_state to, const uint8_t *key, uint8_t **sealed,
			  size_t *sealed_len, struct store_err *err);
/* A sealed device key (row of mac, block) into out->key. */
int store_hmac_unseal_key(const struct store *s, const uint8_t *ct, size_t len, const char *mac, unsigned block,
			  struct store_hmac_device *out, struct store_err *err);
/* The audit's efuse column: "BLOCK_KEY1 HMAC_UP read,write". */
void store_hmac_efuse_text(char *buf, size_t cap, const struct store_hmac_event *e);

#endif
