/* NVS encryption with the HMAC eFuse scheme in the store (schema 005,
 * docs/efuse.md): a product's choice (key block, protection, whether the
 * per-device key is kept sealed) and, per device (MAC, key block), where
 * the burn of its HMAC key got to:
 *   (none) -> key-burning -> key-burnt -> done
 *   key-burning -> refused (nothing burnt) -> key-burning (a later run)
 *   key-burning | key-burnt -> rework (a key is or may be on the chip and
 *   the station cannot finish the device)
 * Every change is durable before the call returns and audited in the same
 * transaction (event "efuse", result = the new state, column efuse =
 * "BLOCK_KEY1 HMAC_UP read,write"). The key is never stored in clear and
 * never in the audit; it is sealed (store seal key, AAD = MAC and block)
 * only when the product asks for it. The same on both backends (SQLite:
 * store_hmac.c; PostgreSQL: store_pg_hmac.c). Conventions as espfab/store.h.
 */
#ifndef ESPFAB_STORE_HMAC_H
#define ESPFAB_STORE_HMAC_H

#include <jansson.h>
#include <stdint.h>

#include "espfab/store.h"
#include "espfab/store_state.h"

#define STORE_HMAC_KEY_LEN 32

struct store_hmac_product {
	unsigned key_block; /* BLOCK_KEY0..5 = 0..5 */
	unsigned protect;   /* EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE bits */
	int seal;           /* keep each device's key sealed */
};

/* Once per product (STORE_EEXIST after that). seal needs a store opened
 * with a seal key (STORE_ESEAL otherwise). */
int store_hmac_product_set(struct store *s, const char *product, const struct store_hmac_product *hp,
			   struct store_err *err);
/* STORE_ENOTFOUND: the product writes plain NVS images. */
int store_hmac_product_get(struct store *s, int64_t product_id, struct store_hmac_product *out,
			   struct store_err *err);
/* Adds "nvs_encryption": {"scheme":"hmac","key_block":"BLOCK_KEY1",
 * "read_protect","write_protect","seal_key"} to each product of a
 * store_product_query() reply (product.list / product.show) that has it;
 * plain products are left as they were. */
int store_hmac_annotate(struct store *s, json_t *reply, struct store_err *err);

/* enum store_hmac_state and its names and transitions: espfab/store_state.h. */

struct store_hmac_device {
	enum store_hmac_state state;
	unsigned protect;
	int has_key;                     /* key holds the unsealed key */
	uint8_t key[STORE_HMAC_KEY_LEN]; /* the caller wipes it (OPENSSL_cleanse) */
};
/* The device's row (state NONE when there is none). An unsealed key needs
 * the store's seal key (STORE_ESEAL). */
int store_hmac_device_get(struct store *s, const char *mac, unsigned key_block, struct store_hmac_device *out,
			  struct store_err *err);

/* What the audit row of a change says. Strings may be NULL except mac. */
struct store_hmac_event {
	const char *station, *port, *chip, *mac, *product, *record_id;
	int64_t product_id, batch_id, job_id;
	unsigned key_block, purpose, protect;
	const char *note; /* one line: why (rework, refused), never key bytes */
};
/* The row goes to `to` (BURNING creates it). key: with BURNING only, the
 * key to seal (NULL: not kept); other states keep the sealed key as it is.
 * STORE_ESTATE for a change the state machine does not allow. */
int store_hmac_set(struct store *s, const struct store_hmac_event *e, enum store_hmac_state to,
		   const uint8_t *key, struct store_err *err);

#endif
