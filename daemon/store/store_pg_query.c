/* Batches and the JSON queries on PostgreSQL: the same objects as
 * store_batch.c and store_query.c build from SQLite. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define RC(err) ((err) ? (err)->code : STORE_EDB)

int pg_batch_add(struct store *s, const char *product, int64_t count, const char *const *ports, size_t n_ports,
		 int64_t *id_out, struct store_err *err)
{
	PGresult *r = NULL;
	json_t *pj = NULL;
	char *ptxt = NULL, now[32];
	int64_t pid, id = 0;
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
		json_decref(pj);
		if (!ptxt)
			return store_fail_err(err, STORE_EINPUT, "bad port list");
	}
	store_now(now, sizeof(now));
	if ((rc = pg_begin(s, err)))
		goto out;
	if ((rc = pg_product_id(s, product, &pid, err)))
		goto end;
	r = pg_q(s, err, "batches", "INSERT INTO batches (product_id, count, ports, created) VALUES ($1, $2, $3, $4) RETURNING id",
		 "iiss", pid, count, ptxt, now);
	if (!r) {
		rc = RC(err);
		goto end;
	}
	id = pg_i64(r, 0, 0);
	char note[64];
	snprintf(note, sizeof(note), "batch %lld: %lld devices", (long long)id, (long long)count);
	struct store_audit_entry a = {.product = product, .batch_id = id, .baud = -1, .retries = -1,
				      .duration_ms = -1, .error = note};
	rc = pg_audit_insert(s, &a, "batch", "added", err);
end:
	rc = pg_end(s, rc, err);
	if (!rc && id_out)
		*id_out = id;
out:
	PQclear(r);
	free(ptxt);
	return rc;
}

int pg_batch_set(struct store *s, int64_t id, enum store_batch_op op, struct store_err *err)
{
	const char *from = NULL, *to = NULL, *word = NULL;
	char state[16] = "", now[32];
	PGresult *r;
	int rc;

	switch (op) {
	case STORE_BATCH_PAUSE:
		from = "active", to = "paused", word = "pause";
		break;
	case STORE_BATCH_RESUME:
		from = "paused", to = "active", word = "resume";
		break;
	case STORE_BATCH_CANCEL:
		from = NULL, to = "cancelled", word = "cancel";
		break;
	}
	if (!to)
		return store_fail_err(err, STORE_EINPUT, "unknown batch operation");
	store_now(now, sizeof(now));
	if ((rc = pg_begin(s, err)))
		return rc;
	if (!(r = pg_q(s, err, "batches", "SELECT state FROM batches WHERE id = $1 FOR UPDATE", "i", id))) {
		rc = RC(err);
		goto out;
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		rc = store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
		goto out;
	}
	snprintf(state, sizeof(state), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (from ? strcmp(state, from) != 0 : (strcmp(state, "active") && strcmp(state, "paused"))) {
		rc = store_fail_err(err, STORE_ESTATE, "cannot %s batch %lld: it is %s", word, (long long)id, state);
		goto out;
	}
	rc = pg_x(s, err, NULL, "batches",
		  "UPDATE batches SET state = $1, finished = CASE WHEN $1 = 'cancelled' THEN $2 ELSE finished END "
		  "WHERE id = $3",
		  "ssi", to, now, id);
	if (!rc) {
		struct store_audit_entry a = {.batch_id = id, .baud = -1, .retries = -1, .duration_ms = -1};
		rc = pg_audit_insert(s, &a, "batch", to, err);
	}
out:
	return pg_end(s, rc, err);
}

/* id > 0: that batch; 0: every batch; -1: the active ones. */
static int batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err)
{
	json_t *arr;
	PGresult *r;

	*out = NULL;
	/* The state as it is once the results this session sees are
	 * committed: a batch whose verified total reached count is done, even
	 * in the moment between its last result's COMMIT and the statement
	 * that marks it (store_pg_batch.c), and inside the transaction of that
	 * result (espfabd's round reports "done" with it, as it did when the
	 * result itself set the state). */
	r = pg_q(s, err, "batches",
		 "SELECT id, name, count, ports, state, v, f, n_open, greatest(count - v, 0), created, finished FROM "
		 "(SELECT b.id, p.name, b.count, b.ports, CASE WHEN b.state IN ('active', 'paused') AND "
		 "coalesce(c.v, 0) >= b.count THEN 'done' ELSE b.state END AS state, coalesce(c.v, 0) AS v, "
		 "coalesce(c.f, 0) AS f, (SELECT count(*) FROM jobs j WHERE j.batch_id = b.id AND "
		 "j.state IN ('reserved', 'sent')) AS n_open, b.created, b.finished "
		 "FROM batches b JOIN products p ON p.id = b.product_id "
		 /* the per-station counters of store_pg_batch.c, summed */
		 "LEFT JOIN LATERAL (SELECT sum(n_verified)::bigint AS v, sum(n_failed)::bigint AS f FROM batch_counts "
		 "WHERE batch_id = b.id) c ON true "
		 "WHERE $1 = 0 OR b.id = $1 OR ($1 = -1 AND b.state = 'active')) q "
		 "WHERE $1 <> -1 OR state = 'active' ORDER BY id",
		 "i", id);
	if (!r)
		return RC(err);
	if (id > 0 && PQntuples(r) == 0) {
		PQclear(r);
		return store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
	}
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(r); i++) {
		json_t *ports = PQgetisnull(r, i, 3) ? NULL : json_loads(PQgetvalue(r, i, 3), 0, NULL);
		json_array_append_new(arr, json_pack("{s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o}", "id", pg_json(r, i, 0),
						     "product", pg_json(r, i, 1), "count", pg_json(r, i, 2), "ports",
						     ports ? ports : json_null(), "state", pg_json(r, i, 4), "verified",
						     pg_json(r, i, 5), "failed", pg_json(r, i, 6), "in_flight",
						     pg_json(r, i, 7), "remaining", pg_json(r, i, 8), "created",
						     pg_json(r, i, 9), "finished", pg_json(r, i, 10)));
	}
	PQclear(r);
	*out = arr ? json_pack("{s:o}", "batches", arr) : NULL;
	return *out ? 0 : store_fail_err(err, STORE_ENOMEM, "out of memory");
}

int pg_batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err)
{
	if (id < 0) {
		*out = NULL;
		return store_fail_err(err, STORE_ENOTFOUND, "no batch %lld", (long long)id);
	}
	return batch_query(s, id, out, err);
}

int pg_batch_active(struct store *s, json_t **out, struct store_err *err)
{
	return batch_query(s, -1, out, err);
}

static const char *const record_states[] = {"available", "reserved", "sent", "verified", "retired"};

static int valid_state(const char *st)
{
	for (size_t i = 0; i < sizeof(record_states) / sizeof(record_states[0]); i++)
		if (!strcmp(st, record_states[i]))
			return 1;
	return 0;
}

/* As store_query.c: printable text as a string, anything else as hex. */
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
	json_t *vals = json_object();
	int rc = 0;
	PGresult *r = pg_q(s, err, "record_values",
			   "SELECT f.key, v.value, v.pos FROM record_values v JOIN records r ON r.id = v.record_id "
			   "JOIN product_fields f ON f.product_id = r.product_id AND f.pos = v.pos "
			   "WHERE v.record_id = $1 ORDER BY v.pos",
			   "i", rowid);
	if (!r) {
		json_decref(vals);
		return RC(err);
	}
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t *b = NULL, *pt = NULL;
		size_t len = 0, pl = 0;
		if ((rc = pg_bytea(r, i, 1, &b, &len, err)))
			break;
		if (sealed) {
			char aad[256];
			store_value_aad(aad, sizeof(aad), pid, record_id, (int)pg_i64(r, i, 2));
			rc = store_unseal(s, b, len, aad, &pt, &pl, err);
			free(b);
			if (rc)
				break;
			b = pt;
			len = pl;
		}
		json_object_set_new(vals, PQgetvalue(r, i, 0), value_json(b, len));
		OPENSSL_cleanse(b, len);
		free(b);
	}
	for (int i = 0; i < PQntuples(r); i++)
		OPENSSL_cleanse(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1));
	PQclear(r);
	if (!rc)
		json_object_set(rec, "values", vals);
	json_decref(vals);
	return rc;
}

int pg_query_records(struct store *s, const struct store_record_filter *f, json_t **out, struct store_err *err)
{
	PGresult *r = NULL;
	json_t *arr = json_array();
	int64_t pid;
	int rc = 0;

	*out = NULL;
	if (f->state && !valid_state(f->state)) {
		rc = store_fail_err(err, STORE_EINPUT, "unknown state '%s'", f->state);
		goto out;
	}
	if (f->product && (rc = pg_product_id(s, f->product, &pid, err)))
		goto out;
	if (f->reveal && (rc = pg_seal_check(s, 0, err)))
		goto out;
	r = pg_q(s, err, "records",
		 "SELECT p.name, r.record_id, r.state, r.mac, r.station, r.port, r.bound_at, r.verified_at, "
		 "r.retired_reason, r.sealed, r.id, r.product_id FROM records r JOIN products p ON p.id = r.product_id "
		 "WHERE ($1::text IS NULL OR p.name = $1) AND ($2::text IS NULL OR r.state = $2) ORDER BY p.name, r.id "
		 "LIMIT $3",
		 "ssI", f->product, f->state, f->limit);
	if (!r) {
		rc = RC(err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = json_pack("{s:o s:o s:o s:o s:o s:o s:o s:o s:o s:b}", "product", pg_json(r, i, 0), "id",
				      pg_json(r, i, 1), "state", pg_json(r, i, 2), "mac", pg_json(r, i, 3), "station",
				      pg_json(r, i, 4), "port", pg_json(r, i, 5), "bound_at", pg_json(r, i, 6),
				      "verified_at", pg_json(r, i, 7), "retired_reason", pg_json(r, i, 8), "sealed",
				      (int)pg_i64(r, i, 9));
		if (!o) {
			rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
			goto out;
		}
		json_array_append_new(arr, o);
		if (f->reveal && (rc = reveal(s, o, pg_i64(r, i, 10), pg_i64(r, i, 11), PQgetvalue(r, i, 1),
					      (int)pg_i64(r, i, 9), err)))
			goto out;
	}
	*out = json_pack("{s:O}", "records", arr);
	if (!*out)
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
out:
	PQclear(r);
	json_decref(arr);
	return rc;
}

int pg_query_stats(struct store *s, const char *product, json_t **out, struct store_err *err)
{
	PGresult *r;
	json_t *arr;
	int64_t pid;
	int rc;

	*out = NULL;
	if (product && (rc = pg_product_id(s, product, &pid, err)))
		return rc;
	r = pg_q(s, err, "records",
		 "SELECT p.name, count(r.id), count(*) FILTER (WHERE r.state = 'available'), "
		 "count(*) FILTER (WHERE r.state = 'reserved'), count(*) FILTER (WHERE r.state = 'sent'), "
		 "count(*) FILTER (WHERE r.state = 'verified'), count(*) FILTER (WHERE r.state = 'retired') "
		 "FROM products p LEFT JOIN records r ON r.product_id = p.id WHERE $1::text IS NULL OR p.name = $1 "
		 "GROUP BY p.id, p.name ORDER BY p.name",
		 "s", product);
	if (!r)
		return RC(err);
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(r); i++)
		json_array_append_new(arr, json_pack("{s:o s:o s:o s:o s:o s:o s:o}", "product", pg_json(r, i, 0), "total",
						     pg_json(r, i, 1), "available", pg_json(r, i, 2), "reserved",
						     pg_json(r, i, 3), "sent", pg_json(r, i, 4), "verified",
						     pg_json(r, i, 5), "retired", pg_json(r, i, 6)));
	PQclear(r);
	*out = arr ? json_pack("{s:o}", "stats", arr) : NULL;
	return *out ? 0 : store_fail_err(err, STORE_ENOMEM, "out of memory");
}

int pg_query_audit(struct store *s, const struct store_audit_filter *f, json_t **out, struct store_err *err)
{
	static const char *const cols[] = {"id",        "time",         "event",     "station", "port",    "chip",
					   "mac",       "product",      "record_id", "batch_id", "job_id", "image_sha256",
					   "flash_md5", "baud",         "retries",   "duration_ms", "result", "error",
					   "cert_serial", "efuse"};
	char mac[STORE_MAC_LEN + 1];
	PGresult *r;
	json_t *arr;

	*out = NULL;
	if (f->mac && store_mac_normalise(f->mac, mac))
		return store_fail_err(err, STORE_EINPUT, "bad MAC address '%s'", f->mac);
	r = pg_q(s, err, "audit",
		 "SELECT id, time, event, station, port, chip, mac, product, record_id, batch_id, job_id, "
		 "image_sha256, flash_md5, baud, retries, duration_ms, result, error, cert_serial, efuse FROM audit "
		 "WHERE ($1::text IS NULL OR time >= $1) AND ($2::text IS NULL OR mac = $2) AND ($3::text IS NULL OR product = $3) "
		 "AND id > $5 AND ($6::bigint = 0 OR batch_id = $6::bigint) ORDER BY id LIMIT $4",
		 "sssIii", f->since, f->mac ? mac : NULL, f->product, f->limit, f->after_id > 0 ? f->after_id : (int64_t)0,
		 f->batch > 0 ? f->batch : (int64_t)0);
	if (!r)
		return RC(err);
	arr = json_array();
	for (int i = 0; arr && i < PQntuples(r); i++) {
		json_t *o = json_object();
		for (int c = 0; o && c < (int)(sizeof(cols) / sizeof(cols[0])); c++)
			json_object_set_new(o, cols[c], pg_json(r, i, c));
		json_array_append_new(arr, o);
	}
	PQclear(r);
	*out = arr ? json_pack("{s:o}", "audit", arr) : NULL;
	return *out ? 0 : store_fail_err(err, STORE_ENOMEM, "out of memory");
}
