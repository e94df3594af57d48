/* The station's answers to worker requests: work (which batch), claim (which
 * record, its image) and mark sent. */
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
#include "espfab/store_state.h"
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

/* Promises held by ports other than self for batch (or, batch 0, for any
 * batch of product). */
static long long promises(const struct station *s, const struct station_port *self, int64_t batch,
			  const char *product)
{
	long long n = 0;

	for (size_t i = 0; i < s->nports; i++) {
		const struct station_port *q = &s->ports[i];
		if (q == self || !q->promised)
			continue;
		if (batch ? q->promised == batch : product && !strcmp(q->promised_product, product))
			n++;
	}
	return n;
}

/* Has this MAC a record of product bound to it (so it needs no available
 * one), or is it verified in batch already? From its audit rows. */
static void mac_history(struct station *s, const char *mac, const char *product, int64_t batch, int *bound,
			int *verified_in_batch)
{
	struct store_audit_filter f = {.mac = mac, .product = product};
	struct store_err serr;
	json_t *out = NULL, *a;
	size_t i;

	*bound = *verified_in_batch = 0;
	if (store_query_audit(s->store, &f, &out, &serr))
		return;
	json_array_foreach(json_object_get(out, "audit"), i, a)
	{
		const char *ev = json_string_value(json_object_get(a, "event")) ?: "";
		const char *res = json_string_value(json_object_get(a, "result")) ?: "";
		if (strcmp(ev, "provision") && strcmp(ev, "recover"))
			continue;
		/* ok and failed rows come after mark_sent: the record is bound;
		 * interrupted ones too (a sent job recovered at startup). */
		if (!strcmp(res, "ok") || !strcmp(res, "failed") || !strcmp(res, "interrupted"))
			*bound = 1;
		if (!strcmp(res, "ok") && json_integer_value(json_object_get(a, "batch_id")) == batch)
			*verified_in_batch = 1;
	}
	json_decref(out);
}

/* Is there an active batch with room that may use this port? Room counts
 * the records in flight and the other ports' promises. */
static int pick_batch(struct station *s, const struct station_port *self, int64_t *batch_id, char *product,
		      size_t cap)
{
	const char *port = self->name;
	json_t *arr;
	struct store_err serr;
	size_t i;
	int found = 0;

	if (!s->round_batches && store_batch_active(s->store, &s->round_batches, &serr))
		return 0;
	arr = json_object_get(s->round_batches, "batches");
	for (i = 0; i < json_array_size(arr) && !found; i++) {
		json_t *b = json_array_get(arr, i), *ports = json_object_get(b, "ports");
		const char *state = json_string_value(json_object_get(b, "state"));
		json_int_t remaining = json_integer_value(json_object_get(b, "remaining"));
		json_int_t in_flight = json_integer_value(json_object_get(b, "in_flight"));
		int port_ok = !json_is_array(ports) || !json_array_size(ports);
		if (store_batch_state_parse(state) != STORE_BATCH_ACTIVE ||
		    remaining <= in_flight + promises(s, self, json_integer_value(json_object_get(b, "id")), NULL))
			continue;
		for (size_t j = 0; !port_ok && j < json_array_size(ports); j++)
			port_ok = !strcmp(json_string_value(json_array_get(ports, j)) ?: "", port);
		if (!port_ok)
			continue;
		*batch_id = json_integer_value(json_object_get(b, "id"));
		snprintf(product, cap, "%s", json_string_value(json_object_get(b, "product")) ?: "");
		found = 1;
	}
	return found;
}

void station_on_work_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = station_port_of(s, m);
	struct jobq_msg rep;
	struct store_product *prod = NULL;
	struct store_err serr;

	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_WORK_REP;
	rep.rc = -1;
	if (!p || s->stopping || p->removing || !pick_batch(s, p, &rep.batch_id, rep.u.work.product, sizeof(rep.u.work.product)))
		goto out;
	{
		int bound, verified;
		mac_history(s, m->mac, rep.u.work.product, rep.batch_id, &bound, &verified);
		if (verified) {
			/* Verified in this batch (before a restart, or a re-seated
			 * board): never written again. */
			log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac, .batch = rep.batch_id},
				"already verified in batch %lld: left alone", (long long)rep.batch_id);
			rep.rc = JOBQ_WORK_DONE;
			goto out;
		}
		/* Before anything is written: a record must be there for it. */
		if (!bound) {
			long long n = station_available(s, rep.u.work.product);
			if (n >= 0 && n <= promises(s, p, 0, rep.u.work.product)) {
				log_msg(LOG_WARNING, &(struct log_fields){.port = p->name, .batch = rep.batch_id},
					"product %s has no available record left: nothing written", rep.u.work.product);
				goto out;
			}
		}
	}
	if (s->round_prod && !strcmp(s->round_prod->name, rep.u.work.product)) {
		prod = s->round_prod;
	} else if (store_product_get(s->store, rep.u.work.product, &prod, &serr)) {
		log_msg(LOG_ERR, &(struct log_fields){.port = p->name, .batch = rep.batch_id}, "product %s: %s",
			rep.u.work.product, serr.msg);
		goto out;
	}
	rep.data = malloc(prod->part_table_len);
	if (!rep.data)
		goto out;
	memcpy(rep.data, prod->part_table, prod->part_table_len);
	rep.len = prod->part_table_len;
	rep.u.work.part_offset = prod->part_offset;
	rep.u.work.part_size = prod->part_size;
	snprintf(rep.u.work.label, sizeof(rep.u.work.label), "%s", prod->part_label);
	if (prod->n_images && (!s->fw || s->fw_product != prod->id)) {
		struct fwimg_set *fw = NULL;
		if (store_product_firmware(s->store, prod->id, &fw, &serr)) {
			log_msg(LOG_ERR, &(struct log_fields){.port = p->name, .batch = rep.batch_id},
				"product %s: firmware: %s", rep.u.work.product, serr.msg);
			goto out;
		}
		fwimg_set_unref(s->fw);
		s->fw = fw;
		s->fw_product = prod->id;
	}
	rep.fw = prod->n_images ? fwimg_set_ref(s->fw) : NULL;
	rep.u.work.md5_only = !s->verify_readback;
	rep.u.work.hmac = station_hmac_work(s->store, prod->id);
	rep.rc = 0;
	p->promised = rep.batch_id;
	snprintf(p->promised_product, sizeof(p->promised_product), "%.63s", rep.u.work.product);
out:
	if (prod && prod != s->round_prod) {
		store_product_free(s->round_prod);
		s->round_prod = prod;
	}
	station_reply_worker(s, m->worker, &rep);
}

void station_on_claim_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = station_port_of(s, m);
	struct jobq_msg rep;
	struct store_record *r = NULL;
	struct store_err serr = {0};
	char product[CTL_NAME_MAX] = "";
	uint8_t hkey[32], xts[NVS_XTS_KEY_LEN];
	uint32_t hmac = 0;
	uint64_t t;
	int64_t b;

	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_CLAIM_REP;
	rep.rc = -1;
	if (!p)
		goto out;
	if (s->stopping) {
		snprintf(rep.error, sizeof(rep.error), "the station is shutting down");
		goto out;
	}
	/* The batch may have filled or been paused since the work reply. This
	 * port's own promise is part of the room pick_batch() sees. */
	if (!pick_batch(s, p, &b, product, sizeof(product)) || b != m->batch_id) {
		snprintf(rep.error, sizeof(rep.error), "batch %lld has no work left for this port",
			 (long long)m->batch_id);
		goto out;
	}
	station_round_write(s);
	{
		struct store_claim_req cr = {.product = product, .batch_id = m->batch_id, .station = s->cfg.station,
					     .port = p->name, .mac = m->mac, .chip = m->chip};
		int crc = store_claim(s->store, &cr, &r, &serr);
		station_store_seen(s, crc, &serr);
		if (crc) {
			snprintf(rep.error, sizeof(rep.error), "%s", serr.msg);
			goto out;
		}
	}
	rep.job_id = r->job_id;
	p->job_id = r->job_id;
	p->batch_id = m->batch_id;
	if (!r->reused && !strcmp(s->avail_product, product) && s->avail_n > 0)
		s->avail_n--;
	station_lease_claimed(s, product);
	snprintf(rep.u.claim.record, sizeof(rep.u.claim.record), "%s", r->record_id);
	snprintf(p->record, sizeof(p->record), "%s", r->record_id);
	t = station_mono_ms();
	p->ident_product = 0;
	struct station_hmac_ctx hc = {.station = s->cfg.station, .port = p->name, .chip = m->chip, .mac = r->mac,
				      .product = product, .record_id = r->record_id, .product_id = r->product->id,
				      .batch_id = m->batch_id, .job_id = r->job_id};
	/* The HMAC key goes last in the reply, after any identity part
	 * (jobq.h's struct jobq_claim). */
	if (station_hmac_prepare(s->store, &hc, &hmac, hkey, xts, rep.error, sizeof(rep.error)) ||
	    station_build_image(r, hmac ? xts : NULL, &rep.data, &rep.len, rep.u.claim.sha256, rep.error,
				sizeof(rep.error)) ||
	    station_ident_prepare(s->ident, s->store, r,
				  &(struct station_ident_ctx){.station = s->cfg.station, .port = p->name, .mac = r->mac,
							      .job_id = r->job_id},
				  &rep, rep.error, sizeof(rep.error)) ||
	    station_hmac_append(&rep, hmac, hkey, rep.error, sizeof(rep.error))) {
		/* Nothing was sent: the record goes back to the pool. */
		struct store_audit_entry a = {.station = s->cfg.station, .port = p->name, .chip = m->chip,
					      .mac = m->mac, .product = product, .record_id = r->record_id,
					      .batch_id = m->batch_id, .job_id = r->job_id, .baud = -1,
					      .retries = -1, .duration_ms = -1, .error = rep.error};
		store_release(s->store, r->job_id, rep.error, &a, &serr);
		rep.job_id = 0;
		p->job_id = 0;
		goto out;
	}
	rep.u.claim.generate_ms = (uint32_t)(station_mono_ms() - t);
	rep.rc = 0;
	if (rep.u.claim.ident)
		p->ident_product = r->product->id;
	snprintf(p->image_sha256, sizeof(p->image_sha256), "%s", rep.u.claim.sha256);
	log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac, .batch = m->batch_id},
		"claimed record %s (job %lld%s)", r->record_id, (long long)r->job_id, r->reused ? ", same MAC again" : "");
out:
	/* Claimed or refused, the promise is spent: a claim is in flight now
	 * (the store counts it), or nothing will be. */
	if (p)
		p->promised = 0;
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(xts, sizeof(xts));
	store_record_free(r);
	station_reply_worker(s, m->worker, &rep);
}

void station_on_sent_req(struct station *s, struct jobq_msg *m)
{
	struct jobq_msg rep;
	struct store_err serr = {0};

	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_SENT_REP;
	rep.job_id = m->job_id;
	/* Even while stopping: the worker already holds the image; refusing
	 * here keeps the record unbound. */
	station_round_write(s);
	if (s->stopping) {
		rep.rc = -1;
		snprintf(rep.error, sizeof(rep.error), "the station is shutting down");
	} else if ((rep.rc = store_mark_sent(s->store, m->job_id, &serr)) != 0) {
		station_store_seen(s, rep.rc, &serr);
		rep.rc = -1;
		snprintf(rep.error, sizeof(rep.error), "%s", serr.msg);
	}
	station_reply_worker(s, m->worker, &rep);
}

/* A worker's change of a device's HMAC key state (pipeline_hmac.h): durable
 * (with the round's commit, the reply is held until then) before the worker
 * burns or gives up. */
void station_on_hmac_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = station_port_of(s, m);
	struct jobq_msg rep;
	struct station_hmac_ctx hc = {.station = s->cfg.station, .port = p ? p->name : NULL, .chip = m->chip,
				      .mac = m->mac, .record_id = m->u.hmac.record[0] ? m->u.hmac.record : NULL,
				      .batch_id = m->batch_id, .job_id = m->job_id};

	station_round_write(s);
	station_hmac_on_req(s->store, &hc, m, &rep);
	station_reply_worker(s, m->worker, &rep);
}
