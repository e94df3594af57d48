/* The station's control requests: status, batches, queries. See station.h. */
#include "espfab/err.h"
#include "station.h"

#include <errno.h>
#include <stdarg.h>
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

static int rerr(struct station_rerr *e, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int rerr(struct station_rerr *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	err_vformat(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* The product's available records this station may claim (cached, see
 * struct station), or -1: other stations' leased ones do not count. */
long long station_available(struct station *s, const char *product)
{
	struct store_err serr;
	uint64_t now = station_mono_ms();
	int64_t n = 0;

	if (strcmp(s->avail_product, product) || now - s->avail_at_ms >= 1000 || !s->avail_at_ms) {
		if (store_lease_available(s->store, s->cfg.station, product, &n, &serr))
			return -1;
		s->avail_n = n;
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

/* A store error as a control error: its code names the kind of failure. */
static int store_rerr(struct station_rerr *e, const struct store_err *serr)
{
	const char *code = "failed";

	if (serr->code == STORE_ENOTFOUND)
		code = "not_found";
	else if (serr->code == STORE_EINPUT || serr->code == STORE_EEXIST)
		code = "arg";
	else if (serr->code == STORE_ESTATE || serr->code == STORE_EBATCH)
		code = "state";
	else if (serr->code == STORE_EBUSY)
		code = "busy";
	return rerr(e, code, "%s", serr->msg);
}

static int op_status(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
		     struct station_rerr *e)
{
	(void)req, (void)uid, (void)e;
	*out = status_json(s);
	return STATION_REPLY;
}

/* A new watcher gets the whole picture first, then deltas. */
static int op_subscribe(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			struct station_rerr *e)
{
	(void)req, (void)uid, (void)e;
	*out = status_json(s);
	json_object_set_new(*out, "event", json_string("snapshot"));
	return STATION_EVENT;
}

static int op_unsubscribe(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			  struct station_rerr *e)
{
	(void)s, (void)req, (void)uid, (void)out, (void)e;
	return STATION_NONE;
}

static int op_batch_add(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			struct station_rerr *e)
{
	const char *ports[CTL_MAX_PORTS];
	struct store_err serr = {0};
	int64_t id = 0;
	long long avail;

	if (s->stopping)
		return rerr(e, "busy", "the station is shutting down");
	for (size_t i = 0; i < req->nports; i++) {
		int known = 0;
		for (size_t j = 0; j < s->nports; j++)
			known |= !strcmp(s->ports[j].name, req->ports[i]);
		if (!known)
			return rerr(e, "arg", "no port named '%s' on this station", req->ports[i]);
		ports[i] = req->ports[i];
	}
	/* A batch no record can serve is refused up front; one larger than
	 * what is available is queued with a warning (more may be imported
	 * while it runs). Unknown products: store_batch_add. */
	s->avail_at_ms = 0;
	avail = station_available(s, req->product);
	if (avail == 0)
		return rerr(e, "state", "product '%s' has no available records (import some first)", req->product);
	if (store_batch_add(s->store, req->product, req->count, req->nports ? ports : NULL, req->nports, &id, &serr))
		return store_rerr(e, &serr);
	log_msg(LOG_INFO, &(struct log_fields){.batch = id}, "batch %lld: %lld x %s queued by uid %u", (long long)id,
		(long long)req->count, req->product, uid);
	station_broadcast(s, json_pack("{s:s, s:I, s:s, s:I, s:s}", "event", "batch", "batch", (json_int_t)id, "state",
				       "active", "count", (json_int_t)req->count, "product", req->product));
	*out = json_pack("{s:I}", "batch", (json_int_t)id);
	if (avail > 0 && req->count > avail) {
		char w[200];
		snprintf(w, sizeof(w), "batch of %lld but product '%s' has only %lld available records",
			 (long long)req->count, req->product, avail);
		log_msg(LOG_WARNING, &(struct log_fields){.batch = id}, "batch %lld: %s", (long long)id, w);
		json_object_set_new(*out, "warning", json_string(w));
	}
	wake_workers(s);
	return STATION_REPLY;
}

static int op_batch_set(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			struct station_rerr *e)
{
	enum store_batch_op op = req->op == CTL_OP_BATCH_PAUSE    ? STORE_BATCH_PAUSE
				 : req->op == CTL_OP_BATCH_RESUME ? STORE_BATCH_RESUME
								    : STORE_BATCH_CANCEL;
	struct store_err serr = {0};
	json_t *b;

	(void)uid;
	if (store_batch_set(s->store, req->batch, op, &serr) || store_batch_query(s->store, req->batch, out, &serr))
		return store_rerr(e, &serr);
	b = json_array_get(json_object_get(*out, "batches"), 0);
	station_broadcast(s, json_pack("{s:s, s:I, s:O}", "event", "batch", "batch", (json_int_t)req->batch, "state",
				       json_object_get(b, "state")));
	if (op == STORE_BATCH_RESUME)
		wake_workers(s);
	/* Boards promised to a cancelled batch write nothing more (their
	 * firmware write stops between two blocks). */
	for (size_t i = 0; op == STORE_BATCH_CANCEL && i < s->nports; i++)
		if (s->ports[i].promised == req->batch && s->ports[i].worker && !s->ports[i].exited)
			worker_revoke(s->ports[i].worker, req->batch);
	return STATION_REPLY;
}

/* The read-only queries are the store's own requests (store_request(), the
 * one dispatcher the CLI runs on a local database too): the op's fields
 * become the request's. Values never leave the daemon: no "reveal". */
static int op_query(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
		    struct station_rerr *e)
{
	struct store_err serr = {0};
	json_t *q = json_pack("{s:s}", "cmd", ctl_op_name(req->op));
	int rc;

	(void)uid;
	if (!q)
		return rerr(e, "failed", "out of memory");
	if (req->product[0])
		json_object_set_new(q, "product", json_string(req->product));
	if (req->state[0])
		json_object_set_new(q, "state", json_string(req->state));
	if (req->mac[0])
		json_object_set_new(q, "mac", json_string(req->mac));
	if (req->since[0])
		json_object_set_new(q, "since", json_string(req->since));
	if (req->limit)
		json_object_set_new(q, "limit", json_integer(req->limit));
	if (req->batch) /* batch.show names its batch "id" in the store's request */
		json_object_set_new(q, req->op == CTL_OP_AUDIT ? "batch" : "id", json_integer(req->batch));
	rc = store_request(s->store, q, out, &serr);
	json_decref(q);
	return rc ? store_rerr(e, &serr) : STATION_REPLY;
}

static int op_store(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
		    struct station_rerr *e)
{
	struct store_err serr = {0};

	(void)uid;
	if (json_is_true(json_object_get(req->store_req, "reveal")))
		return rerr(e, "denied", "values are not revealed over the socket");
	if (store_request(s->store, req->store_req, out, &serr))
		return store_rerr(e, &serr);
	return STATION_REPLY;
}

/* THE CONTROL REQUESTS: one row per op (proto.h names them, proto.c parses
 * their fields), its fields as schemas/control-request.json lists them
 * (test_station checks the two agree) and its handler. */
static const struct station_op ops[] = {
	{CTL_OP_STATUS, "", "", op_status},
	{CTL_OP_BATCH_ADD, "product count", "ports", op_batch_add},
	{CTL_OP_BATCH_LIST, "", "", op_query},
	{CTL_OP_BATCH_SHOW, "batch", "", op_query},
	{CTL_OP_BATCH_PAUSE, "batch", "", op_batch_set},
	{CTL_OP_BATCH_RESUME, "batch", "", op_batch_set},
	{CTL_OP_BATCH_CANCEL, "batch", "", op_batch_set},
	{CTL_OP_RECORDS_LIST, "", "product state limit", op_query},
	{CTL_OP_RECORDS_STATS, "", "product", op_query},
	{CTL_OP_AUDIT, "", "since mac batch limit", op_query},
	{CTL_OP_SUBSCRIBE, "", "", op_subscribe},
	{CTL_OP_UNSUBSCRIBE, "", "", op_unsubscribe},
	{CTL_OP_STORE, "request", "", op_store},
};

const struct station_op *station_ops(size_t *n)
{
	*n = sizeof(ops) / sizeof(ops[0]);
	return ops;
}

int station_request_run(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			struct station_rerr *e)
{
	*out = NULL;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == req->op)
			return ops[i].fn(s, req, uid, out, e);
	return rerr(e, "op", "unknown op");
}

void station_handle_request(void *ctx, struct control_client *cl, const struct ctl_request *req)
{
	struct station_rerr e = {0};
	json_t *out = NULL;
	char *line;

	switch (station_request_run(ctx, req, (unsigned)control_client_uid(cl), &out, &e)) {
	case STATION_REPLY:
		control_reply(cl, req->id, out);
		break;
	case STATION_EVENT:
		line = ctl_event_line(out);
		control_send(cl, line);
		free(line);
		break;
	case STATION_NONE:
		break;
	default:
		control_reply_error(cl, req->id, e.code, e.msg);
		break;
	}
}
