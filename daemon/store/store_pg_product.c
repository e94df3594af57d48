/* Products on PostgreSQL. Defining one reuses the SQLite store's own
 * checks unchanged: the spec goes into a private in-memory SQLite store
 * first (store_product_add: config CSV, partition, firmware, --unique),
 * and only what that accepted is copied to the server, in one transaction
 * with its audit row. One set of rules, whichever the backend. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

/* Copies the in-memory product (its only one) to the server. */
static int copy_product(struct store *s, struct store *m, const char *name, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	PGresult *r = NULL;
	int64_t pid;
	int rc;

	if ((rc = store_prep(m, &st,
			     "SELECT nvs_version, part_table, part_label, part_offset, part_size, config_csv, created, "
			     "chip, n_images, id FROM products",
			     err)))
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_db_err(m, err, "products");
		goto out;
	}
	int64_t mid = sqlite3_column_int64(st, 9);
	r = pg_q(s, err, "products",
		 "INSERT INTO products (name, nvs_version, part_table, part_label, part_offset, part_size, config_csv, "
		 "created, chip, n_images) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
		 "ON CONFLICT (name) DO NOTHING RETURNING id",
		 "sibsiisssi", name, (int64_t)sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
		 (size_t)sqlite3_column_bytes(st, 1), (const char *)sqlite3_column_text(st, 2),
		 (int64_t)sqlite3_column_int64(st, 3), (int64_t)sqlite3_column_int64(st, 4),
		 (const char *)sqlite3_column_text(st, 5), (const char *)sqlite3_column_text(st, 6),
		 (const char *)sqlite3_column_text(st, 7), (int64_t)sqlite3_column_int64(st, 8));
	if (!r) {
		rc = RC(err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		rc = store_fail_err(err, STORE_EEXIST, "product '%s' exists already", name);
		goto out;
	}
	pid = pg_i64(r, 0, 0);
	store_unprep(m, st);
	st = NULL;
	if ((rc = store_prep(m, &st,
			     "SELECT flash_offset, name, file, size, sha256, data FROM product_images WHERE product_id = ? "
			     "ORDER BY flash_offset",
			     err)))
		goto out;
	sqlite3_bind_int64(st, 1, mid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((rc = pg_x(s, err, NULL, "product_images",
			       "INSERT INTO product_images (product_id, flash_offset, name, file, size, sha256, data) "
			       "VALUES ($1, $2, $3, $4, $5, $6, $7)",
			       "iissisb", pid, (int64_t)sqlite3_column_int64(st, 0),
			       (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
			       (int64_t)sqlite3_column_int64(st, 3), (const char *)sqlite3_column_text(st, 4),
			       sqlite3_column_blob(st, 5), (size_t)sqlite3_column_bytes(st, 5))))
			goto out;
	}
	store_unprep(m, st);
	st = NULL;
	if ((rc = store_prep(m, &st,
			     "SELECT pos, namespace, key, type, encoding, is_repeat, is_unique FROM product_fields "
			     "WHERE product_id = ? ORDER BY pos",
			     err)))
		goto out;
	sqlite3_bind_int64(st, 1, mid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((rc = pg_x(s, err, NULL, "product_fields",
			       "INSERT INTO product_fields (product_id, pos, namespace, key, type, encoding, is_repeat, "
			       "is_unique) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			       "iissssii", pid, (int64_t)sqlite3_column_int64(st, 0),
			       (const char *)sqlite3_column_text(st, 1), (const char *)sqlite3_column_text(st, 2),
			       (const char *)sqlite3_column_text(st, 3), (const char *)sqlite3_column_text(st, 4),
			       (int64_t)sqlite3_column_int64(st, 5), (int64_t)sqlite3_column_int64(st, 6))))
			goto out;
	}
	struct store_audit_entry a = {.product = name, .baud = -1, .retries = -1, .duration_ms = -1};
	rc = pg_audit_insert(s, &a, "product", "added", err);
out:
	PQclear(r);
	store_unprep(m, st);
	return rc;
}

int pg_product_add(struct store *s, const struct store_product_spec *spec, struct store_err *err)
{
	struct store *m = NULL;
	int rc;

	if ((rc = store_open(&m, ":memory:", 0, NULL, err)) || (rc = store_product_add(m, spec, err)))
		goto out;
	if ((rc = pg_begin(s, err)))
		goto out;
	rc = pg_end(s, copy_product(s, m, spec->name, err), err);
out:
	store_close(m);
	return rc;
}

int pg_product_load(struct store *s, int64_t id, struct store_product **out, struct store_err *err)
{
	struct store_product *p = NULL;
	PGresult *r;
	int rc = 0;

	*out = NULL;
	r = pg_q(s, err, "products",
		 "SELECT name, nvs_version, part_label, part_offset, part_size, part_table, chip, n_images "
		 "FROM products WHERE id = $1",
		 "i", id);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product #%lld", (long long)id);
		goto out;
	}
	if (!(p = calloc(1, sizeof(*p))))
		goto nomem;
	p->id = id;
	p->name = strdup(PQgetvalue(r, 0, 0));
	p->nvs_version = (int)pg_i64(r, 0, 1);
	p->part_label = strdup(PQgetvalue(r, 0, 2));
	p->part_offset = (uint32_t)pg_i64(r, 0, 3);
	p->part_size = (uint32_t)pg_i64(r, 0, 4);
	p->chip = strdup(PQgetvalue(r, 0, 6));
	p->n_images = (size_t)pg_i64(r, 0, 7);
	if (!p->name || !p->part_label || !p->chip)
		goto nomem;
	if ((rc = pg_bytea(r, 0, 5, &p->part_table, &p->part_table_len, err)))
		goto out;
	PQclear(r);
	r = pg_q(s, err, "product_fields",
		 "SELECT namespace, key, type, encoding, is_repeat, is_unique FROM product_fields "
		 "WHERE product_id = $1 ORDER BY pos",
		 "i", id);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	int n = PQntuples(r);
	if (!(p->fields = calloc(n ? (size_t)n : 1, sizeof(*p->fields))))
		goto nomem;
	for (int i = 0; i < n; i++) {
		struct store_field *f = &p->fields[p->n_fields++];
		f->namespace_ = strdup(PQgetvalue(r, i, 0));
		f->key = strdup(PQgetvalue(r, i, 1));
		f->type = strdup(PQgetvalue(r, i, 2));
		f->encoding = strdup(PQgetvalue(r, i, 3));
		f->is_repeat = (int)pg_i64(r, i, 4);
		f->is_unique = (int)pg_i64(r, i, 5);
		if (!f->namespace_ || !f->key || !f->type || !f->encoding)
			goto nomem;
	}
	*out = p;
	p = NULL;
	goto out;
nomem:
	rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	PQclear(r);
	store_product_free(p);
	return rc;
}

int pg_product_get(struct store *s, const char *name, struct store_product **out, struct store_err *err)
{
	int64_t id;
	int rc;

	*out = NULL;
	rc = pg_product_id(s, name, &id, err);
	return rc ? rc : pg_product_load(s, id, out, err);
}

int pg_product_firmware(struct store *s, int64_t product_id, struct fwimg_set **out, struct store_err *err)
{
	struct fwimg_set *set = NULL;
	struct fwimg_err ferr = {0};
	PGresult *r;
	int rc = 0;

	*out = NULL;
	r = pg_q(s, err, "products", "SELECT chip, n_images FROM products WHERE id = $1", "i", product_id);
	if (!r)
		return RC(err);
	if (PQntuples(r) != 1) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product #%lld", (long long)product_id);
		goto out;
	}
	if (pg_i64(r, 0, 1) == 0)
		goto out;
	if (fwimg_set_new(PQgetvalue(r, 0, 0), &set, &ferr)) {
		rc = store_fail_err(err, STORE_ENOMEM, "%s", ferr.msg);
		goto out;
	}
	PQclear(r);
	r = pg_q(s, err, "product_images",
		 "SELECT flash_offset, name, file, data FROM product_images WHERE product_id = $1 ORDER BY flash_offset",
		 "i", product_id);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t *data = NULL;
		size_t len = 0;
		if ((rc = pg_bytea(r, i, 3, &data, &len, err)))
			goto out;
		/* fwimg_set_add takes data, also on failure. */
		if (fwimg_set_add(set, (uint32_t)pg_i64(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), data, len,
				  &ferr)) {
			rc = store_fail_err(err, STORE_ENOMEM, "product_images: %s", ferr.msg);
			goto out;
		}
	}
	if (fwimg_set_check(set, "product_images", &ferr)) {
		rc = store_fail_err(err, STORE_EDB, "%s", ferr.msg);
		goto out;
	}
	*out = set;
	set = NULL;
out:
	PQclear(r);
	fwimg_set_unref(set);
	return rc;
}

int pg_product_query(struct store *s, const char *name, json_t **out, struct store_err *err)
{
	static const char *const states[] = {"available", "reserved", "sent", "verified", "retired"};
	PGresult *r = NULL, *q = NULL;
	json_t *arr = json_array();
	int rc = 0;

	*out = NULL;
	if (!arr)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	r = pg_q(s, err, "products",
		 "SELECT id, name, nvs_version, part_label, part_offset, part_size, created, chip, n_images "
		 "FROM products WHERE $1::text IS NULL OR name = $1 ORDER BY name",
		 "s", name);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = pg_i64(r, i, 0);
		json_t *fields = json_array(), *counts = json_object();
		json_t *o = json_pack("{s:o s:o s:{s:o s:o s:o} s:o}", "name", pg_json(r, i, 1), "nvs_version",
				      pg_json(r, i, 2), "partition", "label", pg_json(r, i, 3), "offset", pg_json(r, i, 4),
				      "size", pg_json(r, i, 5), "created", pg_json(r, i, 6));
		if (!o || !fields || !counts) {
			json_decref(o);
			json_decref(fields);
			json_decref(counts);
			rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
			goto out;
		}
		json_object_set_new(o, "fields", fields);
		json_object_set_new(o, "records", counts);
		json_array_append_new(arr, o);
		for (size_t k = 0; k < 5; k++)
			json_object_set_new(counts, states[k], json_integer(0));
		if (!(q = pg_q(s, err, "product_fields",
			       "SELECT namespace, key, type, encoding, is_repeat, is_unique FROM product_fields "
			       "WHERE product_id = $1 AND type <> 'namespace' ORDER BY pos",
			       "i", id))) {
			rc = RC(err);
			goto out;
		}
		for (int k = 0; k < PQntuples(q); k++)
			json_array_append_new(fields, json_pack("{s:o s:o s:o s:o s:b s:b}", "namespace", pg_json(q, k, 0),
								"key", pg_json(q, k, 1), "type", pg_json(q, k, 2),
								"encoding", pg_json(q, k, 3), "repeat",
								(int)pg_i64(q, k, 4), "unique", (int)pg_i64(q, k, 5)));
		PQclear(q);
		if (!(q = pg_q(s, err, "records", "SELECT state, count(*) FROM records WHERE product_id = $1 GROUP BY state",
			       "i", id))) {
			rc = RC(err);
			goto out;
		}
		for (int k = 0; k < PQntuples(q); k++)
			json_object_set_new(counts, PQgetvalue(q, k, 0), json_integer(pg_i64(q, k, 1)));
		PQclear(q);
		q = NULL;
		if (pg_i64(r, i, 8) > 0) {
			json_t *imgs = json_array();
			if (!(q = pg_q(s, err, "product_images",
				       "SELECT flash_offset, name, file, size, sha256 FROM product_images "
				       "WHERE product_id = $1 ORDER BY flash_offset",
				       "i", id))) {
				json_decref(imgs);
				rc = RC(err);
				goto out;
			}
			for (int k = 0; k < PQntuples(q); k++)
				json_array_append_new(imgs, json_pack("{s:o s:o s:o s:o s:o}", "offset", pg_json(q, k, 0),
								      "name", pg_json(q, k, 1), "file", pg_json(q, k, 2),
								      "size", pg_json(q, k, 3), "sha256",
								      pg_json(q, k, 4)));
			PQclear(q);
			q = NULL;
			json_object_set_new(o, "firmware", json_pack("{s:o s:o}", "chip", pg_json(r, i, 7), "images", imgs));
		} else {
			json_object_set_new(o, "firmware", json_null());
		}
	}
	if (name && json_array_size(arr) == 0) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product '%s'", name);
		goto out;
	}
	*out = json_pack("{s:O}", "products", arr);
	if (!*out)
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	PQclear(q);
	PQclear(r);
	json_decref(arr);
	return rc;
}
