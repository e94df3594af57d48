/* The station's worker messages: the inbox callback and the per-kind dispatch. */
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

void station_check_stopped(struct station *s)
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

void station_on_message(struct station *s, struct jobq_msg *m)
{
	struct station_port *p = station_port_of(s, m);

	if (!p) {
		jobq_msg_clear(m);
		return;
	}
	switch (m->kind) {
	case JOBQ_PORT_STATE:
		snprintf(p->state, sizeof(p->state), "%.15s", m->u.port_state.name);
		if (strcmp(p->state, "busy"))
			p->step[0] = '\0';
		station_broadcast(s, json_pack("{s:s, s:s, s:s}", "event", "port", "port", p->name, "state", p->state));
		station_port_retire(s, p);
		break;
	case JOBQ_ARRIVED:
		snprintf(p->mac, sizeof(p->mac), "%s", m->mac);
		snprintf(p->chip, sizeof(p->chip), "%s", m->chip);
		log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac}, "%s arrived (%llu MiB flash)",
			m->chip, (unsigned long long)(m->u.arrived.flash_size >> 20));
		station_broadcast(s, json_pack("{s:s, s:s, s:s, s:s, s:I}", "event", "device.arrived", "port", p->name, "mac",
				       m->mac, "chip", m->chip, "flash_size", (json_int_t)m->u.arrived.flash_size));
		break;
	case JOBQ_LEFT:
		log_msg(LOG_INFO, &(struct log_fields){.port = p->name, .mac = m->mac}, "device left");
		station_broadcast(s, json_pack("{s:s, s:s, s:s}", "event", "device.left", "port", p->name, "mac", m->mac));
		p->mac[0] = p->chip[0] = '\0';
		break;
	case JOBQ_STEP: {
		json_t *ev;
		snprintf(p->step, sizeof(p->step), "%.15s", m->u.step.name);
		p->done = p->total = 0;
		/* Once claimed, the record and batch ride along: a screen shows
		 * which record is being written without asking for a status. */
		ev = json_pack("{s:s, s:s, s:s, s:s}", "event", "step", "port", p->name, "mac", p->mac, "step",
			       p->step);
		if (p->job_id && p->record[0]) {
			json_object_set_new(ev, "record", json_string(p->record));
			json_object_set_new(ev, "batch", json_integer(p->batch_id));
		}
		station_broadcast(s, ev);
		break;
	}
	case JOBQ_PROGRESS:
		p->done = m->u.progress.done;
		p->total = m->u.progress.total;
		station_broadcast(s, json_pack("{s:s, s:s, s:s, s:I, s:I}", "event", "progress", "port", p->name, "step",
				       p->step, "done", (json_int_t)m->u.progress.done, "total", (json_int_t)m->u.progress.total));
		break;
	case JOBQ_WORK_REQ:
		station_on_work_req(s, m);
		break;
	case JOBQ_CLAIM_REQ:
		station_on_claim_req(s, m);
		break;
	case JOBQ_SENT_REQ:
		station_on_sent_req(s, m);
		break;
	case JOBQ_HMAC_REQ:
		station_on_hmac_req(s, m);
		break;
	case JOBQ_RESULT:
		station_on_result(s, m);
		break;
	case JOBQ_EXITED:
		p->exited = 1;
		snprintf(p->state, sizeof(p->state), "stopped");
		station_port_exited(s, p);
		station_check_stopped(s);
		break;
	case JOBQ_WORK_REP:
	case JOBQ_CLAIM_REP:
	case JOBQ_SENT_REP:
	case JOBQ_HMAC_REP:
	case JOBQ_STOP:
	case JOBQ_WAKE:
		break;
	}
	jobq_msg_clear(m);
}

void station_inbox_cb(void *ctx, int fd, uint32_t events)
{
	struct station *s = ctx;
	struct jobq_msg m;

	(void)fd;
	(void)events;
	/* Bounded batch so a flood of progress events cannot starve the
	 * control socket. */
	for (int i = 0; i < ROUND_MAX && jobq_pop(s->inbox, &m, 0) == 0; i++)
		station_on_message(s, &m);
	station_txn_close(s);
	station_round_forget(s);
}
