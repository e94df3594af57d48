/* The audit trail: append-only (the schema's triggers refuse UPDATE and
 * DELETE), one row per attempt and per operator action, never a value. */
#include <string.h>

#include "store_backend.h"
#include "store_int.h"

int store_audit_insert(struct store *s, const struct store_audit_entry *a, const char *event,
		       const char *result, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc;

	rc = store_prep(s, &st,
			"INSERT INTO audit (time, event, station, port, chip, mac, product, record_id, batch_id, "
			"job_id, image_sha256, flash_md5, baud, retries, duration_ms, result, error, delivery) "
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			err);
	if (rc)
		return rc;
	store_now(now, sizeof(now));
	store_bind_text(st, 1, now);
	store_bind_text(st, 2, a->event ? a->event : event ? event : "note");
	store_bind_text(st, 3, a->station);
	store_bind_text(st, 4, a->port);
	store_bind_text(st, 5, a->chip);
	store_bind_text(st, 6, a->mac);
	store_bind_text(st, 7, a->product);
	store_bind_text(st, 8, a->record_id);
	store_bind_opt_int(st, 9, a->batch_id > 0 ? a->batch_id : -1);
	store_bind_opt_int(st, 10, a->job_id > 0 ? a->job_id : -1);
	store_bind_text(st, 11, a->image_sha256);
	store_bind_text(st, 12, a->flash_md5);
	store_bind_opt_int(st, 13, a->baud);
	store_bind_opt_int(st, 14, a->retries);
	store_bind_opt_int(st, 15, a->duration_ms);
	store_bind_text(st, 16, a->result ? a->result : result ? result : "unknown");
	store_bind_text(st, 17, a->error);
	store_bind_text(st, 18, a->delivery);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "audit");
	store_unprep(s, st);
	return rc;
}

int store_audit_append(struct store *s, const struct store_audit_entry *a, struct store_err *err)
{
	STORE_VIA_BACKEND(s, audit_append, (s, a, err));
	char mac[STORE_MAC_LEN + 1];
	struct store_audit_entry e = *a;
	int rc;

	if (e.mac && !store_mac_normalise(e.mac, mac))
		e.mac = mac;
	rc = store_begin(s, err);
	if (rc)
		return rc;
	/* A failed attempt without a claim is only this row: its repeat is
	 * caught here, not by a job's state. */
	rc = store_delivery_seen(s, &e, NULL, NULL, err);
	if (rc > 0)
		return store_commit(s, err);
	if (!rc)
		rc = store_audit_insert(s, &e, NULL, NULL, err);
	if (rc) {
		store_rollback(s);
		return rc;
	}
	return store_commit(s, err);
}
