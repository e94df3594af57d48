/* Batches: how many devices of a product to provision, on which ports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"
#include "espfab/store_state.h"
#include "store_int.h"

int store_batch_add(struct store *s, const char *product, int64_t count, const char *const *ports,
		    size_t n_ports, int64_t *id_out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, batch_add, (s, product, count, ports, n_ports, id_out, err));
	sqlite3_stmt *st = NULL;
	json_t *pj = NULL;
	char *ptxt = NULL, now[32];
	int64_t pid;
	int rc;

	if (id_out)
		*id_out = 0;
	if (count <= 0)
		return store_fail_err(err, STORE_EINPUT, "a batch needs a count above 0");
	if (n_ports) {
		pj = json_array();
		for (size_t i = 0; pj && i < n_ports; i++)
			json_array_append_new(pj, json_string(ports[i]));
		ptxt = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
		if (!ptxt) {
			json_decref(pj);
			return store_fail_err(err, STORE_EINPUT, "bad port list");
		}
	}
	store_now(now, sizeof(now));
	rc = store_begin(s, err);
	if (rc)
		goto out;
	rc = store_product_id(s, product, &pid, err);
	if (rc)
		goto out;
	rc = store_prep(s, &st, "INSERT INTO batches (product_id, count, ports, created) VALUES (?, ?, ?, ?)", err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int64(st, 2, count);
	store_bind_text(st, 3, ptxt);
	store_bind_text(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_db_err(s, err, "batches");
		goto out;
	}
	int64_t id = sqlite3_last_insert_rowid(s->db);
	char note[64];
	snprintf(note, sizeof(note), "batch %lld: %lld devices", (long long)id, (long long)count);
	struct store_audit_entry a = {.product = product, .batch_id = id, .baud = -1, .retries = -1,
				      .duration_ms = -1, .error = note};
	rc = store_audit_insert(s, &a, "batch", "added", err);
	if (rc)
		goto out;
	rc = store_commit(s, err);
	if (!rc && id_out)
		*id_out = id;
out:
	store_unprep(s, st);
	if (rc)
		store_rollback(s);
	free(ptxt);
	json_decref(pj);
	return rc;
}

int store_batch_set(struct store *s, int64_t id, enum store_batch_op op, struct store_err *err)
{
	STORE_VIA_BACKEND(s, batch_set, (s, id, op, err));
	sqlite3_stmt *st = NULL;
	enum store_batch_state to = STORE_BATCH_CANCELLED;
	const char *word = NULL;
	char state[16] = "", now[32];
	int rc;

	switch (op) {
	case STORE_BATCH_PAUSE:
		to = STORE_BATCH_PAUSED;
		word = "pause";
		break;
	case STORE_BATCH_RESUME:
		to = STORE_BATCH_ACTIVE;
		word = "resume";
		break;
	case STORE_BATCH_CANCEL:
		to = STORE_BATCH_CANCELLED;
		word = "cancel";
		break;
	}
	store_now(now, sizeof(now));
	rc = store_begin(s, err);
	if (rc)
		return rc;
	rc = store_prep(s, &st, "SELECT state FROM batches WHERE id = ?", err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
		goto out;
	}
	snprintf(state, sizeof(state), "%s", sqlite3_column_text(st, 0));
	store_unprep(s, st);
	st = NULL;
	if (!store_state_allowed(STORE_LC_BATCH, store_batch_state_parse(state), to)) {
		rc = store_fail_err(err, STORE_ESTATE, "cannot %s batch %lld: it is %s", word, (long long)id, state);
		goto out;
	}
	/* Jobs in flight finish normally; a cancelled or paused batch only
	 * stops new claims (store_claim checks the state). */
	rc = store_prep(s, &st,
			"UPDATE batches SET state = ?1, finished = CASE WHEN ?1 = 'cancelled' THEN ?2 ELSE finished END "
			"WHERE id = ?3",
			err);
	if (rc)
		goto out;
	store_bind_text(st, 1, store_batch_state_name(to));
	store_bind_text(st, 2, now);
	sqlite3_bind_int64(st, 3, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = store_db_err(s, err, "batches");
		goto out;
	}
	struct store_audit_entry a = {.batch_id = id, .baud = -1, .retries = -1, .duration_ms = -1};
	rc = store_audit_insert(s, &a, "batch", store_batch_state_name(to), err);
out:
	store_unprep(s, st);
	return store_end(s, rc, err);
}

/* id > 0: that batch; 0: every batch; -1: the active ones. */
static int batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc, r;

	*out = NULL;
	rc = store_prep(s, &st,
			"SELECT b.id, p.name, b.count, b.ports, b.state, b.n_verified, b.n_failed, "
			"(SELECT count(*) FROM jobs j WHERE j.batch_id = b.id AND j.state IN ('reserved', 'sent')), "
			"max(b.count - b.n_verified, 0), b.created, b.finished "
			"FROM batches b JOIN products p ON p.id = b.product_id "
			"WHERE ?1 = 0 OR b.id = ?1 OR (?1 = -1 AND b.state = 'active') ORDER BY b.id",
			err);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *ports = NULL;
		if (sqlite3_column_type(st, 3) == SQLITE_TEXT)
			ports = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
		json_array_append_new(arr, json_pack("{s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o}", "id",
						     store_col_json(st, 0), "product", store_col_json(st, 1), "count",
						     store_col_json(st, 2), "ports", ports ? ports : json_null(),
						     "state", store_col_json(st, 4), "verified", store_col_json(st, 5),
						     "failed", store_col_json(st, 6), "in_flight",
						     store_col_json(st, 7), "remaining", store_col_json(st, 8),
						     "created", store_col_json(st, 9), "finished",
						     store_col_json(st, 10)));
	}
	if (r == SQLITE_DONE && id > 0 && !json_array_size(arr))
		rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
	else
		rc = store_json_wrap(s, r, "batches", arr, out, err);
out:
	store_unprep(s, st);
	json_decref(arr);
	return rc;
}

int store_batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, batch_query, (s, id, out, err));
	if (id < 0) {
		*out = NULL;
		return store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
	}
	return batch_query(s, id, out, err);
}

int store_batch_active(struct store *s, json_t **out, struct store_err *err)
{
	STORE_VIA_BACKEND(s, batch_active, (s, out, err));
	return batch_query(s, -1, out, err);
}
