/* The station's device results: stored with their audit row, or held in the
 * outbox while the database is unreachable. */
#include "station.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "espfab/nvs.h"
#include "espfab/store.h"
#include "espfab/version.h"
#include "jobq.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "espfab/store_cert.h"
#include "pipeline.h"
#include "station_hmac.h"
#include "station_ident.h"
#include "station_int.h"
#include "uplink.h"
#include "worker.h"

/* Hands a device's result to the store (its job's end and audit row),
 * under its delivery id ("" = none): sent again after a crash, it is
 * stored once (store.h, EXACTLY ONCE). */
static int result_store(struct station *s, const struct jobq_msg *m, const char *port, const char *delivery,
			struct store_err *serr)
{
	struct store_audit_entry a = {
		.station = s->cfg.station, .port = port, .chip = m->chip, .mac = m->mac,
		.record_id = m->u.result.record[0] ? m->u.result.record : NULL, .batch_id = m->batch_id, .job_id = m->job_id,
		.image_sha256 = m->job_id && m->u.result.image_sha256[0] ? m->u.result.image_sha256 : NULL,
		.flash_md5 = m->u.result.flash_md5[0] ? m->u.result.flash_md5 : NULL, .baud = m->u.result.baud, .retries = m->u.result.retries,
		.duration_ms = m->u.result.duration_ms, .error = m->error[0] ? m->error : NULL,
		.delivery = delivery[0] ? delivery : NULL};
	int rc;

	if (m->rc == 0) {
		rc = store_mark_verified(s->store, m->job_id, &a, serr);
		if (!rc && m->u.result.ident && m->u.result.ident_product)
			rc = store_cert_delivered(s->store, m->u.result.ident_product, m->mac, s->cfg.station, port, m->job_id,
						  serr);
		if (!rc && m->u.result.hmac)
			rc = station_hmac_done(s->store,
					       &(struct station_hmac_ctx){.station = s->cfg.station, .port = port,
									  .chip = m->chip, .mac = m->mac,
									  .record_id = m->u.result.record, .batch_id = m->batch_id,
									  .job_id = m->job_id},
					       m->u.result.hmac, serr);
		return rc;
	}
	if (m->u.result.sent)
		return store_fail(s->store, m->job_id, m->error, &a, serr);
	if (m->job_id)
		return store_release(s->store, m->job_id, m->error, &a, serr);
	a.event = "attempt";
	a.result = "failed";
	return store_audit_append(s->store, &a, serr);
}

void station_hold_result(struct station *s, const struct jobq_msg *m, const char *port, const char *delivery, int front)
{
	struct outbox_err oerr;
	const char *rec = m->u.result.record[0] ? m->u.result.record : "-";
	int rc = outbox_push(s->outbox, m, port, delivery, front, &oerr);

	if (rc == -ENOSPC)
		log_msg(LOG_ERR, &(struct log_fields){.port = port, .mac = m->mac},
			"store: %d results held already: the result of record %s is dropped (its record stays bound)",
			OUTBOX_MAX, rec);
	else if (rc)
		log_msg(LOG_ERR, &(struct log_fields){.port = port, .mac = m->mac},
			"store: result of record %s held in memory only: %s", rec, oerr.msg);
}

/* Held results, oldest first, while the store takes them. */
void station_outbox_flush(struct station *s)
{
	const struct outbox_item *it;
	struct store_err serr = {0};
	struct outbox_err oerr;

	while ((it = outbox_peek(s->outbox))) {
		int rc = result_store(s, &it->m, it->port, it->delivery, &serr);
		if (station_store_seen(s, rc, &serr))
			return;
		if (rc)
			log_msg(LOG_ERR, &(struct log_fields){.port = it->port, .mac = it->m.mac, .batch = it->m.batch_id},
				"store: held result of record %s: %s", it->m.u.result.record[0] ? it->m.u.result.record : "-", serr.msg);
		else
			log_msg(LOG_INFO, &(struct log_fields){.port = it->port, .mac = it->m.mac, .batch = it->m.batch_id},
				"store: held result of record %s delivered", it->m.u.result.record[0] ? it->m.u.result.record : "-");
		if (outbox_pop(s->outbox, &oerr))
			log_msg(LOG_ERR, NULL, "store: %s", oerr.msg);
	}
}

size_t station_deliver_held(struct station *s)
{
	station_outbox_flush(s);
	return outbox_len(s->outbox);
}

void station_on_result(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = station_port_of(s, m);
	struct store_err serr = {0};
	json_t *steps = json_object();
	const char *result;
	char delivery[OUTBOX_DELIVERY_LEN + 1];
	uint64_t t_audit;
	int rc = 0;

	if (!p)
		return;
	/* From its first store call on: a COMMIT whose answer was lost (the
	 * server went away inside it) is then held and sent again under the
	 * same id. Without random bytes ("") it is stored as before. */
	(void)outbox_delivery_new(delivery);
	p->promised = 0;
	/* what the held result needs to be stored later, whatever the port
	 * does meanwhile */
	if (m->job_id)
		snprintf(m->u.result.image_sha256, sizeof(m->u.result.image_sha256), "%s", p->image_sha256);
	m->u.result.ident_product = p->ident_product;
	result = m->rc == 0 ? "verified" : m->u.result.sent ? "failed" : m->job_id ? "released" : "failed";
	t_audit = station_mono_ms();
	if (outbox_len(s->outbox)) {
		/* Held results go first: this one waits behind them. */
		station_hold_result(s, m, p->name, delivery, 0);
	} else {
		station_round_write(s);
		rc = result_store(s, m, p->name, delivery, &serr);
		if (station_store_seen(s, rc, &serr)) {
			station_hold_result(s, m, p->name, delivery, 0);
			rc = 0;
		} else if (s->txn && s->n_round_res < ROUND_MAX) {
			struct outbox_item *it = &s->round_res[s->n_round_res++];
			it->m = *m;
			it->m.data = NULL;
			it->m.fw = NULL;
			memcpy(it->port, p->name, sizeof(it->port)); /* both CONFIG_NAME_MAX, NUL-terminated */
			memcpy(it->delivery, delivery, sizeof(it->delivery));
		}
	}
	m->u.result.step_ms[PIPELINE_STEP_AUDIT] = (uint32_t)(station_mono_ms() - t_audit);
	if (rc)
		log_msg(LOG_ERR, &(struct log_fields){.port = p->name, .mac = m->mac, .batch = m->batch_id},
			"store: %s", serr.msg);
	if (m->rc == 0) {
		p->n_ok++;
		s->n_ok++;
	} else {
		p->n_failed++;
		s->n_failed++;
	}
	snprintf(p->last_result, sizeof(p->last_result), "%s", result);
	snprintf(p->last_error, sizeof(p->last_error), "%s", m->error);
	snprintf(p->last_mac, sizeof(p->last_mac), "%s", m->mac);
	snprintf(p->last_record, sizeof(p->last_record), "%s", m->u.result.record);
	p->last_ms = m->u.result.duration_ms;
	p->job_id = 0;
	p->record[0] = '\0';
	p->image_sha256[0] = '\0';
	/* Removed by a reload while it worked: its device is done now. */
	station_port_retire(s, p);
	for (int i = 0; i < PIPELINE_STEP_COUNT_; i++)
		if (m->u.result.step_ms[i])
			json_object_set_new(steps, pipeline_step_name((enum pipeline_step)i),
					    json_integer(m->u.result.step_ms[i]));
	log_msg(m->rc ? LOG_WARNING : LOG_INFO,
		&(struct log_fields){.port = p->name, .mac = m->mac, .batch = m->batch_id, .result = result},
		"record %s: %s in %u ms%s%.400s", m->u.result.record[0] ? m->u.result.record : "-", result, m->u.result.duration_ms,
		m->error[0] ? " - " : "", m->error);
	station_broadcast(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:o}", "event", "result", "port",
			       p->name, "mac", m->mac, "chip", m->chip, "record", m->u.result.record, "batch",
			       (json_int_t)m->batch_id, "job", (json_int_t)m->job_id, "result", result, "error",
			       m->error, "duration_ms", (json_int_t)m->u.result.duration_ms, "steps", steps));
	/* A batch that just reached its count. */
	if (m->batch_id) {
		json_t *b = NULL;
		if (!store_batch_query(s->store, m->batch_id, &b, &serr)) {
			json_t *o = json_array_get(json_object_get(b, "batches"), 0);
			station_broadcast(s, json_pack("{s:s, s:I, s:O, s:O, s:O, s:O}", "event", "batch", "batch",
					       (json_int_t)m->batch_id, "state", json_object_get(o, "state"),
					       "verified", json_object_get(o, "verified"), "failed",
					       json_object_get(o, "failed"), "remaining",
					       json_object_get(o, "remaining")));
		}
		json_decref(b);
	}
}
