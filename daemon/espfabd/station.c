/* The station: its lifecycle (new, tick, stop, free) and the event broadcast. See station.h;
 * the rest of the station is in station_*.c (station_int.h). */
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

uint64_t station_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void station_broadcast(struct station *s, json_t *ev)
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
	{
		struct outbox_err oerr;
		int orc = outbox_open(&s->outbox, s->cfg.outbox_path[0] ? s->cfg.outbox_path : NULL, &oerr);
		if (orc) {
			snprintf(msg, cap, "%s", oerr.msg);
			free(s);
			return orc;
		}
		if (oerr.damaged)
			log_msg(LOG_ERR, NULL, "store: outbox journal damaged: %s", oerr.msg);
		if (outbox_len(s->outbox))
			log_msg(LOG_NOTICE, NULL, "store: %zu held results from %s to deliver", outbox_len(s->outbox),
				outbox_path(s->outbox));
	}
	if (station_ident_new(&s->ident) || jobq_new(&s->inbox, 1) ||
	    loop_add(s->loop, jobq_fd(s->inbox), EPOLLIN, station_inbox_cb, s)) {
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
	if (outbox_len(s->outbox) && station_mono_ms() >= s->outbox_retry_ms) {
		station_outbox_flush(s);
		if (outbox_len(s->outbox)) {
			s->outbox_wait_ms = s->outbox_wait_ms ? (s->outbox_wait_ms * 2 > 30000 ? 30000 : s->outbox_wait_ms * 2)
							      : 1000;
			s->outbox_retry_ms = station_mono_ms() + s->outbox_wait_ms;
		} else {
			s->outbox_wait_ms = 0;
		}
	}
	station_lease_tick(s);
	if (s->stopping && !s->cancelled && station_mono_ms() >= s->stop_at_ms) {
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
	s->stop_at_ms = station_mono_ms() + s->grace_ms;
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
	station_check_stopped(s);
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
		station_on_message(s, &m);
	station_txn_close(s);
	station_round_forget(s);
	/* Last chance for held results; what the store still refuses waits
	 * in the outbox journal for the next start (without one, the next
	 * start's recovery settles those jobs; records stay bound). */
	station_outbox_flush(s);
	if (outbox_len(s->outbox))
		log_msg(LOG_ERR, NULL, "store: %zu held results not delivered: the database is unreachable%s%s",
			outbox_len(s->outbox), outbox_path(s->outbox) ? "; they wait in " : "",
			outbox_path(s->outbox) ? outbox_path(s->outbox) : "");
	if (s->cfg.lease)
		station_lease_set(s, 0, "station shut down");
	outbox_free(s->outbox);
	fwimg_set_unref(s->fw);
	station_ident_free(s->ident);
	json_decref(s->held_ev);
	loop_del(s->loop, jobq_fd(s->inbox));
	jobq_free(s->inbox);
	free(s);
}
