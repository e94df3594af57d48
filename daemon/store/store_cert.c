/* Identity profiles and issued certificates (schema 004). See
 * espfab/store_cert.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "espfab/part.h"
#include "espfab/store_cert.h"
#include "store_backend.h"
#include "store_ident.h"

#define CERT_PART_TYPE 0x3F /* esp_secure_cert_mgr's ESP_SECURE_CERT_TLV_PARTITION_TYPE */

int store_identity_part(const struct store_product *p, const char *part_label, uint32_t *offset, uint32_t *size,
			struct store_err *err)
{
	const char *product = p->name;
	struct part_table *t = NULL;
	struct part_opts o;
	struct part_err perr;
	const struct part_entry *e;
	int rc = 0;

	part_opts_init(&o);
	if (part_bin_parse(p->part_table, p->part_table_len, &o, &t, &perr)) {
		rc = store_fail_err(err, STORE_EINPUT, "product %s: partition table: %s", product, perr.msg);
		goto out;
	}
	e = part_find_label(t, part_label);
	if (!e) {
		rc = store_fail_err(err, STORE_EINPUT, "product %s: no '%s' partition in its table", product,
				    part_label);
		goto out;
	}
	if (e->type != CERT_PART_TYPE) {
		rc = store_fail_err(err, STORE_EINPUT,
				    "product %s: partition '%s' is of type 0x%02x, an esp_secure_cert partition is 0x3F",
				    product, part_label, e->type);
		goto out;
	}
	if (e->offset % 4096) {
		rc = store_fail_err(err, STORE_EINPUT, "product %s: partition '%s' is not on a 4 KiB boundary", product,
				    part_label);
		goto out;
	}
	if (e->offset < p->part_offset + p->part_size && p->part_offset < e->offset + e->size) {
		rc = store_fail_err(err, STORE_EINPUT, "product %s: partition '%s' overlaps the NVS partition", product,
				    part_label);
		goto out;
	}
	*offset = e->offset;
	*size = e->size;
out:
	part_table_free(t);
	return rc;
}

int store_identity_set(struct store *s, const char *product, const char *profile_json, const char *part_label,
		       struct store_err *err)
{
	STORE_VIA_BACKEND(s, identity_set, (s, product, profile_json, part_label, err));
	struct store_product *p = NULL;
	sqlite3_stmt *st = NULL;
	uint32_t off = 0, size = 0;
	char now[32];
	int rc;

	rc = store_product_get(s, product, &p, err);
	if (rc)
		return rc;
	rc = store_identity_part(p, part_label, &off, &size, err);
	if (rc)
		goto out;
	rc = store_begin(s, err);
	if (rc)
		goto out;
	rc = store_prep(s, &st,
			"INSERT INTO product_identity (product_id, profile, part_offset, part_size, created) "
			"VALUES (?, ?, ?, ?, ?)",
			err);
	if (!rc) {
		store_now(now, sizeof(now));
		sqlite3_bind_int64(st, 1, p->id);
		store_bind_text(st, 2, profile_json);
		sqlite3_bind_int64(st, 3, off);
		sqlite3_bind_int64(st, 4, size);
		store_bind_text(st, 5, now);
		if (sqlite3_step(st) != SQLITE_DONE) {
			if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_PRIMARYKEY)
				rc = store_fail_err(err, STORE_EEXIST,
						    "product %s already has an identity profile (it never changes)",
						    product);
			else
				rc = store_db_err(s, err, "identity profile");
		}
	}
	store_unprep(s, st);
	if (!rc) {
		struct store_audit_entry a = {.product = product, .baud = -1, .retries = -1, .duration_ms = -1};
		rc = store_audit_insert(s, &a, "product", "identity", err);
	}
	rc = store_end(s, rc, err);
out:
	store_product_free(p);
	return rc;
}

void store_identity_free(struct store_identity *id)
{
	if (!id)
		return;
	free(id->profile_json);
	free(id);
}

int store_identity_get(struct store *s, int64_t product_id, struct store_identity **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, identity_get, (s, product_id, out, err));
	sqlite3_stmt *st = NULL;
	struct store_identity *id = NULL;
	int rc, r;

	*out = NULL;
	rc = store_prep(s, &st, "SELECT profile, part_offset, part_size FROM product_identity WHERE product_id = ?",
			err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, product_id);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "the product has no identity profile");
	} else if (r != SQLITE_ROW) {
		rc = store_db_err(s, err, "identity profile");
	} else if (!(id = calloc(1, sizeof(*id))) || !(id->profile_json = store_col_strdup(st, 0))) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
	} else {
		id->product_id = product_id;
		id->part_offset = (uint32_t)sqlite3_column_int64(st, 1);
		id->part_size = (uint32_t)sqlite3_column_int64(st, 2);
		*out = id;
		id = NULL;
	}
	store_unprep(s, st);
	store_identity_free(id);
	return rc;
}

void store_cert_free(struct store_cert *c)
{
	if (!c)
		return;
	free(c->record_id);
	free(c->der);
	if (c->key) {
		OPENSSL_cleanse(c->key, c->key_len);
		free(c->key);
	}
	free(c);
}

static void key_aad(char *buf, size_t cap, int64_t product_id, const char *sha256)
{
	snprintf(buf, cap, "espfab cert key v1|%lld|%s", (long long)product_id, sha256);
}

int store_cert_seal_key(const struct store *s, const struct store_cert_new *c, uint8_t **sealed, size_t *sealed_len,
			struct store_err *err)
{
	struct store_err serr = {0};
	char aad[128];
	int rc;

	*sealed = NULL;
	*sealed_len = 0;
	if (!c->key)
		return 0;
	key_aad(aad, sizeof(aad), c->product_id, c->sha256);
	rc = store_seal(s, c->key, c->key_len, aad, sealed, sealed_len, &serr);
	if (rc)
		return store_fail_err(err, rc, "keeping the device key needs the store's seal key: %s", serr.msg);
	return 0;
}

int store_cert_unseal_key(const struct store *s, struct store_cert *c, int64_t product_id, const uint8_t *ct,
			  size_t len, struct store_err *err)
{
	char aad[128];

	key_aad(aad, sizeof(aad), product_id, c->sha256);
	return store_unseal(s, ct, len, aad, &c->key, &c->key_len, err);
}

static void copy_col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int store_cert_live(struct store *s, int64_t product_id, const char *mac_in, struct store_cert **out,
		    struct store_err *err)
{
	STORE_VIA_BACKEND(s, cert_live, (s, product_id, mac_in, out, err));
	sqlite3_stmt *st = NULL;
	struct store_cert *c = NULL;
	char mac[STORE_MAC_LEN + 1];
	int rc, r;

	*out = NULL;
	if (store_mac_normalise(mac_in, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	rc = store_prep(s, &st,
			"SELECT id, record_id, serial, sha256, ca_sha256, state, cert, key_sealed FROM device_certs "
			"WHERE product_id = ? AND mac = ? AND state != 'superseded'",
			err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, product_id);
	store_bind_text(st, 2, mac);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no certificate for that MAC");
		goto out;
	}
	if (r != SQLITE_ROW) {
		rc = store_db_err(s, err, "certificate");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->id = sqlite3_column_int64(st, 0);
	snprintf(c->mac, sizeof(c->mac), "%s", mac);
	c->record_id = store_col_strdup(st, 1);
	copy_col(st, 2, c->serial, sizeof(c->serial));
	copy_col(st, 3, c->sha256, sizeof(c->sha256));
	copy_col(st, 4, c->ca_sha256, sizeof(c->ca_sha256));
	copy_col(st, 5, c->state, sizeof(c->state));
	c->der_len = (size_t)sqlite3_column_bytes(st, 6);
	c->der = malloc(c->der_len ? c->der_len : 1);
	if (!c->der)
		goto nomem;
	memcpy(c->der, sqlite3_column_blob(st, 6), c->der_len);
	if (sqlite3_column_type(st, 7) == SQLITE_BLOB) {
		rc = store_cert_unseal_key(s, c, product_id, sqlite3_column_blob(st, 7),
					   (size_t)sqlite3_column_bytes(st, 7), err);
		if (rc)
			goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
	goto out;
nomem:
	rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	store_unprep(s, st);
	store_cert_free(c);
	return rc;
}

static int cert_audit(struct store *s, const char *product, const char *mac, const char *record_id,
		      const char *station, const char *port, int64_t job_id, const char *serial, const char *sha256,
		      const char *result, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc = store_prep(s, &st,
			    "INSERT INTO audit (time, event, station, port, mac, product, record_id, job_id, image_sha256, "
			    "cert_serial, result) VALUES (?, 'certificate', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    err);
	if (rc)
		return rc;
	store_now(now, sizeof(now));
	store_bind_text(st, 1, now);
	store_bind_text(st, 2, station);
	store_bind_text(st, 3, port);
	store_bind_text(st, 4, mac);
	store_bind_text(st, 5, product);
	store_bind_text(st, 6, record_id);
	store_bind_opt_int(st, 7, job_id > 0 ? job_id : -1);
	store_bind_text(st, 8, sha256);
	store_bind_text(st, 9, serial);
	store_bind_text(st, 10, result);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "audit");
	store_unprep(s, st);
	return rc;
}

/* The MAC's live certificate, if any: its serial and sha256 (left empty
 * when there is none). A delivered one refuses a new certificate. */
static int cert_live(struct store *s, int64_t product_id, const char *mac, char *old_serial, size_t serial_size,
		     char *old_sha, size_t sha_size, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, r;

	rc = store_prep(s, &st,
			"SELECT state, serial, sha256 FROM device_certs WHERE product_id = ? AND mac = ? AND state != "
			"'superseded'",
			err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, product_id);
	store_bind_text(st, 2, mac);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		if (state && !strcmp(state, "delivered"))
			rc = store_fail_err(err, STORE_ESTATE, "the device already has a delivered certificate");
		copy_col(st, 1, old_serial, serial_size);
		copy_col(st, 2, old_sha, sha_size);
	} else if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "certificate");
	}
	store_unprep(s, st);
	return rc;
}

/* The issued (not yet delivered) certificate gives way, with its audit. */
static int cert_supersede(struct store *s, const struct store_cert_new *c, const char *mac, const char *old_serial,
			  const char *old_sha, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st,
			    "UPDATE device_certs SET state = 'superseded', key_sealed = NULL WHERE product_id = ? AND "
			    "mac = ? AND state = 'issued'",
			    err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, c->product_id);
	store_bind_text(st, 2, mac);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "certificate");
	store_unprep(s, st);
	if (!rc)
		rc = cert_audit(s, c->product, mac, c->record_id, c->station, c->port, c->job_id, old_serial, old_sha,
				"superseded", err);
	return rc;
}

/* The new certificate's row, state 'issued', with its audit. */
static int cert_insert(struct store *s, const struct store_cert_new *c, const char *mac, const uint8_t *sealed,
		       size_t sealed_len, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc = store_prep(s, &st,
			    "INSERT INTO device_certs (product_id, mac, record_id, ca_sha256, serial, sha256, subject, "
			    "not_after, cert, key_sealed, state, station, issued_at) "
			    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?)",
			    err);
	if (rc)
		return rc;
	store_now(now, sizeof(now));
	sqlite3_bind_int64(st, 1, c->product_id);
	store_bind_text(st, 2, mac);
	store_bind_text(st, 3, c->record_id);
	store_bind_text(st, 4, c->ca_sha256);
	store_bind_text(st, 5, c->serial);
	store_bind_text(st, 6, c->sha256);
	store_bind_text(st, 7, c->subject);
	store_bind_text(st, 8, c->not_after);
	sqlite3_bind_blob(st, 9, c->der, (int)c->der_len, SQLITE_STATIC);
	if (sealed)
		sqlite3_bind_blob(st, 10, sealed, (int)sealed_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 10);
	store_bind_text(st, 11, c->station);
	store_bind_text(st, 12, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
			rc = store_fail_err(err, STORE_EEXIST, "certificate serial %s repeats for its CA", c->serial);
		else
			rc = store_db_err(s, err, "certificate");
	}
	store_unprep(s, st);
	if (!rc)
		rc = cert_audit(s, c->product, mac, c->record_id, c->station, c->port, c->job_id, c->serial, c->sha256,
				"issued", err);
	return rc;
}

int store_cert_add(struct store *s, const struct store_cert_new *c, struct store_err *err)
{
	STORE_VIA_BACKEND(s, cert_add, (s, c, err));
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	char mac[STORE_MAC_LEN + 1], old_serial[80] = "", old_sha[65] = "";
	int rc;

	if (!c->mac || store_mac_normalise(c->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	rc = store_cert_seal_key(s, c, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	rc = store_begin(s, err);
	if (rc)
		goto out;
	rc = cert_live(s, c->product_id, mac, old_serial, sizeof(old_serial), old_sha, sizeof(old_sha), err);
	if (!rc && old_serial[0])
		rc = cert_supersede(s, c, mac, old_serial, old_sha, err);
	if (!rc)
		rc = cert_insert(s, c, mac, sealed, sealed_len, err);
	rc = store_end(s, rc, err);
out:
	free(sealed);
	return rc;
}

int store_cert_delivered(struct store *s, int64_t product_id, const char *mac_in, const char *station,
			 const char *port, int64_t job_id, struct store_err *err)
{
	STORE_VIA_BACKEND(s, cert_delivered, (s, product_id, mac_in, station, port, job_id, err));
	sqlite3_stmt *st = NULL;
	char mac[STORE_MAC_LEN + 1], now[32], serial[80] = "", sha[65] = "", product[128] = "", record[128] = "";
	int rc, r;

	if (store_mac_normalise(mac_in, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address");
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = store_prep(s, &st,
			"SELECT c.serial, c.sha256, p.name, coalesce(c.record_id, '') FROM device_certs c "
			"JOIN products p ON p.id = c.product_id WHERE c.product_id = ? AND c.mac = ? AND c.state = 'issued'",
			err);
	if (rc)
		goto end;
	sqlite3_bind_int64(st, 1, product_id);
	store_bind_text(st, 2, mac);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		copy_col(st, 0, serial, sizeof(serial));
		copy_col(st, 1, sha, sizeof(sha));
		copy_col(st, 2, product, sizeof(product));
		copy_col(st, 3, record, sizeof(record));
	} else if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "certificate");
	}
	store_unprep(s, st);
	st = NULL;
	if (rc || !serial[0]) /* nothing issued and waiting: already delivered */
		goto end;
	rc = store_prep(s, &st,
			"UPDATE device_certs SET state = 'delivered', delivered_at = ? WHERE product_id = ? AND mac = ? "
			"AND state = 'issued'",
			err);
	if (rc)
		goto end;
	store_now(now, sizeof(now));
	store_bind_text(st, 1, now);
	sqlite3_bind_int64(st, 2, product_id);
	store_bind_text(st, 3, mac);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "certificate");
	store_unprep(s, st);
	if (!rc)
		rc = cert_audit(s, product, mac, record[0] ? record : NULL, station, port, job_id, serial, sha,
				"delivered", err);
end:
	return store_end(s, rc, err);
}

json_t *store_cert_der_pem(const void *der, int len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);
	BIO *b = BIO_new(BIO_s_mem());
	json_t *r = json_null();
	char *data;
	long n;

	if (x && b && PEM_write_bio_X509(b, x)) {
		n = BIO_get_mem_data(b, &data);
		r = json_stringn(data, (size_t)n);
	}
	BIO_free(b);
	X509_free(x);
	return r;
}

int store_cert_query(struct store *s, const struct store_cert_filter *f, json_t **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, cert_query, (s, f, out, err));
	static const char *const cols[] = {"product",   "mac",      "record_id", "serial",    "sha256",
					   "ca_sha256", "subject",  "not_after", "state",     "station",
					   "issued_at", "delivered_at"};
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	char mac[STORE_MAC_LEN + 1];
	int rc, r;

	*out = NULL;
	if (f->mac && store_mac_normalise(f->mac, mac)) {
		rc = store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", f->mac);
		goto out;
	}
	rc = store_prep(s, &st,
			"SELECT p.name, c.mac, c.record_id, c.serial, c.sha256, c.ca_sha256, c.subject, c.not_after, "
			"c.state, c.station, c.issued_at, c.delivered_at, c.key_sealed IS NOT NULL, c.cert "
			"FROM device_certs c JOIN products p ON p.id = c.product_id "
			"WHERE (?1 IS NULL OR p.name = ?1) AND (?2 IS NULL OR c.mac = ?2) AND "
			"(CASE WHEN ?3 IS NULL THEN c.state != 'superseded' WHEN ?3 = 'all' THEN 1 ELSE c.state = ?3 END) "
			"ORDER BY c.id",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, f->product);
	store_bind_text(st, 2, f->mac ? mac : NULL);
	store_bind_text(st, 3, f->state);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < (int)(sizeof(cols) / sizeof(cols[0])); i++)
			json_object_set_new(o, cols[i], store_col_json(st, i));
		json_object_set_new(o, "key_kept", json_boolean(sqlite3_column_int(st, 12)));
		json_object_set_new(o, "pem",
				    store_cert_der_pem(sqlite3_column_blob(st, 13), sqlite3_column_bytes(st, 13)));
		json_array_append_new(arr, o);
	}
	rc = store_json_wrap(s, r, "certificates", arr, out, err);
out:
	store_unprep(s, st);
	json_decref(arr);
	return rc;
}
