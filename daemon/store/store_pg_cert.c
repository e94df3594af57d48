/* Identity profiles and issued certificates on PostgreSQL (schema
 * schemas/pg/004_identity.sql; the SQLite twin is store_cert.c, the rules
 * both share are store_ident.h's). Each change is one transaction, audited
 * inside it, committed before the call returns.
 *
 * CONCURRENCY. The SQLite store runs one writer at a time, so a second
 * issue for a MAC sees the first one's row and supersedes it. Here two
 * stations issuing for one MAC at once (one device seen on two lines)
 * take turns on the device's lock (pg_device_lock), taken first: the
 * second then reads the first one's committed row, as on SQLite. The
 * lock starts with the device's record, as a claim and a job transition
 * do (record, then job): the daemon's group commit puts these calls in
 * one transaction with claims and results (station_round.c), and two
 * stations' rounds taking the record and the MAC's lock in opposite
 * orders could deadlock. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_ident.h"
#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

int pg_device_lock(struct store *s, int kind, int64_t product_id, const char *mac, struct store_err *err)
{
	/* One round trip, in order: the aggregate reads (and locks) the
	 * record before the row above it takes the advisory lock. Its
	 * two-key form is apart from the migration's one-key lock; hashtext
	 * collisions only make two MACs take turns. */
	return pg_x(s, err, NULL, "device lock",
		    "SELECT pg_advisory_xact_lock($1::int, hashtext($2)) FROM (SELECT count(*) FROM (SELECT id FROM "
		    "records WHERE product_id = $3 AND mac = $2 FOR UPDATE) r) n",
		    "isi", (int64_t)kind, mac, product_id);
}

int pg_identity_set(struct store *s, const char *product, const char *profile_json, const char *part_label,
		    struct store_err *err)
{
	struct store_product *p = NULL;
	uint32_t off = 0, size = 0;
	char now[32];
	int rc;

	if ((rc = pg_product_get(s, product, &p, err)) || (rc = store_identity_part(p, part_label, &off, &size, err)))
		goto out;
	if ((rc = pg_begin(s, err)))
		goto out;
	store_now(now, sizeof(now));
	rc = pg_x(s, err, NULL, "identity profile",
		  "INSERT INTO product_identity (product_id, profile, part_offset, part_size, created) "
		  "VALUES ($1, $2, $3, $4, $5)",
		  "isiis", p->id, profile_json, (int64_t)off, (int64_t)size, now);
	if (rc == STORE_EDB && err && strstr(err->msg, "product_identity_pkey"))
		rc = store_fail_err(err, STORE_EEXIST, "product %s already has an identity profile (it never changes)",
				    product);
	if (!rc) {
		struct store_audit_entry a = {.product = product, .baud = -1, .retries = -1, .duration_ms = -1};
		rc = pg_audit_insert(s, &a, "product", "identity", err);
	}
	rc = pg_end(s, rc, err);
out:
	store_product_free(p);
	return rc;
}

int pg_identity_get(struct store *s, int64_t product_id, struct store_identity **out, struct store_err *err)
{
	struct store_identity *id = NULL;
	int rc = 0;

	*out = NULL;
	PGresult *r = pg_q(s, err, "identity profile",
			   "SELECT profile, part_offset, part_size FROM product_identity WHERE product_id = $1", "i",
			   product_id);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "the product has no identity profile");
	} else if (!(id = calloc(1, sizeof(*id))) || !(id->profile_json = strdup(PQgetvalue(r, 0, 0)))) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
	} else {
		id->product_id = product_id;
		id->part_offset = (uint32_t)pg_i64(r, 0, 1);
		id->part_size = (uint32_t)pg_i64(r, 0, 2);
		*out = id;
		id = NULL;
	}
	PQclear(r);
	store_identity_free(id);
	return rc;
}

/* Row 0 of a device_certs SELECT (id, record_id, serial, sha256, ca_sha256,
 * state, cert, key_sealed) as a store_cert, the kept key unsealed. */
static int cert_of_row(struct store *s, const PGresult *r, int64_t product_id, const char *mac, struct store_cert **out,
		       struct store_err *err)
{
	struct store_cert *c = calloc(1, sizeof(*c));
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	int rc;

	if (!c)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	c->id = pg_i64(r, 0, 0);
	snprintf(c->mac, sizeof(c->mac), "%s", mac);
	if (pg_str(r, 0, 1) && !(c->record_id = strdup(pg_str(r, 0, 1)))) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	pg_copy_str(c->serial, sizeof(c->serial), r, 2);
	pg_copy_str(c->sha256, sizeof(c->sha256), r, 3);
	pg_copy_str(c->ca_sha256, sizeof(c->ca_sha256), r, 4);
	pg_copy_str(c->state, sizeof(c->state), r, 5);
	if ((rc = pg_bytea(r, 0, 6, &c->der, &c->der_len, err)))
		goto out;
	if (!PQgetisnull(r, 0, 7) && ((rc = pg_bytea(r, 0, 7, &ct, &ct_len, err)) ||
				      (rc = store_cert_unseal_key(s, c, product_id, ct, ct_len, err))))
		goto out;
	*out = c;
	c = NULL;
out:
	free(ct); /* ciphertext */
	store_cert_free(c);
	return rc;
}

int pg_cert_live(struct store *s, int64_t product_id, const char *mac_in, struct store_cert **out,
		 struct store_err *err)
{
	char mac[STORE_MAC_LEN + 1];
	int rc;

	*out = NULL;
	if (store_mac_normalise(mac_in, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	PGresult *r = pg_q(s, err, "certificate",
			   "SELECT id, record_id, serial, sha256, ca_sha256, state, cert, key_sealed FROM device_certs "
			   "WHERE product_id = $1 AND mac = $2 AND state <> 'superseded'",
			   "is", product_id, mac);
	if (!r)
		return RC(err);
	rc = PQntuples(r) == 1 ? cert_of_row(s, r, product_id, mac, out, err)
			       : store_fail_err(err, STORE_ENOTFOUND, "no certificate for that MAC");
	PQclear(r);
	return rc;
}

static int cert_audit(struct store *s, const char *product, const char *mac, const char *record_id, const char *station,
		      const char *port, int64_t job_id, const char *serial, const char *sha256, const char *result,
		      struct store_err *err)
{
	char now[32];

	store_now(now, sizeof(now));
	return pg_x(s, err, NULL, "audit",
		    "INSERT INTO audit (time, event, station, port, mac, product, record_id, job_id, image_sha256, "
		    "cert_serial, result) VALUES ($1, 'certificate', $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		    "ssssssIsss", now, station, port, mac, product, record_id, job_id, sha256, serial, result);
}

/* Inside the transaction, after the MAC's lock: an issued one gives way
 * (with its audit), a delivered one refuses; then the new row. */
static int cert_replace(struct store *s, const struct store_cert_new *c, const char *mac, const uint8_t *sealed,
			size_t sealed_len, struct store_err *err)
{
	char now[32];
	int rc = 0;
	PGresult *r = pg_q(s, err, "certificate",
			   "SELECT state, serial, sha256 FROM device_certs WHERE product_id = $1 AND mac = $2 "
			   "AND state <> 'superseded' FOR UPDATE",
			   "is", c->product_id, mac);

	if (!r)
		return RC(err);
	if (PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "delivered"))
		rc = store_fail_err(err, STORE_ESTATE, "the device already has a delivered certificate");
	else if (PQntuples(r) == 1 &&
		 !(rc = pg_x(
			   s, err, NULL, "certificate",
			   "UPDATE device_certs SET state = 'superseded', key_sealed = NULL WHERE product_id = $1 AND "
			   "mac = $2 AND state = 'issued'",
			   "is", c->product_id, mac)))
		rc = cert_audit(s, c->product, mac, c->record_id, c->station, c->port, c->job_id, PQgetvalue(r, 0, 1),
				PQgetvalue(r, 0, 2), "superseded", err);
	PQclear(r);
	if (rc)
		return rc;
	store_now(now, sizeof(now));
	rc = pg_x(
		s, err, NULL, "certificate",
		"INSERT INTO device_certs (product_id, mac, record_id, ca_sha256, serial, sha256, subject, not_after, "
		"cert, key_sealed, state, station, issued_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''::bytea), 'issued', $11, $12)",
		"isssssssbbss", c->product_id, mac, c->record_id, c->ca_sha256, c->serial, c->sha256, c->subject,
		c->not_after, (const void *)c->der, c->der_len, (const void *)sealed, sealed_len, c->station, now);
	/* pg_q sends a NULL bytea as empty; a sealed key never is (nonce and
	 * tag), hence the nullif. A unique key (the CA's serial, or the
	 * fingerprint) repeated: as on SQLite. */
	if (rc == STORE_EDB && err &&
	    (strstr(err->msg, "device_certs_serial") || strstr(err->msg, "device_certs_sha256")))
		return store_fail_err(err, STORE_EEXIST, "certificate serial %s repeats for its CA", c->serial);
	if (!rc)
		rc = cert_audit(s, c->product, mac, c->record_id, c->station, c->port, c->job_id, c->serial, c->sha256,
				"issued", err);
	return rc;
}

int pg_cert_add(struct store *s, const struct store_cert_new *c, struct store_err *err)
{
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	char mac[STORE_MAC_LEN + 1];
	int rc;

	if (!c->mac || store_mac_normalise(c->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	if ((rc = store_cert_seal_key(s, c, &sealed, &sealed_len, err)))
		return rc;
	if ((rc = pg_begin(s, err)))
		goto out;
	rc = pg_device_lock(s, PG_LOCK_CERT, c->product_id, mac, err);
	if (!rc)
		rc = cert_replace(s, c, mac, sealed, sealed_len, err);
	rc = pg_end(s, rc, err);
out:
	free(sealed);
	return rc;
}

int pg_cert_delivered(struct store *s, int64_t product_id, const char *mac_in, const char *station, const char *port,
		      int64_t job_id, struct store_err *err)
{
	char mac[STORE_MAC_LEN + 1], now[32];
	PGresult *r = NULL;
	int rc;

	if (store_mac_normalise(mac_in, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_device_lock(s, PG_LOCK_CERT, product_id, mac, err)))
		goto end;
	store_now(now, sizeof(now));
	/* The row and its audit facts in one statement; none: nothing issued
	 * and waiting, already delivered (a no-op, as on SQLite). */
	r = pg_q(s, err, "certificate",
		 "UPDATE device_certs c SET state = 'delivered', delivered_at = $1 FROM products p "
		 "WHERE p.id = c.product_id AND c.product_id = $2 AND c.mac = $3 AND c.state = 'issued' "
		 "RETURNING c.serial, c.sha256, p.name, c.record_id",
		 "sis", now, product_id, mac);
	if (!r) {
		rc = RC(err);
		goto end;
	}
	if (PQntuples(r) == 1)
		rc = cert_audit(s, PQgetvalue(r, 0, 2), mac, pg_str(r, 0, 3), station, port, job_id,
				PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), "delivered", err);
	PQclear(r);
end:
	return pg_end(s, rc, err);
}

int pg_cert_query(struct store *s, const struct store_cert_filter *f, json_t **out, struct store_err *err)
{
	static const char *const cols[] = {"product", "mac",       "record_id", "serial",  "sha256",    "ca_sha256",
					   "subject", "not_after", "state",     "station", "issued_at", "delivered_at"};
	char mac[STORE_MAC_LEN + 1];
	json_t *arr = NULL;
	PGresult *r;
	int rc = 0;

	*out = NULL;
	if (f->mac && store_mac_normalise(f->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", f->mac);
	r = pg_q(s, err, "certificates",
		 "SELECT p.name, c.mac, c.record_id, c.serial, c.sha256, c.ca_sha256, c.subject, c.not_after, "
		 "c.state, c.station, c.issued_at, c.delivered_at, c.key_sealed IS NOT NULL, c.cert "
		 "FROM device_certs c JOIN products p ON p.id = c.product_id "
		 "WHERE ($1::text IS NULL OR p.name = $1) AND ($2::text IS NULL OR c.mac = $2) AND "
		 "(CASE WHEN $3::text IS NULL THEN c.state <> 'superseded' WHEN $3 = 'all' THEN true "
		 "ELSE c.state = $3 END) ORDER BY c.id",
		 "sss", f->product, f->mac ? mac : NULL, f->state);
	if (!r)
		return RC(err);
	arr = json_array();
	for (int i = 0; arr && !rc && i < PQntuples(r); i++) {
		json_t *o = json_object();
		uint8_t *der = NULL;
		size_t der_len = 0;
		for (int k = 0; o && k < (int)(sizeof(cols) / sizeof(cols[0])); k++)
			json_object_set_new(o, cols[k], pg_json(r, i, k));
		json_object_set_new(o, "key_kept", json_boolean(!strcmp(PQgetvalue(r, i, 12), "t")));
		if (!(rc = pg_bytea(r, i, 13, &der, &der_len, err)))
			json_object_set_new(o, "pem", store_cert_der_pem(der, (int)der_len));
		free(der);
		json_array_append_new(arr, o);
	}
	PQclear(r);
	if (!rc && !(*out = arr ? json_pack("{s:O}", "certificates", arr) : NULL))
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
	json_decref(arr);
	return rc;
}
