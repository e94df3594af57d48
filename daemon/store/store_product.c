/* Products: the mfg_gen config (NVS row template) and the NVS partition. */
#include <stdlib.h>
#include <string.h>

#include "espfab/part.h"
#include "store_csv.h"
#include "store_backend.h"
#include "store_int.h"

/* nvs_partition_gen's key limit (NVS_KEY_MAX: 15 bytes without the NUL). */
#define FIELD_KEY_MAX 15

static const char *const encodings[] = {"u8",     "i8",      "u16",    "i16",  "u32",  "i32",
					"u64",    "i64",     "string", "hex2bin", "base64", "binary",
					"blob"};

static int known_encoding(const char *e)
{
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
		if (!strcmp(e, encodings[i]))
			return 1;
	/* blob_fill(N;0xPP) / blob_sz_fill(N;0xPP): the generator checks the
	 * argument syntax; here only the family. */
	return !strncmp(e, "blob_fill(", 10) || !strncmp(e, "blob_sz_fill(", 13);
}

void store_product_free(struct store_product *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_fields; i++) {
		free(p->fields[i].namespace_);
		free(p->fields[i].key);
		free(p->fields[i].type);
		free(p->fields[i].encoding);
	}
	free(p->fields);
	free(p->name);
	free(p->part_label);
	free(p->part_table);
	free(p->chip);
	free(p);
}

int store_product_id(struct store *s, const char *name, int64_t *id, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st, "SELECT id FROM products WHERE name = ?", err);
	if (rc)
		return rc;
	store_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product '%s'", name ? name : "");
	} else {
		rc = store_db_err(s, err, "products");
	}
	store_unprep(s, st);
	return rc;
}

static int spec_has_unique(const struct store_product_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->n_unique; i++)
		if (!strcmp(spec->unique[i], key))
			return 1;
	return 0;
}

/* The images, inside the product's transaction: the schema's trigger
 * admits exactly the n_images the products row announced. */
static int images_add(struct store *s, int64_t pid, const struct fwimg_set *fw, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!fw)
		return 0;
	rc = store_prep(s, &st,
			"INSERT INTO product_images (product_id, flash_offset, name, file, size, sha256, data) "
			"VALUES (?, ?, ?, ?, ?, ?, ?)",
			err);
	if (rc)
		return rc;
	for (size_t i = 0; i < fw->n; i++) {
		const struct fwimg *im = &fw->images[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int64(st, 2, im->offset);
		store_bind_text(st, 3, im->name);
		store_bind_text(st, 4, im->file);
		sqlite3_bind_int64(st, 5, (int64_t)im->len);
		store_bind_text(st, 6, im->sha256);
		sqlite3_bind_blob64(st, 7, im->data, im->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_db_err(s, err, "product_images");
			break;
		}
	}
	store_unprep(s, st);
	return rc;
}

int store_product_firmware(struct store *s, int64_t product_id, struct fwimg_set **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, product_firmware, (s, product_id, out, err));
	sqlite3_stmt *st = NULL;
	struct fwimg_set *set = NULL;
	struct fwimg_err ferr = {0};
	uint8_t *data = NULL;
	int rc, r;

	*out = NULL;
	rc = store_prep(s, &st, "SELECT chip, n_images FROM products WHERE id = ?", err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, product_id);
	r = sqlite3_step(st);
	if (r != SQLITE_ROW) {
		rc = r == SQLITE_DONE ? store_fail_err(err, STORE_ENOTFOUND, "no product #%lld", (long long)product_id)
				      : store_db_err(s, err, "products");
		goto out;
	}
	if (sqlite3_column_int64(st, 1) == 0)
		goto out;
	if (fwimg_set_new((const char *)sqlite3_column_text(st, 0), &set, &ferr)) {
		rc = store_fail_err(err, STORE_ENOMEM, "%s", ferr.msg);
		goto out;
	}
	store_unprep(s, st);
	rc = store_prep(s, &st,
			"SELECT flash_offset, name, file, data FROM product_images WHERE product_id = ? "
			"ORDER BY flash_offset",
			err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, product_id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 3);
		data = malloc(len ? len : 1);
		if (!data) {
			rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
			goto out;
		}
		if (len)
			memcpy(data, sqlite3_column_blob(st, 3), len);
		/* fwimg_set_add takes data, also on failure. */
		rc = fwimg_set_add(set, (uint32_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
				   (const char *)sqlite3_column_text(st, 2), data, len, &ferr);
		data = NULL;
		if (rc) {
			rc = store_fail_err(err, STORE_ENOMEM, "product_images: %s", ferr.msg);
			goto out;
		}
	}
	if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "product_images");
		goto out;
	}
	if (fwimg_set_check(set, "product_images", &ferr)) {
		rc = store_fail_err(err, STORE_EDB, "%s", ferr.msg);
		goto out;
	}
	*out = set;
	set = NULL;
	rc = 0;
out:
	store_unprep(s, st);
	fwimg_set_unref(set);
	return rc;
}

/* The spec's own checks, before any CSV or database work. */
static int product_spec_check(const struct store_product_spec *spec, struct store_err *err)
{
	if (!spec->name || !*spec->name || strlen(spec->name) > 64)
		return store_fail_err(err, STORE_EINPUT, "product name must be 1 to 64 characters");
	if (spec->nvs_version != 1 && spec->nvs_version != 2)
		return store_fail_err(err, STORE_EINPUT, "NVS version must be 1 or 2");
	if (!spec->part_label || !*spec->part_label || !spec->part_size || spec->part_size % 4096 ||
	    !spec->part_table || !spec->part_table_len)
		return store_fail_err(err, STORE_EINPUT,
				      "the NVS partition (label, table, size multiple of 4096) is required");
	if (spec->firmware) {
		struct fwimg_err ferr = {0};
		if (fwimg_check_product(spec->firmware, spec->firmware_source, spec->part_table, spec->part_table_len,
					spec->table_offset ? spec->table_offset : PART_TABLE_OFFSET_DEFAULT,
					spec->part_offset, spec->part_size, &ferr))
			return store_fail_err(err, STORE_EINPUT, "%s", ferr.msg);
	}
	return 0;
}

/* The products row; *pid is its id. */
static int product_row_insert(struct store *s, const struct store_product_spec *spec, const char *now, int64_t *pid,
			      struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st,
			    "INSERT INTO products (name, nvs_version, part_table, part_label, part_offset, part_size, "
			    "config_csv, created, chip, n_images) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			    err);
	if (rc)
		return rc;
	store_bind_text(st, 1, spec->name);
	sqlite3_bind_int(st, 2, spec->nvs_version);
	sqlite3_bind_blob(st, 3, spec->part_table, (int)spec->part_table_len, SQLITE_TRANSIENT);
	store_bind_text(st, 4, spec->part_label);
	sqlite3_bind_int64(st, 5, spec->part_offset);
	sqlite3_bind_int64(st, 6, spec->part_size);
	sqlite3_bind_text(st, 7, spec->config_csv, (int)spec->config_len, SQLITE_TRANSIENT);
	store_bind_text(st, 8, now);
	store_bind_text(st, 9, spec->firmware ? spec->firmware->chip : "");
	sqlite3_bind_int64(st, 10, spec->firmware ? (int64_t)spec->firmware->n : 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sqlite3_errcode(s->db) == SQLITE_CONSTRAINT
			     ? store_fail_err(err, STORE_EEXIST, "product '%s' exists already", spec->name)
			     : store_db_err(s, err, "products");
	else
		*pid = sqlite3_last_insert_rowid(s->db);
	store_unprep(s, st);
	return rc;
}

/* One config row (key, type, encoding[, REPEAT]) checked; ns tracks the namespace. */
static int field_check(const struct store_product_spec *spec, const struct store_csv *csv, const char *src,
		       unsigned line, char *ns, size_t ns_size, const char **enc, int *repeat, int *uniq, int *is_data,
		       struct store_err *err)
{
	const char *key = csv->fields[0];
	const char *type = csv->n > 1 ? csv->fields[1] : "";

	*enc = csv->n > 2 ? csv->fields[2] : "";
	if (!*key || strlen(key) > FIELD_KEY_MAX)
		return store_fail_err(err, STORE_EINPUT, "%s:%u: key must be 1 to %d characters", src, line,
				      FIELD_KEY_MAX);
	if (!strcmp(type, "namespace")) {
		snprintf(ns, ns_size, "%s", key);
		*enc = "";
		return 0;
	}
	if (strcmp(type, "data") && strcmp(type, "file"))
		return store_fail_err(err, STORE_EINPUT, "%s:%u: key '%s': type must be namespace, data or file", src,
				      line, key);
	if (!known_encoding(*enc))
		return store_fail_err(err, STORE_EINPUT, "%s:%u: key '%s': unknown encoding '%s'", src, line, key,
				      *enc);
	if (!*ns)
		return store_fail_err(err, STORE_EINPUT, "%s:%u: key '%s' comes before any namespace", src, line, key);
	if (csv->n > 3 && !strcmp(csv->fields[3], "REPEAT"))
		*repeat = 1;
	else if (csv->n > 3 && *csv->fields[3])
		return store_fail_err(err, STORE_EINPUT, "%s:%u: key '%s': fourth column must be REPEAT", src, line,
				      key);
	*uniq = spec_has_unique(spec, key);
	*is_data = 1;
	return 0;
}

/* The config's rows as product_fields, in order; a row's error carries its line. */
static int fields_insert(struct store *s, int64_t pid, const struct store_product_spec *spec, struct store_csv *csv,
			 const char *src, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char ns[64] = "";
	int pos = 0, rc, r, n_data = 0;

	rc = store_prep(s, &st,
			"INSERT INTO product_fields (product_id, pos, namespace, key, type, encoding, is_repeat, "
			"is_unique) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			err);
	if (rc)
		return rc;
	while ((r = store_csv_next(csv)) == 1) {
		const char *enc;
		int repeat = 0, uniq = 0, is_data = 0;
		unsigned line = csv->line;
		if (csv->n == 0 || (csv->n == 1 && !csv->lens[0]))
			continue;
		rc = field_check(spec, csv, src, line, ns, sizeof(ns), &enc, &repeat, &uniq, &is_data, err);
		if (rc) {
			if (err)
				err->line = line;
			goto out;
		}
		n_data += is_data;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, pid);
		sqlite3_bind_int(st, 2, pos++);
		store_bind_text(st, 3, ns);
		store_bind_text(st, 4, csv->fields[0]);
		store_bind_text(st, 5, csv->n > 1 ? csv->fields[1] : "");
		store_bind_text(st, 6, enc);
		sqlite3_bind_int(st, 7, repeat);
		sqlite3_bind_int(st, 8, uniq);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = store_db_err(s, err, "product_fields");
			goto out;
		}
	}
	if (r < 0)
		rc = store_fail_err(err, STORE_EINPUT, "%s:%u: %s", src, csv->line, csv->msg);
	else if (!n_data)
		rc = store_fail_err(err, STORE_EINPUT, "%s: no data or file fields", src);
out:
	store_unprep(s, st);
	return rc;
}

/* Checks over the stored fields as a whole. */
static int fields_check(struct store *s, int64_t pid, const struct store_product_spec *spec, const char *src,
			struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	/* Values files name their columns by key, so a key may appear once
	 * among the data/file rows even across namespaces. */
	int rc = store_prep(s, &st,
			    "SELECT key FROM product_fields WHERE product_id = ? AND type <> 'namespace' "
			    "GROUP BY key HAVING count(*) > 1",
			    err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, pid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = store_fail_err(err, STORE_EINPUT, "%s: key '%s' appears twice", src,
				    (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	for (size_t i = 0; i < spec->n_unique; i++) {
		store_unprep(s, st);
		rc = store_prep(s, &st,
				"SELECT 1 FROM product_fields WHERE product_id = ? AND key = ? AND type <> 'namespace'",
				err);
		if (rc)
			goto out;
		sqlite3_bind_int64(st, 1, pid);
		store_bind_text(st, 2, spec->unique[i]);
		if (sqlite3_step(st) != SQLITE_ROW) {
			rc = store_fail_err(err, STORE_EINPUT, "--unique %s: no such field in %s", spec->unique[i],
					    src);
			goto out;
		}
	}
out:
	store_unprep(s, st);
	return rc;
}

int store_product_add(struct store *s, const struct store_product_spec *spec, struct store_err *err)
{
	STORE_VIA_BACKEND(s, product_add, (s, spec, err));
	struct store_audit_entry a = {.product = spec->name, .baud = -1, .retries = -1, .duration_ms = -1};
	struct store_csv csv;
	char now[32];
	const char *src = spec->config_source ? spec->config_source : "config";
	int64_t pid = 0;
	int rc;

	memset(&csv, 0, sizeof(csv));
	rc = product_spec_check(spec, err);
	if (rc)
		goto out;
	/* mfg_gen's config: '#' comment lines dropped, blank lines skipped. */
	if (store_csv_open(&csv, spec->config_csv, spec->config_len,
			   CSV_SKIP_HASH_LINES | CSV_SKIP_BLANK | CSV_SKIP_BOM | CSV_UTF8)) {
		rc = store_fail_err(err, STORE_EINPUT, "%s:%u: %s", src, csv.line, csv.msg);
		goto out;
	}
	store_now(now, sizeof(now));
	rc = store_begin(s, err);
	if (rc)
		goto out;
	rc = product_row_insert(s, spec, now, &pid, err);
	if (!rc)
		rc = images_add(s, pid, spec->firmware, err);
	if (!rc)
		rc = fields_insert(s, pid, spec, &csv, src, err);
	if (!rc)
		rc = fields_check(s, pid, spec, src, err);
	if (!rc)
		rc = store_audit_insert(s, &a, "product", "added", err);
	if (!rc)
		rc = store_commit(s, err);
out:
	if (rc)
		store_rollback(s);
	store_csv_close(&csv);
	return rc;
}

int store_product_load(struct store *s, int64_t id, struct store_product **out, struct store_err *err)
{
	struct store_product *p = NULL;
	sqlite3_stmt *st = NULL;
	int rc, r;
	size_t cap = 0;

	*out = NULL;
	rc = store_prep(s, &st,
			"SELECT name, nvs_version, part_label, part_offset, part_size, part_table, chip, n_images "
			"FROM products WHERE id = ?",
			err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product #%lld", (long long)id);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto nomem;
	p->id = id;
	p->name = store_col_strdup(st, 0);
	p->nvs_version = sqlite3_column_int(st, 1);
	p->part_label = store_col_strdup(st, 2);
	p->part_offset = (uint32_t)sqlite3_column_int64(st, 3);
	p->part_size = (uint32_t)sqlite3_column_int64(st, 4);
	p->part_table_len = (size_t)sqlite3_column_bytes(st, 5);
	p->part_table = malloc(p->part_table_len ? p->part_table_len : 1);
	p->chip = store_col_strdup(st, 6);
	p->n_images = (size_t)sqlite3_column_int64(st, 7);
	if (!p->name || !p->part_label || !p->part_table || !p->chip)
		goto nomem;
	if (p->part_table_len)
		memcpy(p->part_table, sqlite3_column_blob(st, 5), p->part_table_len);
	store_unprep(s, st);
	rc = store_prep(s, &st,
			"SELECT namespace, key, type, encoding, is_repeat, is_unique FROM product_fields "
			"WHERE product_id = ? ORDER BY pos",
			err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->n_fields == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct store_field *f = realloc(p->fields, ncap * sizeof(*f));
			if (!f)
				goto nomem;
			p->fields = f;
			cap = ncap;
		}
		struct store_field *f = &p->fields[p->n_fields++];
		memset(f, 0, sizeof(*f));
		f->namespace_ = store_col_strdup(st, 0);
		f->key = store_col_strdup(st, 1);
		f->type = store_col_strdup(st, 2);
		f->encoding = store_col_strdup(st, 3);
		f->is_repeat = sqlite3_column_int(st, 4);
		f->is_unique = sqlite3_column_int(st, 5);
		if (!f->namespace_ || !f->key || !f->type || !f->encoding)
			goto nomem;
	}
	if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "product_fields");
		goto out;
	}
	*out = p;
	p = NULL;
	rc = 0;
	goto out;
nomem:
	rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	store_unprep(s, st);
	store_product_free(p);
	return rc;
}

int store_product_get(struct store *s, const char *name, struct store_product **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, product_get, (s, name, out, err));
	int64_t id = 0; /* gcc 12 -O2 sees a path where store_product_id fails without setting it */
	int rc;

	*out = NULL;
	rc = store_product_id(s, name, &id, err);
	return rc ? rc : store_product_load(s, id, out, err);
}

/* The firmware member: chip and images (never the bytes), or null. */
static json_t *firmware_json(sqlite3_stmt *st, sqlite3_stmt *is, int64_t id)
{
	if (sqlite3_column_int64(st, 8) <= 0)
		return json_null();
	json_t *imgs = json_array();
	sqlite3_reset(is);
	sqlite3_bind_int64(is, 1, id);
	while (sqlite3_step(is) == SQLITE_ROW)
		json_array_append_new(imgs, json_pack("{s:o s:o s:o s:o s:o}", "offset", store_col_json(is, 0), "name",
						      store_col_json(is, 1), "file", store_col_json(is, 2), "size",
						      store_col_json(is, 3), "sha256", store_col_json(is, 4)));
	return json_pack("{s:o s:o}", "chip", store_col_json(st, 7), "images", imgs);
}

/* One products row (st) as JSON, with its fields (fs), record counts by
 * state (cs) and firmware (is). */
static int product_json(sqlite3_stmt *st, sqlite3_stmt *fs, sqlite3_stmt *cs, sqlite3_stmt *is, json_t **out,
			struct store_err *err)
{
	int64_t id = sqlite3_column_int64(st, 0);
	json_t *fields = json_array(), *counts = json_object();
	json_t *o = json_pack("{s:o s:o s:{s:o s:o s:o} s:o}", "name", store_col_json(st, 1), "nvs_version",
			      store_col_json(st, 2), "partition", "label", store_col_json(st, 3), "offset",
			      store_col_json(st, 4), "size", store_col_json(st, 5), "created", store_col_json(st, 6));
	static const char *const states[] = {"available", "reserved", "sent", "verified", "retired"};
	for (size_t i = 0; i < 5; i++)
		json_object_set_new(counts, states[i], json_integer(0));
	sqlite3_reset(fs);
	sqlite3_bind_int64(fs, 1, id);
	while (sqlite3_step(fs) == SQLITE_ROW)
		json_array_append_new(fields,
				      json_pack("{s:o s:o s:o s:o s:b s:b}", "namespace", store_col_json(fs, 0), "key",
						store_col_json(fs, 1), "type", store_col_json(fs, 2), "encoding",
						store_col_json(fs, 3), "repeat", sqlite3_column_int(fs, 4), "unique",
						sqlite3_column_int(fs, 5)));
	sqlite3_reset(cs);
	sqlite3_bind_int64(cs, 1, id);
	while (sqlite3_step(cs) == SQLITE_ROW)
		json_object_set_new(counts, (const char *)sqlite3_column_text(cs, 0),
				    json_integer(sqlite3_column_int64(cs, 1)));
	if (!o) {
		json_decref(fields);
		json_decref(counts);
		return store_fail_err(err, STORE_ENOMEM, "out of memory");
	}
	json_object_set_new(o, "fields", fields);
	json_object_set_new(o, "records", counts);
	json_object_set_new(o, "firmware", firmware_json(st, is, id));
	*out = o;
	return 0;
}

int store_product_query(struct store *s, const char *name, json_t **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, product_query, (s, name, out, err));
	sqlite3_stmt *st = NULL, *fs = NULL, *cs = NULL, *is = NULL;
	json_t *root = json_object(), *arr = json_array();
	int rc, r;

	*out = NULL;
	if (!root || !arr) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	rc = store_prep(s, &st,
			"SELECT id, name, nvs_version, part_label, part_offset, part_size, created, chip, n_images "
			"FROM products WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
			err);
	if (rc)
		goto out;
	rc = store_prep(s, &fs,
			"SELECT namespace, key, type, encoding, is_repeat, is_unique FROM product_fields "
			"WHERE product_id = ? AND type <> 'namespace' ORDER BY pos",
			err);
	if (rc)
		goto out;
	rc = store_prep(s, &cs, "SELECT state, count(*) FROM records WHERE product_id = ? GROUP BY state", err);
	if (rc)
		goto out;
	/* Never the bytes: what the operator checks against the build. */
	rc = store_prep(s, &is,
			"SELECT flash_offset, name, file, size, sha256 FROM product_images WHERE product_id = ? "
			"ORDER BY flash_offset",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, name);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = NULL;
		rc = product_json(st, fs, cs, is, &o, err);
		if (rc)
			goto out;
		json_array_append_new(arr, o);
	}
	if (r != SQLITE_DONE) {
		rc = store_db_err(s, err, "products");
		goto out;
	}
	if (name && json_array_size(arr) == 0) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no product '%s'", name);
		goto out;
	}
	json_object_set(root, "products", arr);
	*out = root;
	root = NULL;
	rc = 0;
out:
	store_unprep(s, is);
	store_unprep(s, cs);
	store_unprep(s, fs);
	store_unprep(s, st);
	json_decref(arr);
	json_decref(root);
	return rc;
}
