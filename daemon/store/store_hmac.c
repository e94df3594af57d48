/* HMAC NVS encryption: product setting and per-device burn states (schema
 * 005). See espfab/store_hmac.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/store_hmac.h"
#include "store_backend.h"
#include "store_ident.h"

/* "none" is never stored: it reads as no row, as does a string the
 * schema's CHECK does not allow. */
enum store_hmac_state store_hmac_state_of_row(const char *state)
{
	int v = store_hmac_state_parse(state);

	return v > STORE_HMAC_NONE ? (enum store_hmac_state)v : STORE_HMAC_NONE;
}

static void aad_of(char *buf, size_t cap, const char *mac, unsigned block)
{
	snprintf(buf, cap, "hmac-key:%s:BLOCK_KEY%u", mac, block);
}

int store_hmac_product_check(const struct store *s, const struct store_hmac_product *hp, struct store_err *err)
{
	if (hp->key_block > 5 || hp->protect > 3)
		return store_fail_err(err, STORE_EINPUT, "NVS encryption: BLOCK_KEY%u / protection %u is not valid",
				      hp->key_block, hp->protect);
	if (hp->seal && !s->has_key)
		return store_fail_err(err, STORE_ESEAL,
				      "--hmac-seal-key keeps each device's HMAC key sealed: it needs --seal-key FILE");
	return 0;
}

int store_hmac_product_set(struct store *s, const char *product, const struct store_hmac_product *hp,
			   struct store_err *err)
{
	STORE_VIA_BACKEND(s, hmac_product_set, (s, product, hp, err));
	sqlite3_stmt *st = NULL;
	int64_t id;
	char now[32];
	int rc;

	if ((rc = store_hmac_product_check(s, hp, err)))
		return rc;
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = store_product_id(s, product, &id, err);
	if (!rc)
		rc = store_prep(s, &st,
				"INSERT INTO product_nvs_encryption (product_id, scheme, key_block, protect, seal_key, "
				"created) VALUES (?, 'hmac', ?, ?, ?, ?)",
				err);
	if (!rc) {
		store_now(now, sizeof(now));
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, (int)hp->key_block);
		sqlite3_bind_int(st, 3, (int)hp->protect);
		sqlite3_bind_int(st, 4, hp->seal ? 1 : 0);
		store_bind_text(st, 5, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY
				     ? store_fail_err(err, STORE_EEXIST, "product %s already has NVS encryption (it never changes)",
						      product)
				     : store_db_err(s, err, "NVS encryption");
	}
	store_unprep(s, st);
	if (!rc) {
		struct store_audit_entry a = {.product = product, .baud = -1, .retries = -1, .duration_ms = -1};
		rc = store_audit_insert(s, &a, "product", "nvs-encryption", err);
	}
	return store_end(s, rc, err);
}

int store_hmac_product_get(struct store *s, int64_t product_id, struct store_hmac_product *out,
			   struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	STORE_VIA_BACKEND(s, hmac_product_get, (s, product_id, out, err));
	memset(out, 0, sizeof(*out));
	rc = store_prep(s, &st, "SELECT key_block, protect, seal_key FROM product_nvs_encryption WHERE product_id = ?",
			err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, product_id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		out->key_block = (unsigned)sqlite3_column_int(st, 0);
		out->protect = (unsigned)sqlite3_column_int(st, 1);
		out->seal = sqlite3_column_int(st, 2);
	} else {
		rc = r == SQLITE_DONE ? store_fail_err(err, STORE_ENOTFOUND, "plain NVS")
				      : store_db_err(s, err, "NVS encryption");
	}
	store_unprep(s, st);
	return rc;
}

int store_hmac_unseal_key(const struct store *s, const uint8_t *ct, size_t len, const char *mac, unsigned block,
			  struct store_hmac_device *out, struct store_err *err)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	char aad[64];
	int rc;

	aad_of(aad, sizeof(aad), mac, block);
	rc = store_unseal(s, ct, len, aad, &pt, &pt_len, err);
	if (!rc && pt_len != STORE_HMAC_KEY_LEN)
		rc = store_fail_err(err, STORE_ESEAL, "device HMAC key: sealed key of %zu bytes", pt_len);
	if (!rc) {
		memcpy(out->key, pt, STORE_HMAC_KEY_LEN);
		out->has_key = 1;
	}
	if (pt) {
		OPENSSL_cleanse(pt, pt_len);
		free(pt);
	}
	return rc;
}

int store_hmac_device_get(struct store *s, const char *mac, unsigned key_block, struct store_hmac_device *out,
			  struct store_err *err)
{
	STORE_VIA_BACKEND(s, hmac_device_get, (s, mac, key_block, out, err));
	sqlite3_stmt *st = NULL;
	char nmac[STORE_MAC_LEN + 1];
	int rc, r;

	memset(out, 0, sizeof(*out));
	if (store_mac_normalise(mac, nmac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	rc = store_prep(s, &st, "SELECT state, protect, key_sealed FROM device_hmac_keys WHERE mac = ? AND key_block = ?",
			err);
	if (rc)
		return rc;
	store_bind_text(st, 1, nmac);
	sqlite3_bind_int(st, 2, (int)key_block);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE)
		goto out;
	if (r != SQLITE_ROW) {
		rc = store_db_err(s, err, "device HMAC key");
		goto out;
	}
	out->state = store_hmac_state_of_row((const char *)sqlite3_column_text(st, 0));
	out->protect = (unsigned)sqlite3_column_int(st, 1);
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		rc = store_hmac_unseal_key(s, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), nmac,
					   key_block, out, err);
out:
	store_unprep(s, st);
	return rc;
}

static const char *purpose_label(unsigned p)
{
	return p == 8 ? "HMAC_UP" : "?";
}

void store_hmac_efuse_text(char *buf, size_t cap, const struct store_hmac_event *e)
{
	snprintf(buf, cap, "BLOCK_KEY%u %s %s", e->key_block, purpose_label(e->purpose),
		 (e->protect & 3) == 3 ? "read,write"
		 : (e->protect & 1)    ? "read"
		 : (e->protect & 2)    ? "write"
				       : "open");
}

static int hmac_audit(struct store *s, const struct store_hmac_event *e, const char *mac, enum store_hmac_state to,
		      struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32], what[64];
	int rc = store_prep(s, &st,
			    "INSERT INTO audit (time, event, station, port, chip, mac, product, record_id, batch_id, "
			    "job_id, result, error, efuse) VALUES (?1, 'efuse', ?2, ?3, ?4, ?5, coalesce(?6, (SELECT p.name FROM "
			    "products p JOIN device_hmac_keys k ON k.product_id = p.id WHERE k.mac = ?5 AND k.key_block = "
			    "?13)), ?7, ?8, ?9, ?10, ?11, ?12)",
			    err);

	if (rc)
		return rc;
	store_hmac_efuse_text(what, sizeof(what), e);
	store_now(now, sizeof(now));
	store_bind_text(st, 1, now);
	store_bind_text(st, 2, e->station);
	store_bind_text(st, 3, e->port);
	store_bind_text(st, 4, e->chip);
	store_bind_text(st, 5, mac);
	store_bind_text(st, 6, e->product);
	store_bind_text(st, 7, e->record_id);
	store_bind_opt_int(st, 8, e->batch_id > 0 ? e->batch_id : -1);
	store_bind_opt_int(st, 9, e->job_id > 0 ? e->job_id : -1);
	store_bind_text(st, 10, store_hmac_state_name(to));
	store_bind_text(st, 11, e->note);
	store_bind_text(st, 12, what);
	sqlite3_bind_int(st, 13, (int)e->key_block);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "audit");
	store_unprep(s, st);
	return rc;
}

int store_hmac_transition(const struct store *s, const struct store_hmac_event *e, const char *mac,
			  enum store_hmac_state cur, enum store_hmac_state to, const uint8_t *key, uint8_t **sealed,
			  size_t *sealed_len, struct store_err *err)
{
	char aad[64];

	*sealed = NULL;
	*sealed_len = 0;
	if (!store_state_allowed(STORE_LC_HMAC, (int)cur, (int)to))
		return store_fail_err(err, STORE_ESTATE, "device %s BLOCK_KEY%u: %s -> %s is not allowed", mac,
				      e->key_block, store_hmac_state_name(cur), store_hmac_state_name(to));
	if (!key)
		return 0;
	if (to != STORE_HMAC_BURNING)
		return store_fail_err(err, STORE_EINPUT, "device HMAC key: a key is sealed only before the burn");
	aad_of(aad, sizeof(aad), mac, e->key_block);
	return store_seal(s, key, STORE_HMAC_KEY_LEN, aad, sealed, sealed_len, err);
}

/* Inside the transaction: insert or update the row. */
static int hmac_write(struct store *s, const struct store_hmac_event *e, const char *mac, enum store_hmac_state to,
		      const uint8_t *key, struct store_err *err)
{
	struct store_hmac_device cur;
	sqlite3_stmt *st = NULL;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	char now[32];
	int rc;

	/* the current state, without unsealing */
	rc = store_prep(s, &st, "SELECT state FROM device_hmac_keys WHERE mac = ? AND key_block = ?", err);
	if (rc)
		return rc;
	store_bind_text(st, 1, mac);
	sqlite3_bind_int(st, 2, (int)e->key_block);
	memset(&cur, 0, sizeof(cur));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cur.state = store_hmac_state_of_row((const char *)sqlite3_column_text(st, 0));
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, err, "device HMAC key");
	store_unprep(s, st);
	st = NULL;
	if (rc)
		return rc;
	rc = store_hmac_transition(s, e, mac, cur.state, to, key, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	store_now(now, sizeof(now));
	if (cur.state == STORE_HMAC_NONE)
		rc = store_prep(s, &st,
				"INSERT INTO device_hmac_keys (product_id, mac, key_block, purpose, protect, state, "
				"key_sealed, job_id, station, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
				err);
	else if (to == STORE_HMAC_BURNING)
		rc = store_prep(s, &st,
				"UPDATE device_hmac_keys SET product_id = ?1, purpose = ?4, protect = ?5, state = ?6, "
				"key_sealed = ?7, job_id = ?8, station = ?9, updated = ?10 WHERE mac = ?2 AND key_block = ?3",
				err);
	else
		rc = store_prep(s, &st,
				"UPDATE device_hmac_keys SET state = ?6, job_id = coalesce(?8, job_id), station = ?9, "
				"updated = ?10 WHERE mac = ?2 AND key_block = ?3",
				err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, e->product_id);
	store_bind_text(st, 2, mac);
	sqlite3_bind_int(st, 3, (int)e->key_block);
	sqlite3_bind_int(st, 4, (int)e->purpose);
	sqlite3_bind_int(st, 5, (int)(e->protect & 3));
	store_bind_text(st, 6, store_hmac_state_name(to));
	if (sealed)
		sqlite3_bind_blob(st, 7, sealed, (int)sealed_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	store_bind_opt_int(st, 8, e->job_id > 0 ? e->job_id : -1);
	store_bind_text(st, 9, e->station);
	store_bind_text(st, 10, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "device HMAC key");
	if (!rc)
		rc = hmac_audit(s, e, mac, to, err);
out:
	store_unprep(s, st);
	free(sealed);
	return rc;
}

int store_hmac_event_check(const struct store_hmac_event *e, enum store_hmac_state to, char *mac, struct store_err *err)
{
	if (!e->mac || store_mac_normalise(e->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "device HMAC key: bad MAC address");
	if (to == STORE_HMAC_NONE || e->key_block > 5)
		return store_fail_err(err, STORE_EINPUT, "device HMAC key: bad state or key block");
	return 0;
}

int store_hmac_set(struct store *s, const struct store_hmac_event *e, enum store_hmac_state to,
		   const uint8_t *key, struct store_err *err)
{
	STORE_VIA_BACKEND(s, hmac_set, (s, e, to, key, err));
	char mac[STORE_MAC_LEN + 1];
	int rc;

	if ((rc = store_hmac_event_check(e, to, mac, err)))
		return rc;
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = hmac_write(s, e, mac, to, key, err);
	return store_end(s, rc, err);
}

json_t *store_hmac_product_json(const struct store_hmac_product *hp)
{
	char block[16];

	snprintf(block, sizeof(block), "BLOCK_KEY%u", hp->key_block);
	return json_pack("{s:s, s:s, s:b, s:b, s:b}", "scheme", "hmac", "key_block", block, "read_protect",
			 (hp->protect & 1) != 0, "write_protect", (hp->protect & 2) != 0, "seal_key", hp->seal != 0);
}

int store_hmac_annotate(struct store *s, json_t *reply, struct store_err *err)
{
	STORE_VIA_BACKEND(s, hmac_annotate, (s, reply, err));
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(reply, "products"), i, p)
	{
		struct store_hmac_product hp;
		const char *name = json_string_value(json_object_get(p, "name"));
		int64_t id;
		int rc = name ? store_product_id(s, name, &id, err) : STORE_ENOTFOUND;
		if (!rc)
			rc = store_hmac_product_get(s, id, &hp, err);
		if (rc == STORE_ENOTFOUND) /* plain: left out, as before schema 005 */
			continue;
		if (rc)
			return rc;
		json_object_set_new(p, "nvs_encryption", store_hmac_product_json(&hp));
	}
	return 0;
}
