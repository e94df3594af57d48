/* HMAC NVS encryption on PostgreSQL: the product setting and the per-device
 * burn states (schemas/pg/005_hmac.sql; the SQLite twin is store_hmac.c,
 * the checks both share are store_ident.h's). Each change is one
 * transaction with its audit row, committed before the call returns: a
 * worker burns a key only after key-burning is durable on the server.
 *
 * CONCURRENCY. As in store_pg_cert.c: calls about one MAC take turns on
 * the device's lock (its record, then an advisory lock of the MAC) taken
 * first, so the state read and the write that follows it are one step, as
 * under SQLite's write lock. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_ident.h"
#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

int pg_hmac_product_set(struct store *s, const char *product, const struct store_hmac_product *hp,
			struct store_err *err)
{
	int64_t id = 0;
	char now[32];
	int rc;

	if ((rc = store_hmac_product_check(s, hp, err)))
		return rc;
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_product_id(s, product, &id, err)))
		goto out;
	store_now(now, sizeof(now));
	rc = pg_x(s, err, NULL, "NVS encryption",
		  "INSERT INTO product_nvs_encryption (product_id, scheme, key_block, protect, seal_key, created) "
		  "VALUES ($1, 'hmac', $2, $3, $4, $5)",
		  "iiiis", id, (int64_t)hp->key_block, (int64_t)hp->protect, (int64_t)(hp->seal ? 1 : 0), now);
	if (rc == STORE_EDB && err && strstr(err->msg, "product_nvs_encryption_pkey"))
		rc = store_fail_err(err, STORE_EEXIST, "product %s already has NVS encryption (it never changes)",
				    product);
	if (!rc) {
		struct store_audit_entry a = {.product = product, .baud = -1, .retries = -1, .duration_ms = -1};
		rc = pg_audit_insert(s, &a, "product", "nvs-encryption", err);
	}
out:
	return pg_end(s, rc, err);
}

int pg_hmac_product_get(struct store *s, int64_t product_id, struct store_hmac_product *out, struct store_err *err)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	PGresult *r = pg_q(s, err, "NVS encryption",
			   "SELECT key_block, protect, seal_key FROM product_nvs_encryption WHERE product_id = $1", "i",
			   product_id);
	if (!r)
		return RC(err);
	if (PQntuples(r) == 1) {
		out->key_block = (unsigned)pg_i64(r, 0, 0);
		out->protect = (unsigned)pg_i64(r, 0, 1);
		out->seal = (int)pg_i64(r, 0, 2);
	} else {
		rc = store_fail_err(err, STORE_ENOTFOUND, "plain NVS");
	}
	PQclear(r);
	return rc;
}

int pg_hmac_annotate(struct store *s, json_t *reply, struct store_err *err)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(reply, "products"), i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		struct store_hmac_product hp = {0};
		PGresult *r;

		if (!name)
			continue;
		r = pg_q(s, err, "NVS encryption",
			 "SELECT e.key_block, e.protect, e.seal_key FROM product_nvs_encryption e "
			 "JOIN products p ON p.id = e.product_id WHERE p.name = $1",
			 "s", name);
		if (!r)
			return RC(err);
		if (PQntuples(r) == 1) { /* else plain: left out, as on SQLite */
			hp.key_block = (unsigned)pg_i64(r, 0, 0);
			hp.protect = (unsigned)pg_i64(r, 0, 1);
			hp.seal = (int)pg_i64(r, 0, 2);
			json_object_set_new(p, "nvs_encryption", store_hmac_product_json(&hp));
		}
		PQclear(r);
	}
	return 0;
}

int pg_hmac_device_get(struct store *s, const char *mac, unsigned key_block, struct store_hmac_device *out,
		       struct store_err *err)
{
	char nmac[STORE_MAC_LEN + 1];
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (store_mac_normalise(mac, nmac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	PGresult *r = pg_q(s, err, "device HMAC key",
			   "SELECT state, protect, key_sealed FROM device_hmac_keys WHERE mac = $1 AND key_block = $2",
			   "si", nmac, (int64_t)key_block);
	if (!r)
		return RC(err);
	if (PQntuples(r) == 1) {
		out->state = store_hmac_state_of_row(PQgetvalue(r, 0, 0));
		out->protect = (unsigned)pg_i64(r, 0, 1);
		if (!PQgetisnull(r, 0, 2) && !(rc = pg_bytea(r, 0, 2, &ct, &ct_len, err)))
			rc = store_hmac_unseal_key(s, ct, ct_len, nmac, key_block, out, err);
	}
	free(ct); /* ciphertext */
	PQclear(r);
	return rc;
}

static int hmac_audit(struct store *s, const struct store_hmac_event *e, const char *mac, enum store_hmac_state to,
		      struct store_err *err)
{
	char now[32], what[64];

	store_hmac_efuse_text(what, sizeof(what), e);
	store_now(now, sizeof(now));
	return pg_x(s, err, NULL, "audit",
		    "INSERT INTO audit (time, event, station, port, chip, mac, product, record_id, batch_id, job_id, "
		    "result, error, efuse) VALUES ($1, 'efuse', $2, $3, $4, $5, coalesce($6, (SELECT p.name FROM "
		    "products p JOIN device_hmac_keys k ON k.product_id = p.id WHERE k.mac = $5 AND k.key_block = "
		    "$13::int)), $7, $8, $9, $10, $11, $12)",
		    "sssssssIIsssi", now, e->station, e->port, e->chip, mac, e->product, e->record_id, e->batch_id,
		    e->job_id, store_hmac_state_name(to), e->note, what, (int64_t)e->key_block);
}

/* Inside the transaction, after the MAC's lock: the row's state, the
 * transition checked, then the row written (inserted by the first burn). */
static int hmac_write(struct store *s, const struct store_hmac_event *e, const char *mac, enum store_hmac_state to,
		      const uint8_t *key, struct store_err *err)
{
	enum store_hmac_state cur = STORE_HMAC_NONE;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	char now[32];
	int rc;

	PGresult *r = pg_q(s, err, "device HMAC key",
			   "SELECT state FROM device_hmac_keys WHERE mac = $1 AND key_block = $2 FOR UPDATE", "si", mac,
			   (int64_t)e->key_block);
	if (!r)
		return RC(err);
	if (PQntuples(r) == 1)
		cur = store_hmac_state_of_row(PQgetvalue(r, 0, 0));
	PQclear(r);
	if ((rc = store_hmac_transition(s, e, mac, cur, to, key, &sealed, &sealed_len, err)))
		return rc;
	/* pg_q sends a NULL bytea as empty, a sealed key never is: nullif. */
	store_now(now, sizeof(now));
	if (cur == STORE_HMAC_NONE || to == STORE_HMAC_BURNING)
		rc = pg_x(
			s, err, NULL, "device HMAC key",
			cur == STORE_HMAC_NONE
				? "INSERT INTO device_hmac_keys (product_id, mac, key_block, purpose, protect, state, "
				  "key_sealed, job_id, station, updated) "
				  "VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''::bytea), $8, $9, $10)"
				: "UPDATE device_hmac_keys SET product_id = $1, purpose = $4, protect = $5, state = $6, "
				  "key_sealed = nullif($7, ''::bytea), job_id = $8, station = $9, updated = $10 "
				  "WHERE mac = $2 AND key_block = $3",
			"isiiisbIss", e->product_id, mac, (int64_t)e->key_block, (int64_t)e->purpose,
			(int64_t)(e->protect & 3), store_hmac_state_name(to), (const void *)sealed, sealed_len,
			e->job_id, e->station, now);
	else
		rc = pg_x(s, err, NULL, "device HMAC key",
			  "UPDATE device_hmac_keys SET state = $1, job_id = coalesce($2, job_id), station = $3, "
			  "updated = $4 WHERE mac = $5 AND key_block = $6",
			  "sIsssi", store_hmac_state_name(to), e->job_id, e->station, now, mac, (int64_t)e->key_block);
	if (!rc)
		rc = hmac_audit(s, e, mac, to, err);
	free(sealed);
	return rc;
}

int pg_hmac_set(struct store *s, const struct store_hmac_event *e, enum store_hmac_state to, const uint8_t *key,
		struct store_err *err)
{
	char mac[STORE_MAC_LEN + 1];
	int rc;

	if ((rc = store_hmac_event_check(e, to, mac, err)))
		return rc;
	if ((rc = pg_begin(s, err)))
		return rc;
	rc = pg_device_lock(s, PG_LOCK_HMAC, e->product_id, mac, err);
	if (!rc)
		rc = hmac_write(s, e, mac, to, key, err);
	return pg_end(s, rc, err);
}
