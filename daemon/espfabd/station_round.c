/* The station's inbox rounds: group commit of a round's store writes, the
 * replies and events held until it commits, the store outage detector. */
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

struct station_port *station_port_of(struct station *s, const struct jobq_msg *m)
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
 * (station_inbox_cb); the store calls of a round share one transaction and one sync
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

void station_round_forget(struct station *s)
{
	json_decref(s->round_batches);
	s->round_batches = NULL;
	store_product_free(s->round_prod);
	s->round_prod = NULL;
}

/* Before each store write of a round. */
void station_round_write(struct station *s)
{
	json_decref(s->round_batches);
	s->round_batches = NULL;
	txn_open(s);
}

/* A batch event held in a round shows the batch as the round's transaction
 * saw it: on PostgreSQL other stations' uncommitted results were not in
 * it, and "done" is stored after the commit (store_pg_batch.c), so two
 * stations finishing the last devices together could each announce
 * "active" and nobody "done". After the commit the last station to commit
 * sees the full total: ask again for a batch near its end (the only place
 * the race can hide; keeps the extra query off most results). */
#define ROUND_RECHECK_REMAINING 64

static void refresh_batch_event(struct station *s, json_t *ev)
{
	struct store_err serr = {0};
	json_t *b = NULL, *o;
	const char *state = json_string_value(json_object_get(ev, "state"));
	json_int_t batch = json_integer_value(json_object_get(ev, "batch"));
	json_int_t remaining = json_integer_value(json_object_get(ev, "remaining"));
	const char *name = json_string_value(json_object_get(ev, "event"));

	if (!name || strcmp(name, "batch") || !state || !strcmp(state, "done") || batch <= 0 ||
	    remaining > ROUND_RECHECK_REMAINING)
		return;
	if (store_batch_query(s->store, batch, &b, &serr) == 0 &&
	    (o = json_array_get(json_object_get(b, "batches"), 0)) != NULL) {
		const char *keys[] = {"state", "verified", "failed", "remaining"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (json_object_get(o, keys[k]))
				json_object_set(ev, keys[k], json_object_get(o, keys[k]));
	}
	json_decref(b);
}

void station_txn_close(struct station *s)
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
		if (station_store_seen(s, serr.code, &serr))
			for (size_t k = s->n_round_res; k-- > 0;)
				station_hold_result(s, &s->round_res[k].m, s->round_res[k].port,
						    s->round_res[k].delivery, 1);
	}
	s->n_round_res = 0;
	for (i = 0; i < s->nheld; i++) {
		struct jobq_msg *m = &s->held[i];
		if (failed && m->rc == 0) {
			m->rc = -1;
			snprintf(m->error, sizeof(m->error), "store: %s", serr.msg);
			if (m->kind == JOBQ_CLAIM_REP && m->worker < s->nports) {
				s->ports[m->worker].job_id = 0;
				s->ports[m->worker].record[0] = '\0';
			}
		}
		post_worker(s, m);
	}
	s->nheld = 0;
	json_array_foreach(s->held_ev, i, ev) {
		if (!failed)
			refresh_batch_event(s, ev);
		station_broadcast(s, json_incref(ev));
	}
	json_array_clear(s->held_ev);
}

void station_reply_worker(struct station *s, unsigned w, struct jobq_msg *m)
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

/* The store's answer to one call: an unreachable database is an outage
 * (logged once when it starts and once when it ends), anything else says
 * the store is there. Returns 1 for an outage. */
int station_store_seen(struct station *s, int rc, const struct store_err *serr)
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
