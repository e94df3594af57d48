/* Importing a values CSV: all rows in one transaction or none. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/err.h"
#include "espfab/fsu.h"
#include "store_csv.h"
#include "store_fit.h"
#include "store_backend.h"
#include "store_int.h"

#define RECORD_ID_MAX 128
#define FILE_VALUE_MAX (1u << 20)

struct import_ctx {
	struct store *s;
	const struct store_import_opts *o;
	struct store_product *p;
	const char *src;
	int64_t import_id;
	int sealed;
	int *col;          /* per template field: values column, -1 for namespace rows */
	int id_col;
	size_t n_cols;
	uint8_t **first;   /* first data row's values, for REPEAT fields */
	size_t *first_len;
	uint8_t **val;     /* the current row's values */
	size_t *val_len;
	sqlite3_stmt *ins_rec, *ins_val, *ins_uniq, *find_id, *find_uniq;
};

static void wipe_free(uint8_t *b, size_t n)
{
	if (b) {
		OPENSSL_cleanse(b, n);
		free(b);
	}
}

static int read_file_value(const char *base, const char *name, uint8_t **out, size_t *len)
{
	char path[4096];

	/* Capped: a device's NVS holds far less anyway. */
	if (name[0] == '/' || !base)
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "%s/%s", base, name);
	return fsu_read_file(path, FILE_VALUE_MAX, out, len) ? -1 : 0;
}

static int line_fail(struct store_err *err, const char *src, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "file:line: reason", and err->line: every importer error names its line. */
static int line_fail(struct store_err *err, const char *src, unsigned line, const char *fmt, ...)
{
	char m[200];
	va_list ap;
	va_start(ap, fmt);
	err_vformat(m, sizeof(m), fmt, ap);
	va_end(ap);
	store_fail_err(err, STORE_EINPUT, "%s:%u: %s", src, line, m);
	if (err)
		err->line = line;
	return STORE_EINPUT;
}

static int header(struct import_ctx *c, struct store_csv *csv, unsigned line, struct store_err *err)
{
	size_t nf = c->p->n_fields;

	c->n_cols = csv->n;
	c->col = calloc(nf, sizeof(*c->col));
	c->first = calloc(nf, sizeof(*c->first));
	c->first_len = calloc(nf, sizeof(*c->first_len));
	c->val = calloc(nf, sizeof(*c->val));
	c->val_len = calloc(nf, sizeof(*c->val_len));
	if (!c->col || !c->first || !c->first_len || !c->val || !c->val_len)
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	for (size_t i = 0; i < csv->n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(csv->fields[i], csv->fields[j]))
				return line_fail(err, c->src, line, "column '%s' appears twice", csv->fields[i]);
	c->id_col = c->o->id_column ? -1 : 0;
	for (size_t i = 0; c->o->id_column && i < csv->n; i++)
		if (!strcmp(csv->fields[i], c->o->id_column))
			c->id_col = (int)i;
	if (c->id_col < 0)
		return line_fail(err, c->src, line, "no id column '%s'", c->o->id_column);
	for (size_t f = 0; f < nf; f++) {
		c->col[f] = -1;
		if (!strcmp(c->p->fields[f].type, "namespace"))
			continue;
		for (size_t i = 0; i < csv->n; i++)
			if (!strcmp(csv->fields[i], c->p->fields[f].key))
				c->col[f] = (int)i;
		if (c->col[f] < 0)
			return line_fail(err, c->src, line, "no column for field '%s'", c->p->fields[f].key);
	}
	return 0;
}

static int prepare(struct import_ctx *c, struct store_err *err)
{
	int rc;
	if ((rc = store_prep(c->s, &c->ins_rec,
			     "INSERT INTO records (product_id, record_id, import_id, sealed) VALUES (?, ?, ?, ?)",
			     err)) ||
	    (rc = store_prep(c->s, &c->ins_val, "INSERT INTO record_values (record_id, pos, value) VALUES (?, ?, ?)",
			     err)) ||
	    (rc = store_prep(c->s, &c->ins_uniq,
			     "INSERT OR IGNORE INTO unique_values (product_id, pos, digest, record_id) VALUES (?, ?, ?, ?)",
			     err)) ||
	    (rc = store_prep(c->s, &c->find_id, "SELECT import_id FROM records WHERE product_id = ? AND record_id = ?",
			     err)) ||
	    (rc = store_prep(c->s, &c->find_uniq,
			     "SELECT r.record_id FROM unique_values u JOIN records r ON r.id = u.record_id "
			     "WHERE u.product_id = ? AND u.pos = ? AND u.digest = ?",
			     err)))
		return rc;
	return 0;
}

/* The row's values into c->val. REPEAT fields take the first row's value
 * when left empty (mfg_gen's rule); file fields are read now so the store
 * holds the bytes, not a path that may be gone by the time a device shows
 * up. */
static int row_values(struct import_ctx *c, struct store_csv *csv, unsigned line, int is_first, struct store_err *err)
{
	const struct store_product *p = c->p;
	char why[160];

	for (size_t f = 0; f < p->n_fields; f++) {
		const struct store_field *fd = &p->fields[f];
		const char *v;
		size_t vl;
		wipe_free(c->val[f], c->val_len[f]);
		c->val[f] = NULL;
		c->val_len[f] = 0;
		if (c->col[f] < 0)
			continue;
		v = csv->fields[c->col[f]];
		vl = csv->lens[c->col[f]];
		if (fd->is_repeat && !vl && !is_first) {
			v = (const char *)c->first[f];
			vl = c->first_len[f];
		}
		if (!strcmp(fd->type, "file")) {
			if (read_file_value(c->o->base_dir, v, &c->val[f], &c->val_len[f]))
				return line_fail(err, c->src, line, "field '%s': cannot read file '%s'", fd->key, v);
		} else {
			c->val[f] = malloc(vl + 1);
			if (!c->val[f])
				return store_fail_err(err, STORE_ENOMEM, "out of memory");
			memcpy(c->val[f], v, vl);
			c->val[f][vl] = 0;
			c->val_len[f] = vl;
		}
		if (store_fit_value(fd, p->nvs_version, c->val[f], c->val_len[f], why, sizeof(why)))
			return line_fail(err, c->src, line, "field '%s': %s", fd->key, why);
		if (is_first) {
			c->first[f] = malloc(vl + 1);
			if (!c->first[f])
				return store_fail_err(err, STORE_ENOMEM, "out of memory");
			memcpy(c->first[f], v, vl);
			c->first[f][vl] = 0;
			c->first_len[f] = vl;
		}
	}
	return 0;
}

/* The records row; *rowid is its id. A duplicate id fails first: in this
 * file or an earlier import. */
static int row_record(struct import_ctx *c, const char *rid, unsigned line, int64_t *rowid, struct store_err *err)
{
	const struct store_product *p = c->p;

	sqlite3_reset(c->find_id);
	sqlite3_bind_int64(c->find_id, 1, p->id);
	store_bind_text(c->find_id, 2, rid);
	if (sqlite3_step(c->find_id) == SQLITE_ROW) {
		if (sqlite3_column_int64(c->find_id, 0) == c->import_id)
			return line_fail(err, c->src, line, "duplicate record id '%s'", rid);
		return line_fail(err, c->src, line, "record id '%s' was imported before", rid);
	}
	sqlite3_reset(c->ins_rec);
	sqlite3_bind_int64(c->ins_rec, 1, p->id);
	store_bind_text(c->ins_rec, 2, rid);
	sqlite3_bind_int64(c->ins_rec, 3, c->import_id);
	sqlite3_bind_int(c->ins_rec, 4, c->sealed);
	if (sqlite3_step(c->ins_rec) != SQLITE_DONE)
		return store_db_err(c->s, err, "records");
	*rowid = sqlite3_last_insert_rowid(c->s->db);
	return 0;
}

/* Field f's unique_values row; a value already there names its record. */
static int row_unique(struct import_ctx *c, size_t f, int64_t rowid, unsigned line, struct store_err *err)
{
	const struct store_product *p = c->p;
	uint8_t dg[32];
	int rc = store_unique_digest(c->s, (int)f, c->val[f], c->val_len[f], dg, err);
	if (rc)
		return rc;
	sqlite3_reset(c->ins_uniq);
	sqlite3_bind_int64(c->ins_uniq, 1, p->id);
	sqlite3_bind_int(c->ins_uniq, 2, (int)f);
	sqlite3_bind_blob(c->ins_uniq, 3, dg, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(c->ins_uniq, 4, rowid);
	if (sqlite3_step(c->ins_uniq) != SQLITE_DONE)
		return store_db_err(c->s, err, "unique_values");
	if (sqlite3_changes(c->s->db) == 0) {
		char other[RECORD_ID_MAX + 1] = "?";
		sqlite3_reset(c->find_uniq);
		sqlite3_bind_int64(c->find_uniq, 1, p->id);
		sqlite3_bind_int(c->find_uniq, 2, (int)f);
		sqlite3_bind_blob(c->find_uniq, 3, dg, 32, SQLITE_TRANSIENT);
		if (sqlite3_step(c->find_uniq) == SQLITE_ROW)
			snprintf(other, sizeof(other), "%s", sqlite3_column_text(c->find_uniq, 0));
		return line_fail(err, c->src, line, "field '%s' repeats the value of record '%s' (must be unique)",
				 p->fields[f].key, other);
	}
	return 0;
}

/* Field f's record_values row, sealed if the database is. */
static int row_value(struct import_ctx *c, size_t f, int64_t rowid, const char *rid, struct store_err *err)
{
	uint8_t *sealed = NULL;
	size_t sl = 0;
	int rc;

	sqlite3_reset(c->ins_val);
	sqlite3_bind_int64(c->ins_val, 1, rowid);
	sqlite3_bind_int(c->ins_val, 2, (int)f);
	if (c->sealed) {
		char aad[256];
		store_value_aad(aad, sizeof(aad), c->p->id, rid, (int)f);
		rc = store_seal(c->s, c->val[f], c->val_len[f], aad, &sealed, &sl, err);
		if (rc)
			return rc;
		sqlite3_bind_blob(c->ins_val, 3, sealed, (int)sl, SQLITE_TRANSIENT);
		free(sealed); /* ciphertext: nothing to wipe */
	} else {
		sqlite3_bind_blob(c->ins_val, 3, c->val[f], (int)c->val_len[f], SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(c->ins_val) == SQLITE_DONE ? 0 : store_db_err(c->s, err, "record_values");
	/* SQLite copied the plaintext (TRANSIENT); drop the binding now. */
	sqlite3_clear_bindings(c->ins_val);
	return rc;
}

static int row(struct import_ctx *c, struct store_csv *csv, unsigned line, int is_first, struct store_err *err)
{
	const struct store_product *p = c->p;
	const char *rid;
	char why[160];
	int64_t rowid = 0;
	int rc;

	if (csv->n != c->n_cols) {
		return line_fail(err, c->src, line, "malformed row: %zu columns, the header has %zu", csv->n,
				 c->n_cols);
	}
	rid = csv->fields[c->id_col];
	if (!*rid || strlen(rid) > RECORD_ID_MAX || strchr(rid, '\n') || strchr(rid, '\r'))
		return line_fail(err, c->src, line, "record id must be 1 to %d characters on one line",
				 RECORD_ID_MAX);
	rc = row_values(c, csv, line, is_first, err);
	if (rc)
		return rc;
	if (store_fit_record(p, (const uint8_t *const *)c->val, c->val_len, why, sizeof(why)))
		return line_fail(err, c->src, line, "record '%s': %s", rid, why);
	rc = row_record(c, rid, line, &rowid, err);
	if (rc)
		return rc;
	for (size_t f = 0; f < p->n_fields; f++) {
		if (c->col[f] < 0)
			continue;
		if (p->fields[f].is_unique) {
			rc = row_unique(c, f, rowid, line, err);
			if (rc)
				return rc;
		}
		rc = row_value(c, f, rowid, rid, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* The file's sha256 in hex (65 bytes), for the imports row and the audit. */
static int digest_hex(const char *buf, size_t len, char *hex, struct store_err *err)
{
	uint8_t md[32];
	unsigned mdlen = 0;

	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL))
		return store_fail_err(err, STORE_ENOMEM, "sha256 failed");
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The imports row (rows 0 until the end); sets c->import_id. */
static int import_row_insert(struct import_ctx *c, const char *hex, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc;

	store_now(now, sizeof(now));
	rc = store_prep(c->s, &st,
			"INSERT INTO imports (product_id, source, sha256, rows, created) VALUES (?, ?, ?, 0, ?)", err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, c->p->id);
	store_bind_text(st, 2, c->src);
	store_bind_text(st, 3, hex);
	store_bind_text(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_err(c->s, err, "imports");
	else
		c->import_id = sqlite3_last_insert_rowid(c->s->db);
	store_unprep(c->s, st);
	return rc;
}

/* The header, then every row; *n counts the records. */
static int import_rows(struct import_ctx *c, struct store_csv *csv, const char *buf, size_t len, size_t *n,
		       struct store_err *err)
{
	unsigned line;
	int rc, r;

	/* mfg_gen reads the values file as strict UTF-8 with csv.DictReader:
	 * blank lines skipped, a BOM becomes part of the first column's name
	 * (refused below, clearer than the KeyError mfg_gen dies with). */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		return line_fail(err, c->src, 1, "starts with a UTF-8 BOM (mfg_gen refuses it too)");
	if (store_csv_open(csv, buf, len, CSV_SKIP_BLANK | CSV_UTF8))
		return line_fail(err, c->src, csv->line, "%s", csv->msg);
	r = store_csv_next(csv);
	line = csv->line;
	if (r != 1)
		return r == 0 ? store_fail_err(err, STORE_EINPUT, "%s: empty file", c->src)
			      : line_fail(err, c->src, csv->line, "%s", csv->msg);
	rc = header(c, csv, line, err);
	if (rc)
		return rc;
	while ((r = store_csv_next(csv)) == 1) {
		line = csv->line;
		if (csv->n == 0)
			continue;
		rc = row(c, csv, line, *n == 0, err);
		if (rc)
			return rc;
		(*n)++;
	}
	if (r < 0)
		return line_fail(err, c->src, csv->line, "%s", csv->msg);
	if (!*n)
		return store_fail_err(err, STORE_EINPUT, "%s: no records", c->src);
	return 0;
}

/* The imports row's count, and the audit entry. */
static int import_finish(struct import_ctx *c, size_t n, const char *hex, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char note[96];
	int rc = store_prep(c->s, &st, "UPDATE imports SET rows = ? WHERE id = ?", err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, (int64_t)n);
	sqlite3_bind_int64(st, 2, c->import_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_db_err(c->s, err, "imports");
	store_unprep(c->s, st);
	if (rc)
		return rc;
	snprintf(note, sizeof(note), "%zu records, sha256 %.16s...", n, hex);
	struct store_audit_entry a = {
		.product = c->p->name, .baud = -1, .retries = -1, .duration_ms = -1, .error = note};
	return store_audit_insert(c->s, &a, "import", "ok", err);
}

int store_import_csv(struct store *s, const struct store_import_opts *o, const char *buf, size_t len,
		     size_t *n_out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, import_csv, (s, o, buf, len, n_out, err));
	struct import_ctx c = {.s = s, .o = o};
	struct store_csv csv;
	char hex[65];
	size_t n = 0;
	int rc;

	if (n_out)
		*n_out = 0;
	c.src = o->source ? o->source : "values";
	memset(&csv, 0, sizeof(csv));
	rc = digest_hex(buf, len, hex, err);
	if (rc)
		goto out;
	rc = store_begin(s, err);
	if (rc)
		goto out;
	rc = store_product_get(s, o->product, &c.p, err);
	if (rc)
		goto out;
	rc = store_seal_check(s, 1, err);
	if (rc)
		goto out;
	rc = store_db_sealed(s, &c.sealed, err);
	if (rc)
		goto out;
	rc = import_row_insert(&c, hex, err);
	if (!rc)
		rc = prepare(&c, err);
	if (!rc)
		rc = import_rows(&c, &csv, buf, len, &n, err);
	if (!rc)
		rc = import_finish(&c, n, hex, err);
	if (rc)
		goto out;
	rc = store_commit(s, err);
	if (!rc && n_out)
		*n_out = n;
out:
	if (rc)
		store_rollback(s);
	store_unprep(s, c.ins_rec);
	store_unprep(s, c.ins_val);
	store_unprep(s, c.ins_uniq);
	store_unprep(s, c.find_id);
	store_unprep(s, c.find_uniq);
	for (size_t f = 0; c.p && f < c.p->n_fields; f++) {
		if (c.val)
			wipe_free(c.val[f], c.val_len[f]);
		if (c.first)
			wipe_free(c.first[f], c.first_len[f]);
	}
	free(c.val);
	free(c.val_len);
	free(c.first);
	free(c.first_len);
	free(c.col);
	store_product_free(c.p);
	store_csv_close(&csv);
	return rc;
}
