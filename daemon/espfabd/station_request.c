/* The station's control requests: status, batches, queries. See station.h. */
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
#include "station_ident.h"
#include "station_int.h"
#include "uplink.h"
#include "worker.h"

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

/* The product's available records (cached, see struct station), or -1. */
long long station_available(struct station *s, const char *product)
{
	json_t *st = NULL;
	struct store_err serr;
	uint64_t now = station_mono_ms();

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
		avail = station_available(s, req->product);
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
		station_broadcast(s, json_pack("{s:s, s:I, s:s, s:I, s:s}", "event", "batch", "batch", (json_int_t)id, "state",
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
			station_broadcast(s, json_pack("{s:s, s:I, s:O}", "event", "batch", "batch", (json_int_t)req->batch,
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
