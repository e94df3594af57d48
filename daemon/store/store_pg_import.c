/* Importing a values CSV into PostgreSQL, all-or-nothing. As with
 * products, the SQLite store's importer does the checking: a private
 * in-memory SQLite store gets a copy of the product (same id, so sealed
 * values carry the server's AAD) and of the ids and --unique digests the
 * product already holds, then store_import_csv() parses, checks (with
 * "source:line:" messages), fits and seals exactly as on SQLite. What it
 * accepted is copied to the server in one transaction. The product row is
 * locked (FOR NO KEY UPDATE) meanwhile: two imports of one product take
 * turns, claims do not wait. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

static int mem_exec(struct store *m, struct store_err *err, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(m->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = store_fail_err(err, STORE_EDB, "import copy: %s", msg ? msg : "failed");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

/* The server's key check, so the copies of its (sealed) records do not
 * read as "unsealed records" in the memory store. */
static int mem_seal_check(struct store *m, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	uint8_t check[32];
	int rc;

	if (store_seal_check_value(m, check))
		return store_fail_err(err, STORE_ESEAL, "key derivation failed");
	if ((rc = store_prep(m, &st, "INSERT INTO meta (name, value) VALUES ('seal_check', ?)", err)))
		return rc;
	sqlite3_bind_blob(st, 1, check, sizeof(check), SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_err(m, err, "import copy");
	store_unprep(m, st);
	return rc;
}

/* The product and its fields. */
static int mem_product(struct store *m, const struct store_product *p, const char *now, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = store_prep(m, &st,
			     "INSERT INTO products (id, name, nvs_version, part_table, part_label, part_offset, part_size, "
			     "config_csv, created) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)",
			     err)))
		return rc;
	sqlite3_bind_int64(st, 1, p->id);
	store_bind_text(st, 2, p->name);
	sqlite3_bind_int(st, 3, p->nvs_version);
	sqlite3_bind_blob(st, 4, p->part_table, (int)p->part_table_len, SQLITE_STATIC);
	store_bind_text(st, 5, p->part_label);
	sqlite3_bind_int64(st, 6, p->part_offset);
	sqlite3_bind_int64(st, 7, p->part_size);
	store_bind_text(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_db_err(m, err, "import copy");
		goto out;
	}
	store_unprep(m, st);
	if ((rc = store_prep(m, &st,
			     "INSERT INTO product_fields (product_id, pos, namespace, key, type, encoding, is_repeat, "
			     "is_unique) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			     err)))
		return rc;
	for (size_t i = 0; i < p->n_fields; i++) {
		const struct store_field *f = &p->fields[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_int(st, 2, (int)i);
		store_bind_text(st, 3, f->namespace_);
		store_bind_text(st, 4, f->key);
		store_bind_text(st, 5, f->type);
		store_bind_text(st, 6, f->encoding);
		sqlite3_bind_int(st, 7, f->is_repeat);
		sqlite3_bind_int(st, 8, f->is_unique);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_db_err(m, err, "import copy");
			goto out;
		}
	}
out:
	store_unprep(m, st);
	return rc;
}

/* The product's records (ids only) and unique-value digests. */
static int mem_records(struct store *s, struct store *m, const struct store_product *p, int sealed,
		       struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	PGresult *r;
	int rc;

	if (!(r = pg_q(s, err, "records", "SELECT id, record_id FROM records WHERE product_id = $1", "i", p->id)))
		return RC(err);
	if ((rc = store_prep(m, &st, "INSERT INTO records (id, product_id, record_id, import_id, sealed) VALUES (?, ?, ?, 1, ?)",
			     err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, pg_i64(r, i, 0));
		sqlite3_bind_int64(st, 2, p->id);
		store_bind_text(st, 3, PQgetvalue(r, i, 1));
		sqlite3_bind_int(st, 4, sealed);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_db_err(m, err, "import copy");
			goto out;
		}
	}
	store_unprep(m, st);
	st = NULL;
	PQclear(r);
	if (!(r = pg_q(s, err, "unique_values", "SELECT pos, digest, record_id FROM unique_values WHERE product_id = $1",
		       "i", p->id)))
		return RC(err);
	if ((rc = store_prep(m, &st, "INSERT INTO unique_values (product_id, pos, digest, record_id) VALUES (?, ?, ?, ?)",
			     err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t *dg = NULL;
		size_t dl = 0;
		if ((rc = pg_bytea(r, i, 1, &dg, &dl, err)))
			goto out;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, p->id);
		sqlite3_bind_int64(st, 2, pg_i64(r, i, 0));
		sqlite3_bind_blob(st, 3, dg, (int)dl, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, pg_i64(r, i, 2));
		free(dg);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_db_err(m, err, "import copy");
			goto out;
		}
	}
out:
	PQclear(r);
	store_unprep(m, st);
	return rc;
}

/* The product, its records' ids and unique digests, into the memory store. */
static int load_memory(struct store *s, struct store *m, const struct store_product *p, int sealed,
		       struct store_err *err)
{
	char now[32];
	int rc;

	store_now(now, sizeof(now));
	if ((rc = mem_exec(m, err, "BEGIN")))
		return rc;
	/* Import #1 stands for every earlier import: the real one is #2, so
	 * a repeat of an old id reads "imported before". */
	if (!(rc = sealed ? mem_seal_check(m, err) : 0) && !(rc = mem_product(m, p, now, err)) &&
	    !(rc = mem_exec(m, err, "INSERT INTO imports (id, product_id, source, sha256, rows, created) "
				    "SELECT 1, id, 'earlier', '', 0, created FROM products")) &&
	    !(rc = mem_records(s, m, p, sealed, err)))
		rc = mem_exec(m, err, "COMMIT");
	if (rc)
		sqlite3_exec(m->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* What the memory store's import #2 added, to the server. */
static int copy_import(struct store *s, struct store *m, const struct store_product *p, size_t *n_out,
		       struct store_err *err)
{
	sqlite3_stmt *st = NULL, *vs = NULL, *us = NULL;
	PGresult *r = NULL;
	int64_t import_id;
	int rc;

	if ((rc = store_prep(m, &st, "SELECT source, sha256, rows, created FROM imports WHERE id = 2", err)))
		return rc;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_db_err(m, err, "imports");
		goto out;
	}
	if (!(r = pg_q(s, err, "imports",
		       "INSERT INTO imports (product_id, source, sha256, rows, created) VALUES ($1, $2, $3, $4, $5) RETURNING id",
		       "issis", p->id, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
		       (int64_t)sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3)))) {
		rc = RC(err);
		goto out;
	}
	import_id = pg_i64(r, 0, 0);
	*n_out = (size_t)sqlite3_column_int64(st, 2);
	PQclear(r);
	r = NULL;
	store_unprep(m, st);
	st = NULL;
	if ((rc = store_prep(m, &st, "SELECT id, record_id, sealed FROM records WHERE import_id = 2 ORDER BY id", err)) ||
	    (rc = store_prep(m, &vs, "SELECT pos, value FROM record_values WHERE record_id = ? ORDER BY pos", err)) ||
	    (rc = store_prep(m, &us, "SELECT pos, digest FROM unique_values WHERE record_id = ?", err)))
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t mid = sqlite3_column_int64(st, 0);
		if (!(r = pg_q(s, err, "records",
			       "INSERT INTO records (product_id, record_id, import_id, sealed) VALUES ($1, $2, $3, $4) "
			       "RETURNING id",
			       "isii", p->id, (const char *)sqlite3_column_text(st, 1), import_id,
			       (int64_t)sqlite3_column_int64(st, 2)))) {
			rc = RC(err);
			goto out;
		}
		int64_t rid = pg_i64(r, 0, 0);
		PQclear(r);
		r = NULL;
		sqlite3_reset(vs);
		sqlite3_bind_int64(vs, 1, mid);
		while (sqlite3_step(vs) == SQLITE_ROW) {
			rc = pg_x(s, err, NULL, "record_values",
				  "INSERT INTO record_values (record_id, pos, value) VALUES ($1, $2, $3)", "iib", rid,
				  (int64_t)sqlite3_column_int64(vs, 0), sqlite3_column_blob(vs, 1),
				  (size_t)sqlite3_column_bytes(vs, 1));
			if (rc)
				goto out;
		}
		sqlite3_reset(us);
		sqlite3_bind_int64(us, 1, mid);
		while (sqlite3_step(us) == SQLITE_ROW) {
			rc = pg_x(s, err, NULL, "unique_values",
				  "INSERT INTO unique_values (product_id, pos, digest, record_id) VALUES ($1, $2, $3, $4)",
				  "iibi", p->id, (int64_t)sqlite3_column_int64(us, 0), sqlite3_column_blob(us, 1),
				  (size_t)sqlite3_column_bytes(us, 1), rid);
			if (rc)
				goto out;
		}
	}
	/* The audit row the memory import wrote (its note), for the server. */
	store_unprep(m, st);
	if ((rc = store_prep(m, &st, "SELECT error FROM audit WHERE event = 'import' ORDER BY id DESC LIMIT 1", err)))
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_db_err(m, err, "audit");
		goto out;
	}
	struct store_audit_entry a = {.product = p->name, .baud = -1, .retries = -1, .duration_ms = -1,
				      .error = (const char *)sqlite3_column_text(st, 0)};
	rc = pg_audit_insert(s, &a, "import", "ok", err);
out:
	PQclear(r);
	store_unprep(m, st);
	store_unprep(m, vs);
	store_unprep(m, us);
	return rc;
}

int pg_import_csv(struct store *s, const struct store_import_opts *o, const char *csv, size_t len, size_t *n_out,
		  struct store_err *err)
{
	struct store_product *p = NULL;
	struct store *m = NULL;
	size_t n = 0;
	int rc, sealed = 0;

	if (n_out)
		*n_out = 0;
	if ((rc = pg_begin(s, err)))
		return rc;
	if ((rc = pg_product_get(s, o->product, &p, err)) ||
	    (rc = pg_x(s, err, NULL, "products", "SELECT 1 FROM products WHERE id = $1 FOR NO KEY UPDATE", "i", p->id)) ||
	    (rc = pg_seal_check(s, 1, err)) || (rc = pg_db_sealed(s, &sealed, err)))
		goto out;
	/* The memory store seals exactly when the server does: with the key
	 * when the server is (now) sealed, without one when it is not. */
	if ((rc = store_open(&m, ":memory:", 0, sealed ? s->key : NULL, err)) ||
	    (rc = load_memory(s, m, p, sealed, err)))
		goto out;
	struct store_import_opts mo = *o;
	size_t mn = 0;
	if ((rc = store_import_csv(m, &mo, csv, len, &mn, err)))
		goto out;
	rc = copy_import(s, m, p, &n, err);
	/* Two imports racing past the lock cannot happen; a unique key still
	 * guards the id and digests. */
	if (rc == STORE_EDB && err && strstr(err->msg, "duplicate key"))
		store_fail_err(err, STORE_EDB, "%s: a record id or unique value was imported concurrently: retry",
			       o->source ? o->source : "values");
out:
	rc = pg_end(s, rc, err);
	if (!rc && n_out)
		*n_out = n;
	store_close(m);
	store_product_free(p);
	return rc;
}
