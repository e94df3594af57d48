/* Queries as JSON, so the daemon's socket and the CLI show one result. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

static const char *const record_states[] = {"available", "reserved", "sent", "verified", "retired"};

static int valid_state(const char *s)
{
	for (size_t i = 0; i < sizeof(record_states) / sizeof(record_states[0]); i++)
		if (!strcmp(s, record_states[i]))
			return 1;
	return 0;
}

/* A value as JSON text when it is printable UTF-8-ish text, else hex: file
 * fields may hold binary certificates. */
static json_t *value_json(const uint8_t *v, size_t len)
{
	int text = 1;
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 && v[i] != '\t' && v[i] != '\n' && v[i] != '\r')
			text = 0;
	if (text) {
		json_t *j = json_stringn((const char *)v, len);
		if (j)
			return j;
	}
	char *hex = malloc(len * 2 + 1);
	if (!hex)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", v[i]);
	json_t *o = json_pack("{s:s}", "hex", hex);
	OPENSSL_cleanse(hex, len * 2);
	free(hex);
	return o;
}

static int reveal(struct store *s, json_t *rec, int64_t rowid, int64_t pid, const char *record_id, int sealed,
		  struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	json_t *vals = json_object();
	int rc = store_prep(s, &st,
			    "SELECT f.key, v.value, v.pos FROM record_values v JOIN records r ON r.id = v.record_id "
			    "JOIN product_fields f ON f.product_id = r.product_id AND f.pos = v.pos "
			    "WHERE v.record_id = ? ORDER BY v.pos",
			    err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, rowid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const uint8_t *b = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		uint8_t *pt = NULL;
		size_t pl = 0;
		if (sealed) {
			char aad[256];
			store_value_aad(aad, sizeof(aad), pid, record_id, sqlite3_column_int(st, 2));
			rc = store_unseal(s, b, len, aad, &pt, &pl, err);
			if (rc)
				goto out;
			b = pt;
			len = pl;
		}
		json_object_set_new(vals, (const char *)sqlite3_column_text(st, 0), value_json(b ? b : (const uint8_t *)"", len));
		if (pt) {
			OPENSSL_cleanse(pt, pl);
			free(pt);
		}
	}
	json_object_set(rec, "values", vals);
	rc = 0;
out:
	store_unprep(s, st);
	json_decref(vals);
	return rc;
}

int store_query_records(struct store *s, const struct store_record_filter *f, json_t **out,
			struct store_err *err)
{
	STORE_VIA_BACKEND(s, query_records, (s, f, out, err));
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc, r;

	*out = NULL;
	if (f->state && !valid_state(f->state)) {
		rc = store_fail_err(err, STORE_EINPUT, "unknown state '%s'", f->state);
		goto out;
	}
	if (f->product) {
		int64_t pid;
		rc = store_product_id(s, f->product, &pid, err);
		if (rc)
			goto out;
	}
	if (f->reveal) {
		rc = store_seal_check(s, 0, err);
		if (rc)
			goto out;
	}
	rc = store_prep(s, &st,
			"SELECT p.name, r.record_id, r.state, r.mac, r.station, r.port, r.bound_at, r.verified_at, "
			"r.retired_reason, r.sealed, r.id, r.product_id FROM records r JOIN products p ON p.id = r.product_id "
			"WHERE (?1 IS NULL OR p.name = ?1) AND (?2 IS NULL OR r.state = ?2) ORDER BY p.name, r.id "
			"LIMIT ?3",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, f->product);
	store_bind_text(st, 2, f->state);
	sqlite3_bind_int64(st, 3, f->limit > 0 ? f->limit : -1);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_pack("{s:o s:o s:o s:o s:o s:o s:o s:o s:o s:b}", "product", store_col_json(st, 0),
				      "id", store_col_json(st, 1), "state", store_col_json(st, 2), "mac",
				      store_col_json(st, 3), "station", store_col_json(st, 4), "port",
				      store_col_json(st, 5), "bound_at", store_col_json(st, 6), "verified_at",
				      store_col_json(st, 7), "retired_reason", store_col_json(st, 8), "sealed",
				      sqlite3_column_int(st, 9));
		if (!o) {
			rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
			goto out;
		}
		json_array_append_new(arr, o);
		if (f->reveal) {
			rc = reveal(s, o, sqlite3_column_int64(st, 10), sqlite3_column_int64(st, 11),
				    (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 9), err);
			if (rc)
				goto out;
		}
	}
	rc = store_json_wrap(s, r, "records", arr, out, err);
out:
	store_unprep(s, st);
	json_decref(arr);
	return rc;
}

int store_query_stats(struct store *s, const char *product, json_t **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, query_stats, (s, product, out, err));
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc, r;

	*out = NULL;
	if (product) {
		int64_t pid;
		rc = store_product_id(s, product, &pid, err);
		if (rc)
			goto out;
	}
	rc = store_prep(s, &st,
			"SELECT p.name, count(r.id), "
			"count(CASE WHEN r.state = 'available' THEN 1 END), count(CASE WHEN r.state = 'reserved' THEN 1 END), "
			"count(CASE WHEN r.state = 'sent' THEN 1 END), count(CASE WHEN r.state = 'verified' THEN 1 END), "
			"count(CASE WHEN r.state = 'retired' THEN 1 END) "
			"FROM products p LEFT JOIN records r ON r.product_id = p.id WHERE ?1 IS NULL OR p.name = ?1 "
			"GROUP BY p.id ORDER BY p.name",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, product);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o s:o s:o s:o s:o s:o s:o}", "product", store_col_json(st, 0),
						     "total", store_col_json(st, 1), "available", store_col_json(st, 2),
						     "reserved", store_col_json(st, 3), "sent", store_col_json(st, 4),
						     "verified", store_col_json(st, 5), "retired",
						     store_col_json(st, 6)));
	rc = store_json_wrap(s, r, "stats", arr, out, err);
out:
	store_unprep(s, st);
	json_decref(arr);
	return rc;
}

int store_query_audit(struct store *s, const struct store_audit_filter *f, json_t **out,
		      struct store_err *err)
{
	STORE_VIA_BACKEND(s, query_audit, (s, f, out, err));
	static const char *const cols[] = {"id",        "time",      "event",        "station",   "port",
					   "chip",      "mac",       "product",      "record_id", "batch_id",
					   "job_id",    "image_sha256", "flash_md5", "baud",      "retries",
					   "duration_ms", "result",  "error", "cert_serial", "efuse"};
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
			"SELECT id, time, event, station, port, chip, mac, product, record_id, batch_id, job_id, "
			"image_sha256, flash_md5, baud, retries, duration_ms, result, error, cert_serial, efuse FROM audit "
			"WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR mac = ?2) AND (?3 IS NULL OR product = ?3) "
			"AND id > ?5 ORDER BY id LIMIT ?4",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, f->since);
	store_bind_text(st, 2, f->mac ? mac : NULL);
	store_bind_text(st, 3, f->product);
	sqlite3_bind_int64(st, 4, f->limit > 0 ? f->limit : -1);
	sqlite3_bind_int64(st, 5, f->after_id > 0 ? f->after_id : 0);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < (int)(sizeof(cols) / sizeof(cols[0])); i++)
			json_object_set_new(o, cols[i], store_col_json(st, i));
		json_array_append_new(arr, o);
	}
	rc = store_json_wrap(s, r, "audit", arr, out, err);
out:
	store_unprep(s, st);
	json_decref(arr);
	return rc;
}
