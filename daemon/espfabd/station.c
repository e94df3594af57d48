/* The station's main-thread logic. See station.h. */
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

static int store_seen(struct station *s, int rc, const struct store_err *serr);
static void hold_result(struct station *s, const struct jobq_msg *m, const char *port, int front);

uint64_t station_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define mono_ms station_mono_ms

static void broadcast(struct station *s, json_t *ev)
{
	if (s->txn && ev && s->held_ev) {
		json_array_append_new(s->held_ev, ev);
		return;
	}
	if (s->ctl)
		control_broadcast(s->ctl, ev);
	else
		json_decref(ev);
}

static json_t *port_json(const struct station_port *p)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I}", "name", p->name, "path", p->path, "state", p->state, "ok",
			      (json_int_t)p->n_ok, "failed", (json_int_t)p->n_failed);

	if (p->mac[0])
		json_object_set_new(o, "mac", json_string(p->mac));
	if (p->chip[0])
		json_object_set_new(o, "chip", json_string(p->chip));
	if (!strcmp(p->state, "busy")) {
		json_object_set_new(o, "step", json_string(p->step));
		json_object_set_new(o, "progress", json_pack("{s:I, s:I}", "done", (json_int_t)p->done, "total",
							     (json_int_t)p->total));
		if (p->batch_id)
			json_object_set_new(o, "batch", json_integer(p->batch_id));
		if (p->record[0])
			json_object_set_new(o, "record", json_string(p->record));
	}
	if (p->last_result[0])
		json_object_set_new(o, "last",
				    json_pack("{s:s, s:s, s:s, s:s, s:I}", "result", p->last_result, "mac", p->last_mac,
					      "record", p->last_record, "error", p->last_error, "duration_ms",
					      (json_int_t)p->last_ms));
	return o;
}

static json_t *status_json(struct station *s)
{
	json_t *ports = json_array(), *batches = NULL, *o;
	struct store_err serr;

	for (size_t i = 0; i < s->nports; i++)
		if (!s->ports[i].removed)
			json_array_append_new(ports, port_json(&s->ports[i]));
	if (store_batch_query(s->store, 0, &batches, &serr))
		batches = json_pack("{s:[]}", "batches");
	o = json_pack("{s:s, s:s, s:i, s:b, s:o, s:O, s:{s:i, s:i}}", "station", s->cfg.station, "version",
		      ESPFAB_VERSION, "pid", (int)getpid(), "stopping", s->stopping, "ports", ports, "batches",
		      json_object_get(batches, "batches"), "counts", "verified", (int)s->n_ok, "failed",
		      (int)s->n_failed);
	json_decref(batches);
	if (s->uplink)
		json_object_set_new(o, "uplink", uplink_status(s->uplink));
	json_t *st = json_pack("{s:s, s:I}", "state", s->store_down ? "unreachable" : "ok", "held_results",
			       (json_int_t)outbox_len(s->outbox));
	if (s->store_down) {
		json_object_set_new(st, "since", json_string(s->store_down_since));
		json_object_set_new(st, "error", json_string(s->store_error));
	}
	json_object_set_new(o, "store", st);
	return o;
}

static void store_error_reply(struct control_client *cl, json_t *id, const struct store_err *e)
{
	const char *code = "failed";

	if (e->code == STORE_ENOTFOUND)
		code = "not_found";
	else if (e->code == STORE_EINPUT || e->code == STORE_EEXIST)
		code = "arg";
	else if (e->code == STORE_ESTATE || e->code == STORE_EBATCH)
		code = "state";
	else if (e->code == STORE_EBUSY)
		code = "busy";
	control_reply_error(cl, id, code, e->msg);
}

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

/* The product's available records (cached, see struct station), or -1. */
static long long available(struct station *s, const char *product)
{
	json_t *st = NULL;
	struct store_err serr;
	uint64_t now = mono_ms();

	if (strcmp(s->avail_product, product) || now - s->avail_at_ms >= 1000 || !s->avail_at_ms) {
		if (store_query_stats(s->store, product, &st, &serr))
			return -1;
		s->avail_n = json_integer_value(
			json_object_get(json_array_get(json_object_get(st, "stats"), 0), "available"));
		json_decref(st);
		snprintf(s->avail_product, sizeof(s->avail_product), "%s", product);
		s->avail_at_ms = now ? now : 1;
	}
	return s->avail_n;
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

static void wake_workers(struct station *s)
{
	for (size_t i = 0; i < s->nports; i++) {
		struct jobq_msg m;
		if (s->ports[i].exited || !s->ports[i].worker)
			continue;
		memset(&m, 0, sizeof(m));
		m.kind = JOBQ_WAKE;
		worker_post(s->ports[i].worker, &m);
	}
}

void station_handle_request(void *ctx, struct control_client *cl, const struct proto_request *req)
{
	struct station *s = ctx;
	struct store_err serr = {0};
	json_t *out = NULL;
	int rc = 0;

	switch (req->op) {
	case PROTO_OP_STATUS:
		control_reply(cl, req->id, status_json(s));
		return;
	case PROTO_OP_SUBSCRIBE: {
		/* A new watcher gets the whole picture first, then deltas. */
		json_t *ev = status_json(s);
		char *line;
		json_object_set_new(ev, "event", json_string("snapshot"));
		line = proto_event_line(ev);
		control_send(cl, line);
		free(line);
		return;
	}
	case PROTO_OP_UNSUBSCRIBE:
		return;
	case PROTO_OP_BATCH_ADD: {
		const char *ports[PROTO_MAX_PORTS];
		int64_t id = 0;
		long long avail;
		if (s->stopping) {
			control_reply_error(cl, req->id, "busy", "the station is shutting down");
			return;
		}
		for (size_t i = 0; i < req->nports; i++) {
			int known = 0;
			for (size_t j = 0; j < s->nports; j++)
				known |= !strcmp(s->ports[j].name, req->ports[i]);
			if (!known) {
				char m[160];
				snprintf(m, sizeof(m), "no port named '%s' on this station", req->ports[i]);
				control_reply_error(cl, req->id, "arg", m);
				return;
			}
			ports[i] = req->ports[i];
		}
		/* A batch no record can serve is refused up front; one larger
		 * than what is available is queued with a warning (more may be
		 * imported while it runs). Unknown products: store_batch_add. */
		s->avail_at_ms = 0;
		avail = available(s, req->product);
		if (avail == 0) {
			char m[200];
			snprintf(m, sizeof(m), "product '%s' has no available records (import some first)", req->product);
			control_reply_error(cl, req->id, "state", m);
			return;
		}
		rc = store_batch_add(s->store, req->product, req->count, req->nports ? ports : NULL, req->nports, &id,
				     &serr);
		if (rc)
			break;
		log_msg(LOG_INFO, &(struct log_fields){.batch = id}, "batch %lld: %lld x %s queued by uid %d",
			(long long)id, (long long)req->count, req->product, (int)control_client_uid(cl));
		broadcast(s, json_pack("{s:s, s:I, s:s, s:I, s:s}", "event", "batch", "batch", (json_int_t)id, "state",
				       "active", "count", (json_int_t)req->count, "product", req->product));
		out = json_pack("{s:I}", "batch", (json_int_t)id);
		if (avail > 0 && req->count > avail) {
			char w[200];
			snprintf(w, sizeof(w), "batch of %lld but product '%s' has only %lld available records",
				 (long long)req->count, req->product, avail);
			log_msg(LOG_WARNING, &(struct log_fields){.batch = id}, "batch %lld: %s", (long long)id, w);
			json_object_set_new(out, "warning", json_string(w));
		}
		control_reply(cl, req->id, out);
		wake_workers(s);
		return;
	}
	case PROTO_OP_BATCH_LIST:
		rc = store_batch_query(s->store, 0, &out, &serr);
		break;
	case PROTO_OP_BATCH_SHOW:
		rc = store_batch_query(s->store, req->batch, &out, &serr);
		break;
	case PROTO_OP_BATCH_PAUSE:
	case PROTO_OP_BATCH_RESUME:
	case PROTO_OP_BATCH_CANCEL: {
		enum store_batch_op op = req->op == PROTO_OP_BATCH_PAUSE	? STORE_BATCH_PAUSE
					 : req->op == PROTO_OP_BATCH_RESUME ? STORE_BATCH_RESUME
									     : STORE_BATCH_CANCEL;
		rc = store_batch_set(s->store, req->batch, op, &serr);
		if (!rc)
			rc = store_batch_query(s->store, req->batch, &out, &serr);
		if (!rc) {
			json_t *b = json_array_get(json_object_get(out, "batches"), 0);
			broadcast(s, json_pack("{s:s, s:I, s:O}", "event", "batch", "batch", (json_int_t)req->batch,
					       "state", json_object_get(b, "state")));
			if (op == STORE_BATCH_RESUME)
				wake_workers(s);
			/* Boards promised to a cancelled batch write nothing more
			 * (their firmware write stops between two blocks). */
			for (size_t i = 0; op == STORE_BATCH_CANCEL && i < s->nports; i++)
				if (s->ports[i].promised == req->batch && s->ports[i].worker && !s->ports[i].exited)
					worker_revoke(s->ports[i].worker, req->batch);
		}
		break;
	}
	case PROTO_OP_RECORDS_LIST: {
		struct store_record_filter f = {.product = req->product[0] ? req->product : NULL,
						.state = req->state[0] ? req->state : NULL,
						.limit = req->limit};
		/* Values never leave the daemon: --reveal is for the database owner. */
		rc = store_query_records(s->store, &f, &out, &serr);
		break;
	}
	case PROTO_OP_RECORDS_STATS:
		rc = store_query_stats(s->store, req->product[0] ? req->product : NULL, &out, &serr);
		break;
	case PROTO_OP_AUDIT: {
		struct store_audit_filter f = {.since = req->since[0] ? req->since : NULL,
					       .mac = req->mac[0] ? req->mac : NULL,
					       .limit = req->limit};
		rc = store_query_audit(s->store, &f, &out, &serr);
		break;
	}
	case PROTO_OP_STORE: {
		json_t *reveal = json_object_get(req->store_req, "reveal");
		if (json_is_true(reveal)) {
			control_reply_error(cl, req->id, "denied", "values are not revealed over the socket");
			return;
		}
		rc = store_request(s->store, req->store_req, &out, &serr);
		break;
	}
	case PROTO_OP_COUNT_:
		control_reply_error(cl, req->id, "op", "unknown op");
		return;
	}
	if (rc) {
		store_error_reply(cl, req->id, &serr);
		return;
	}
	control_reply(cl, req->id, out);
}

/* ---- worker messages ---- */

static struct station_port *port_of(struct station *s, const struct jobq_msg *m)
{
	return m->worker < s->nports ? &s->ports[m->worker] : NULL;
}

static void post_worker(struct station *s, struct jobq_msg *m)
{
	unsigned w = m->worker;

	if (w < s->nports && s->ports[w].worker && !s->ports[w].exited)
		worker_post(s->ports[w].worker, m);
	else
		jobq_msg_clear(m);
}

/* GROUP COMMIT. The main thread takes the workers' messages in rounds
 * (inbox_cb); the store calls of a round share one transaction and one sync
 * (store_txn_begin). What acknowledges a store write to a worker (a claimed
 * record's image, "marked sent") and every event of the round wait for that
 * commit: no worker writes, and no watcher hears of, anything a crash could
 * still take back. With 32 boards starting together the claims no longer
 * queue behind ~3 syncs per device one after another. If the transaction
 * cannot be opened, each call commits on its own as before. */
static void txn_open(struct station *s)
{
	struct store_err serr = {0};

	if (s->txn)
		return;
	if (!s->held_ev)
		s->held_ev = json_array();
	if (s->held_ev && store_txn_begin(s->store, &serr) == 0)
		s->txn = 1;
}

static void round_forget(struct station *s)
{
	json_decref(s->round_batches);
	s->round_batches = NULL;
	store_product_free(s->round_prod);
	s->round_prod = NULL;
}

/* Before each store write of a round. */
static void round_write(struct station *s)
{
	json_decref(s->round_batches);
	s->round_batches = NULL;
	txn_open(s);
}

static void txn_close(struct station *s)
{
	struct store_err serr = {0};
	json_t *ev;
	size_t i;
	int failed = 0;

	if (!s->txn)
		return;
	s->txn = 0;
	if (store_txn_commit(s->store, &serr)) {
		failed = 1;
		log_msg(LOG_ERR, NULL, "store: commit of this round failed, its claims and results are undone: %s",
			serr.msg);
		/* The database went away under the round: its results are held,
		 * in their order, ahead of any held meanwhile. */
		if (store_seen(s, serr.code, &serr))
			for (size_t k = s->n_round_res; k-- > 0;)
				hold_result(s, &s->round_res[k].m, s->round_res[k].port, 1);
	}
	s->n_round_res = 0;
	for (i = 0; i < s->nheld; i++) {
		struct jobq_msg *m = &s->held[i];
		if (failed && m->rc == 0) {
			m->rc = -1;
			snprintf(m->text, sizeof(m->text), "store: %s", serr.msg);
			if (m->kind == JOBQ_CLAIM_REP && m->worker < s->nports) {
				s->ports[m->worker].job_id = 0;
				s->ports[m->worker].record[0] = '\0';
			}
		}
		post_worker(s, m);
	}
	s->nheld = 0;
	json_array_foreach(s->held_ev, i, ev)
		broadcast(s, json_incref(ev));
	json_array_clear(s->held_ev);
}

static void reply_worker(struct station *s, unsigned w, struct jobq_msg *m)
{
	m->worker = w;
	/* nheld < ROUND_MAX: one reply per message of the round at most. */
	if (s->txn && (m->kind == JOBQ_CLAIM_REP || m->kind == JOBQ_SENT_REP || m->kind == JOBQ_HMAC_REP) &&
	    s->nheld < ROUND_MAX) {
		s->held[s->nheld++] = *m;
		m->data = NULL;
		m->fw = NULL;
		return;
	}
	post_worker(s, m);
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
		if (!state || strcmp(state, "active") ||
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

static void on_work_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = port_of(s, m);
	struct jobq_msg rep;
	struct store_product *prod = NULL;
	struct store_err serr;

	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_WORK_REP;
	rep.rc = -1;
	if (!p || s->stopping || p->removing || !pick_batch(s, p, &rep.batch_id, rep.text, sizeof(rep.text)))
		goto out;
	{
		int bound, verified;
		mac_history(s, m->mac, rep.text, rep.batch_id, &bound, &verified);
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
			long long n = available(s, rep.text);
			if (n >= 0 && n <= promises(s, p, 0, rep.text)) {
				log_msg(LOG_WARNING, &(struct log_fields){.port = p->name, .batch = rep.batch_id},
					"product %s has no available record left: nothing written", rep.text);
				goto out;
			}
		}
	}
	if (s->round_prod && !strcmp(s->round_prod->name, rep.text)) {
		prod = s->round_prod;
	} else if (store_product_get(s->store, rep.text, &prod, &serr)) {
		log_msg(LOG_ERR, &(struct log_fields){.port = p->name, .batch = rep.batch_id}, "product %s: %s",
			rep.text, serr.msg);
		goto out;
	}
	rep.data = malloc(prod->part_table_len);
	if (!rep.data)
		goto out;
	memcpy(rep.data, prod->part_table, prod->part_table_len);
	rep.len = prod->part_table_len;
	rep.a = prod->part_offset;
	rep.b = prod->part_size;
	snprintf(rep.label, sizeof(rep.label), "%s", prod->part_label);
	if (prod->n_images && (!s->fw || s->fw_product != prod->id)) {
		struct fwimg_set *fw = NULL;
		if (store_product_firmware(s->store, prod->id, &fw, &serr)) {
			log_msg(LOG_ERR, &(struct log_fields){.port = p->name, .batch = rep.batch_id},
				"product %s: firmware: %s", rep.text, serr.msg);
			goto out;
		}
		fwimg_set_unref(s->fw);
		s->fw = fw;
		s->fw_product = prod->id;
	}
	rep.fw = prod->n_images ? fwimg_set_ref(s->fw) : NULL;
	rep.sent = !s->verify_readback;
	rep.hmac = station_hmac_work(s->store, prod->id);
	rep.rc = 0;
	p->promised = rep.batch_id;
	snprintf(p->promised_product, sizeof(p->promised_product), "%.63s", rep.text);
out:
	if (prod && prod != s->round_prod) {
		store_product_free(s->round_prod);
		s->round_prod = prod;
	}
	reply_worker(s, m->worker, &rep);
}

/* The record's NVS image: the product's rows in template order with the
 * record's values. The image holds secrets: it is wiped wherever it dies. */
static int build_image(const struct store_record *r, const uint8_t *xts, uint8_t **out, size_t *len, char *sha_hex,
		       char *msg, size_t cap)
{
	const struct store_product *p = r->product;
	struct nvs_gen *g = NULL;
	struct nvs_err nerr = {0};
	uint8_t *buf = NULL, sha[32];
	size_t vi = 0;
	int rc = -1;

	*out = NULL;
	if (nvs_gen_new(&g, p->part_size, p->nvs_version == 2 ? NVS_VERSION_2 : NVS_VERSION_1, &nerr)) {
		snprintf(msg, cap, "NVS generator: %s", nerr.msg);
		goto out;
	}
	for (size_t i = 0; i < p->n_fields; i++) {
		const struct store_field *f = &p->fields[i];
		if (!strcmp(f->type, "namespace")) {
			if (nvs_gen_add_row(g, f->key, "namespace", "", "", 0, &nerr)) {
				snprintf(msg, cap, "NVS row '%s': %s", f->key, nerr.msg);
				goto out;
			}
			continue;
		}
		if (vi >= r->n_values || r->values[vi].field != f) {
			snprintf(msg, cap, "record %s has no value for '%s'", r->record_id, f->key);
			goto out;
		}
		if (nvs_gen_add_row(g, f->key, f->type, f->encoding, (const char *)r->values[vi].data,
				    r->values[vi].len, &nerr)) {
			snprintf(msg, cap, "NVS row '%s': %s", f->key, nerr.msg);
			goto out;
		}
		vi++;
	}
	buf = malloc(p->part_size);
	if (!buf) {
		snprintf(msg, cap, "out of memory");
		goto out;
	}
	if (nvs_gen_finish(g, xts, buf, p->part_size, len, &nerr)) {
		snprintf(msg, cap, "NVS image: %s", nerr.msg);
		goto out;
	}
	if (!EVP_Digest(buf, *len, sha, NULL, EVP_sha256(), NULL)) {
		snprintf(msg, cap, "sha256 failed");
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(sha_hex + 2 * i, 3, "%02x", sha[i]);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, p->part_size);
		free(buf);
	}
	nvs_gen_free(g);
	return rc;
}

/* The store's answer to one call: an unreachable database is an outage
 * (logged once when it starts and once when it ends), anything else says
 * the store is there. Returns 1 for an outage. */
static int store_seen(struct station *s, int rc, const struct store_err *serr)
{
	if (rc == STORE_EOFFLINE) {
		snprintf(s->store_error, sizeof(s->store_error), "%s", serr->msg);
		if (!s->store_down) {
			s->store_down = 1;
			store_now(s->store_down_since, sizeof(s->store_down_since));
			log_msg(LOG_ERR, NULL, "store: %s; no device is written until it is back, results are held",
				serr->msg);
		}
		return 1;
	}
	if (s->store_down) {
		s->store_down = 0;
		log_msg(LOG_NOTICE, NULL, "store: reachable again; %zu held results to deliver", outbox_len(s->outbox));
	}
	return 0;
}

static void on_claim_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = port_of(s, m);
	struct jobq_msg rep;
	struct store_record *r = NULL;
	struct store_err serr = {0};
	char product[PROTO_NAME_MAX] = "";
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
		snprintf(rep.text, sizeof(rep.text), "the station is shutting down");
		goto out;
	}
	/* The batch may have filled or been paused since the work reply. This
	 * port's own promise is part of the room pick_batch() sees. */
	if (!pick_batch(s, p, &b, product, sizeof(product)) || b != m->batch_id) {
		snprintf(rep.text, sizeof(rep.text), "batch %lld has no work left for this port",
			 (long long)m->batch_id);
		goto out;
	}
	round_write(s);
	{
		struct store_claim_req cr = {.product = product, .batch_id = m->batch_id, .station = s->cfg.station,
					     .port = p->name, .mac = m->mac, .chip = m->chip};
		int crc = store_claim(s->store, &cr, &r, &serr);
		store_seen(s, crc, &serr);
		if (crc) {
			snprintf(rep.text, sizeof(rep.text), "%s", serr.msg);
			goto out;
		}
	}
	rep.job_id = r->job_id;
	p->job_id = r->job_id;
	p->batch_id = m->batch_id;
	if (!r->reused && !strcmp(s->avail_product, product) && s->avail_n > 0)
		s->avail_n--;
	snprintf(rep.record, sizeof(rep.record), "%s", r->record_id);
	snprintf(p->record, sizeof(p->record), "%s", r->record_id);
	t = mono_ms();
	p->ident_product = 0;
	struct station_hmac_ctx hc = {.station = s->cfg.station, .port = p->name, .chip = m->chip, .mac = r->mac,
				      .product = product, .record_id = r->record_id, .product_id = r->product->id,
				      .batch_id = m->batch_id, .job_id = r->job_id};
	if (station_hmac_prepare(s->store, &hc, &hmac, hkey, xts, rep.text, sizeof(rep.text)) ||
	    build_image(r, hmac ? xts : NULL, &rep.data, &rep.len, rep.digest, rep.text, sizeof(rep.text)) ||
	    station_ident_prepare(s->ident, s->store, r,
				  &(struct station_ident_ctx){.station = s->cfg.station, .port = p->name, .mac = r->mac,
							      .job_id = r->job_id},
				  &rep, rep.text, sizeof(rep.text)) ||
	    station_hmac_append(&rep, hmac, hkey, rep.text, sizeof(rep.text))) {
		/* Nothing was sent: the record goes back to the pool. */
		struct store_audit_entry a = {.station = s->cfg.station, .port = p->name, .chip = m->chip,
					      .mac = m->mac, .product = product, .record_id = r->record_id,
					      .batch_id = m->batch_id, .job_id = r->job_id, .baud = -1,
					      .retries = -1, .duration_ms = -1, .error = rep.text};
		store_release(s->store, r->job_id, rep.text, &a, &serr);
		rep.job_id = 0;
		p->job_id = 0;
		goto out;
	}
	rep.a = mono_ms() - t;
	rep.rc = 0;
	if (rep.ident)
		p->ident_product = r->product->id;
	snprintf(p->image_sha256, sizeof(p->image_sha256), "%s", rep.digest);
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
	reply_worker(s, m->worker, &rep);
}

static void on_hmac_req(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = port_of(s, m);
	struct jobq_msg rep;
	struct station_hmac_ctx hc = {.station = s->cfg.station, .port = p ? p->name : NULL, .chip = m->chip,
				      .mac = m->mac, .record_id = m->record[0] ? m->record : NULL,
				      .batch_id = m->batch_id, .job_id = m->job_id};

	round_write(s);
	station_hmac_on_req(s->store, &hc, m, &rep);
	reply_worker(s, m->worker, &rep);
}

static void on_sent_req(struct station *s, struct jobq_msg *m)
{
	struct jobq_msg rep;
	struct store_err serr = {0};

	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_SENT_REP;
	rep.job_id = m->job_id;
	/* Even while stopping: the worker already holds the image; refusing
	 * here keeps the record unbound. */
	round_write(s);
	if (s->stopping) {
		rep.rc = -1;
		snprintf(rep.text, sizeof(rep.text), "the station is shutting down");
	} else if ((rep.rc = store_mark_sent(s->store, m->job_id, &serr)) != 0) {
		store_seen(s, rep.rc, &serr);
		rep.rc = -1;
		snprintf(rep.text, sizeof(rep.text), "%s", serr.msg);
	}
	reply_worker(s, m->worker, &rep);
}

/* Hands a device's result to the store (its job's end and audit row). */
static int result_store(struct station *s, const struct jobq_msg *m, const char *port, struct store_err *serr)
{
	struct store_audit_entry a = {
		.station = s->cfg.station, .port = port, .chip = m->chip, .mac = m->mac,
		.record_id = m->record[0] ? m->record : NULL, .batch_id = m->batch_id, .job_id = m->job_id,
		.image_sha256 = m->job_id && m->image_sha256[0] ? m->image_sha256 : NULL,
		.flash_md5 = m->digest[0] ? m->digest : NULL, .baud = m->baud, .retries = m->retries,
		.duration_ms = m->duration_ms, .error = m->text[0] ? m->text : NULL};
	int rc;

	if (m->rc == 0) {
		rc = store_mark_verified(s->store, m->job_id, &a, serr);
		if (!rc && m->ident && m->ident_product)
			rc = store_cert_delivered(s->store, m->ident_product, m->mac, s->cfg.station, port, m->job_id,
						  serr);
		if (!rc && m->hmac)
			rc = station_hmac_done(s->store,
					       &(struct station_hmac_ctx){.station = s->cfg.station, .port = port,
									  .chip = m->chip, .mac = m->mac,
									  .record_id = m->record, .batch_id = m->batch_id,
									  .job_id = m->job_id},
					       m->hmac, serr);
		return rc;
	}
	if (m->sent)
		return store_fail(s->store, m->job_id, m->text, &a, serr);
	if (m->job_id)
		return store_release(s->store, m->job_id, m->text, &a, serr);
	a.event = "attempt";
	a.result = "failed";
	return store_audit_append(s->store, &a, serr);
}

static void hold_result(struct station *s, const struct jobq_msg *m, const char *port, int front)
{
	if ((front ? outbox_push_front : outbox_push)(s->outbox, m, port))
		log_msg(LOG_ERR, &(struct log_fields){.port = port, .mac = m->mac},
			"store: %d results held already: the result of record %s is dropped (its record stays bound)",
			OUTBOX_MAX, m->record[0] ? m->record : "-");
}

/* Held results, oldest first, while the store takes them. */
static void outbox_flush(struct station *s)
{
	const struct outbox_item *it;
	struct store_err serr = {0};

	while ((it = outbox_peek(s->outbox))) {
		int rc = result_store(s, &it->m, it->port, &serr);
		if (store_seen(s, rc, &serr))
			return;
		if (rc)
			log_msg(LOG_ERR, &(struct log_fields){.port = it->port, .mac = it->m.mac, .batch = it->m.batch_id},
				"store: held result of record %s: %s", it->m.record[0] ? it->m.record : "-", serr.msg);
		else
			log_msg(LOG_INFO, &(struct log_fields){.port = it->port, .mac = it->m.mac, .batch = it->m.batch_id},
				"store: held result of record %s delivered", it->m.record[0] ? it->m.record : "-");
		outbox_pop(s->outbox);
	}
}

static void on_result(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = port_of(s, m);
	struct store_err serr = {0};
	json_t *steps = json_object();
	const char *result;
	uint64_t t_audit;
	int rc = 0;

	if (!p)
		return;
	p->promised = 0;
	/* what the held result needs to be stored later, whatever the port
	 * does meanwhile */
	if (m->job_id)
		snprintf(m->image_sha256, sizeof(m->image_sha256), "%s", p->image_sha256);
	m->ident_product = p->ident_product;
	result = m->rc == 0 ? "verified" : m->sent ? "failed" : m->job_id ? "released" : "failed";
	t_audit = mono_ms();
	if (outbox_len(s->outbox)) {
		/* Held results go first: this one waits behind them. */
		hold_result(s, m, p->name, 0);
	} else {
		round_write(s);
		rc = result_store(s, m, p->name, &serr);
		if (store_seen(s, rc, &serr)) {
			hold_result(s, m, p->name, 0);
			rc = 0;
		} else if (s->txn && s->n_round_res < ROUND_MAX) {
			struct outbox_item *it = &s->round_res[s->n_round_res++];
			it->m = *m;
			it->m.data = NULL;
			it->m.fw = NULL;
			memcpy(it->port, p->name, sizeof(it->port)); /* both CONFIG_NAME_MAX, NUL-terminated */
		}
	}
	m->step_ms[PIPELINE_STEP_AUDIT] = (uint32_t)(mono_ms() - t_audit);
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
	snprintf(p->last_error, sizeof(p->last_error), "%s", m->text);
	snprintf(p->last_mac, sizeof(p->last_mac), "%s", m->mac);
	snprintf(p->last_record, sizeof(p->last_record), "%s", m->record);
	p->last_ms = m->duration_ms;
	p->job_id = 0;
	p->record[0] = '\0';
	p->image_sha256[0] = '\0';
	/* Removed by a reload while it worked: its device is done now. */
	station_port_retire(s, p);
	for (int i = 0; i < PIPELINE_STEP_COUNT_; i++)
		if (m->step_ms[i])
			json_object_set_new(steps, pipeline_step_name((enum pipeline_step)i),
					    json_integer(m->step_ms[i]));
	log_msg(m->rc ? LOG_WARNING : LOG_INFO,
		&(struct log_fields){.port = p->name, .mac = m->mac, .batch = m->batch_id, .result = result},
		"record %s: %s in %u ms%s%.400s", m->record[0] ? m->record : "-", result, m->duration_ms,
		m->text[0] ? " - " : "", m->text);
	broadcast(s, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:o}", "event", "result", "port",
			       p->name, "mac", m->mac, "chip", m->chip, "record", m->record, "batch",
			       (json_int_t)m->batch_id, "job", (json_int_t)m->job_id, "result", result, "error",
			       m->text, "duration_ms", (json_int_t)m->duration_ms, "steps", steps));
	/* A batch that just reached its count. */
	if (m->batch_id) {
		json_t *b = NULL;
		if (!store_batch_query(s->store, m->batch_id, &b, &serr)) {
			json_t *o = json_array_get(json_object_get(b, "batches"), 0);
			broadcast(s, json_pack("{s:s, s:I, s:O, s:O, s:O, s:O}", "event", "batch", "batch",
					       (json_int_t)m->batch_id, "state", json_object_get(o, "state"),
					       "verified", json_object_get(o, "verified"), "failed",
					       json_object_get(o, "failed"), "remaining",
					       json_object_get(o, "remaining")));
		}
		json_decref(b);
	}
}

static void check_stopped(struct station *s)
{
	/* Ports a reload removed exit too; only a stop ends the station. */
	if (!s->stopping)
		return;
	for (size_t i = 0; i < s->nports; i++)
		if (!s->ports[i].exited)
			return;
	if (!s->stopped_reported && s->on_stopped) {
		s->stopped_reported = 1;
		s->on_stopped(s->ctx);
	}
}

static void on_message(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = port_of(s, m);

	if (!p) {
		jobq_msg_clear(m);
		return;
	}
	switch (m->kind) {
	case JOBQ_PORT_STATE:
		snprintf(p->state, sizeof(p->state), "%.15s", m->text);
		if (strcmp(p->state, "busy"))
			p->step[0] = '\0';
		broadcast(s, json_pack("{s:s, s:s, s:s}", "event", "port", "port", p->name, "state", p->state));
		station_port_retire(s, p);
		break;
	case JOBQ_ARRIVED:
		snprintf(p->mac, sizeof(p->mac), "%s", m->mac);
		snprintf(p->chip, sizeof(p->chip), "%s", m->chip);
		log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac}, "%s arrived (%llu MiB flash)",
			m->chip, (unsigned long long)(m->a >> 20));
		broadcast(s, json_pack("{s:s, s:s, s:s, s:s, s:I}", "event", "device.arrived", "port", p->name, "mac",
				       m->mac, "chip", m->chip, "flash_size", (json_int_t)m->a));
		break;
	case JOBQ_LEFT:
		log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac}, "device left");
		broadcast(s, json_pack("{s:s, s:s, s:s}", "event", "device.left", "port", p->name, "mac", m->mac));
		p->mac[0] = p->chip[0] = '\0';
		break;
	case JOBQ_STEP: {
		json_t *ev;
		snprintf(p->step, sizeof(p->step), "%.15s", m->text);
		p->done = p->total = 0;
		/* Once claimed, the record and batch ride along: a screen shows
		 * which record is being written without asking for a status. */
		ev = json_pack("{s:s, s:s, s:s, s:s}", "event", "step", "port", p->name, "mac", p->mac, "step",
			       p->step);
		if (p->job_id && p->record[0]) {
			json_object_set_new(ev, "record", json_string(p->record));
			json_object_set_new(ev, "batch", json_integer(p->batch_id));
		}
		broadcast(s, ev);
		break;
	}
	case JOBQ_PROGRESS:
		p->done = m->a;
		p->total = m->b;
		broadcast(s, json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", "progress", "port", p->name, "step",
				       p->step, "done", (json_int_t)m->a, "total", (json_int_t)m->b));
		break;
	case JOBQ_WORK_REQ:
		on_work_req(s, m);
		break;
	case JOBQ_CLAIM_REQ:
		on_claim_req(s, m);
		break;
	case JOBQ_HMAC_REQ:
		on_hmac_req(s, m);
		break;
	case JOBQ_SENT_REQ:
		on_sent_req(s, m);
		break;
	case JOBQ_RESULT:
		on_result(s, m);
		break;
	case JOBQ_EXITED:
		p->exited = 1;
		snprintf(p->state, sizeof(p->state), "stopped");
		station_port_exited(s, p);
		check_stopped(s);
		break;
	case JOBQ_WORK_REP:
	case JOBQ_CLAIM_REP:
	case JOBQ_SENT_REP:
	case JOBQ_STOP:
	case JOBQ_HMAC_REP:
	case JOBQ_WAKE:
		break;
	}
	jobq_msg_clear(m);
}

static void inbox_cb(void *ctx, int fd, uint32_t events)
{
	struct station *s = ctx;
	struct jobq_msg m;

	(void)fd;
	(void)events;
	/* Bounded batch so a flood of progress events cannot starve the
	 * control socket. */
	for (int i = 0; i < ROUND_MAX && jobq_pop(s->inbox, &m, 0) == 0; i++)
		on_message(s, &m);
	txn_close(s);
	round_forget(s);
}

int station_new(const struct station_opts *o, struct station **out, char *msg, size_t cap)
{
	struct station *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(msg, cap, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *o->cfg;
	s->loop = o->loop;
	s->store = o->store;
	s->verify_readback = o->verify_readback;
	s->table_offset = o->table_offset;
	s->grace_ms = o->shutdown_grace_ms;
	s->on_stopped = o->on_stopped;
	s->ctx = o->ctx;
	if (outbox_new(&s->outbox) || station_ident_new(&s->ident) || jobq_new(&s->inbox, 1) ||
	    loop_add(s->loop, jobq_fd(s->inbox), EPOLLIN, inbox_cb, s)) {
		snprintf(msg, cap, "cannot create the worker queue");
		jobq_free(s->inbox);
		station_ident_free(s->ident);
		outbox_free(s->outbox);
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void station_set_uplink(struct station *s, struct uplink *u)
{
	s->uplink = u;
}

void station_set_control(struct station *s, struct control *c)
{
	s->ctl = c;
}

void station_tick(struct station *s)
{
	unsigned busy = 0, present = 0;

	size_t nports = 0;

	for (size_t i = 0; i < s->nports; i++) {
		if (s->ports[i].removed)
			continue;
		nports++;
		busy += !strcmp(s->ports[i].state, "busy");
		present += s->ports[i].mac[0] != '\0';
	}
	notify_status("%s%zu ports, %u devices, %u busy; verified %u, failed %u%s", s->stopping ? "stopping: " : "",
		      nports, present, busy, s->n_ok, s->n_failed, s->store_down ? "; database unreachable" : "");
	/* Held results: try again, waiting 1 s, then twice as long each time
	 * the store still does not answer, at most 30 s. */
	if (outbox_len(s->outbox) && mono_ms() >= s->outbox_retry_ms) {
		outbox_flush(s);
		if (outbox_len(s->outbox)) {
			s->outbox_wait_ms = s->outbox_wait_ms ? (s->outbox_wait_ms * 2 > 30000 ? 30000 : s->outbox_wait_ms * 2)
							      : 1000;
			s->outbox_retry_ms = mono_ms() + s->outbox_wait_ms;
		} else {
			s->outbox_wait_ms = 0;
		}
	}
	if (s->stopping && !s->cancelled && mono_ms() >= s->stop_at_ms) {
		/* Grace is over: abort in-flight writes; their records stay bound. */
		s->cancelled = 1;
		log_warn("shutdown grace over: aborting in-flight device operations");
		for (size_t i = 0; i < s->nports; i++)
			if (!s->ports[i].exited && s->ports[i].worker)
				worker_cancel(s->ports[i].worker);
	}
}

void station_stop(struct station *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_at_ms = mono_ms() + s->grace_ms;
	for (size_t i = 0; i < s->nports; i++) {
		struct jobq_msg m;
		if (s->ports[i].exited || !s->ports[i].worker)
			continue;
		memset(&m, 0, sizeof(m));
		m.kind = JOBQ_STOP;
		worker_post(s->ports[i].worker, &m);
		/* A worker with nothing claimed has nothing to finish: cut its
		 * blocking connect attempt short. */
		if (strcmp(s->ports[i].state, "busy"))
			worker_cancel(s->ports[i].worker);
	}
	check_stopped(s);
}

void station_free(struct station *s)
{
	struct jobq_msg m;

	if (!s)
		return;
	for (size_t i = 0; i < s->nports; i++) {
		worker_join_free(s->ports[i].worker);
		s->ports[i].worker = NULL;
		s->ports[i].exited = 1;
	}
	/* Results that arrived after on_stopped still reach the audit. */
	while (jobq_pop(s->inbox, &m, 0) == 0)
		on_message(s, &m);
	txn_close(s);
	round_forget(s);
	/* Last chance for held results; what the store still refuses is
	 * settled by the next start's recovery (records stay bound). */
	outbox_flush(s);
	if (outbox_len(s->outbox))
		log_msg(LOG_ERR, NULL, "store: %zu held results not delivered: the database is unreachable",
			outbox_len(s->outbox));
	outbox_free(s->outbox);
	fwimg_set_unref(s->fw);
	station_ident_free(s->ident);
	json_decref(s->held_ev);
	loop_del(s->loop, jobq_fd(s->inbox));
	jobq_free(s->inbox);
	free(s);
}
