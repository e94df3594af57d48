/* The station's port table: workers started for configured and discovered
 * ports, and a reload (SIGHUP) that adds and removes configured ports
 * without touching a port whose device is being provisioned. See station.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "station.h"
#include "station_int.h"
#include "worker.h"

static int live(const struct station_port *p)
{
	return !p->removed;
}

/* Busy: a device is between its work reply and its result (its state may
 * not say "busy" yet: the promise comes first). */
static int busy(const struct station_port *p)
{
	return !strcmp(p->state, "busy") || p->promised || p->job_id;
}

int station_has_path(const struct station *s, const char *path)
{
	for (size_t i = 0; i < s->nports; i++)
		if (live(&s->ports[i]) && !strcmp(s->ports[i].path, path))
			return 1;
	return 0;
}

static int add_port(struct station *s, const char *name, const char *path, uint32_t baud, int before,
		    int configured)
{
	struct station_port *p = NULL;
	struct worker_cfg wc = {0};
	size_t slot;
	int rc;

	if (s->stopping)
		return -ENOSPC;
	for (size_t i = 0; i < s->nports; i++) {
		if (!live(&s->ports[i])) {
			if (!p)
				p = &s->ports[i];
			continue;
		}
		if (!strcmp(s->ports[i].name, name) || !strcmp(s->ports[i].path, path))
			return -EEXIST;
	}
	/* A freed slot first: its worker was joined, no message of it is left
	 * in the inbox (JOBQ_EXITED is a worker's last). */
	if (!p) {
		if (s->nports >= sizeof(s->ports) / sizeof(s->ports[0]))
			return -ENOSPC;
		p = &s->ports[s->nports];
	}
	slot = (size_t)(p - s->ports);
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->state, sizeof(p->state), "absent");
	p->configured = configured;
	wc.index = (unsigned)slot;
	snprintf(wc.name, sizeof(wc.name), "%s", name);
	snprintf(wc.path, sizeof(wc.path), "%s", path);
	wc.baud = baud ? baud : s->cfg.baud;
	wc.before = before >= 0 ? (enum reset_mode)before : s->cfg.before;
	wc.poll_ms = s->cfg.poll_ms;
	wc.probe_ms = s->cfg.poll_ms * 4 > 2000 ? s->cfg.poll_ms * 4 : 2000;
	wc.request_ms = 30000;
	wc.table_offset = s->table_offset;
	if (slot == s->nports)
		s->nports++;
	rc = worker_start(&wc, s->inbox, &p->worker);
	if (rc) {
		p->removed = 1;
		p->exited = 1;
		if (slot == s->nports - 1)
			s->nports--;
		return rc;
	}
	log_msg(LOG_INFO, &(struct log_fields){.port = name}, "watching %s", path);
	return 0;
}

int station_add_port(struct station *s, const char *name, const char *path, uint32_t baud, int before)
{
	return add_port(s, name, path, baud, before, 1);
}

int station_add_discovered_port(struct station *s, const char *name, const char *path, uint32_t baud,
				int before)
{
	return add_port(s, name, path, baud, before, 0);
}

void station_port_retire(struct station *s, struct station_port *p)
{
	struct jobq_msg m;

	(void)s;
	if (!p->removing || p->exited || !p->worker || busy(p))
		return;
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_STOP;
	worker_post(p->worker, &m);
	/* Idle: cut a blocking connect attempt short. */
	worker_cancel(p->worker);
}

void station_port_exited(struct station *s, struct station_port *p)
{
	(void)s;
	if (!p->removing)
		return;
	worker_join_free(p->worker);
	p->worker = NULL;
	p->removed = 1;
	log_msg(LOG_INFO, &(struct log_fields){.port = p->name}, "port removed");
}

static const struct config_port *find_cfg(const struct config *cfg, const char *name, const char *path)
{
	for (size_t i = 0; i < cfg->nports; i++)
		if (!strcmp(cfg->ports[i].name, name) && !strcmp(cfg->ports[i].path, path))
			return &cfg->ports[i];
	return NULL;
}

void station_reload(struct station *s, const struct config *cfg)
{
	unsigned added = 0, removed = 0, kept_busy = 0;

	if (s->stopping)
		return;
	for (size_t i = 0; i < s->nports; i++) {
		struct station_port *p = &s->ports[i];
		if (!live(p) || !p->configured || p->removing || find_cfg(cfg, p->name, p->path))
			continue;
		p->removing = 1;
		removed++;
		if (busy(p)) {
			kept_busy++;
			log_msg(LOG_INFO, &(struct log_fields){.port = p->name},
				"removed from the configuration: stops once its device is done");
		}
		station_port_retire(s, p);
	}
	for (size_t i = 0; i < cfg->nports; i++) {
		const struct config_port *c = &cfg->ports[i];
		int have = 0;
		for (size_t j = 0; j < s->nports && !have; j++)
			have = live(&s->ports[j]) && !s->ports[j].removing && !strcmp(s->ports[j].name, c->name) &&
			       !strcmp(s->ports[j].path, c->path);
		if (have)
			continue;
		/* A name or path still held by a port on its way out waits for
		 * the next reload. */
		if (add_port(s, c->name, c->path, c->baud, c->before, 1))
			log_msg(LOG_WARNING, &(struct log_fields){.port = c->name},
				"cannot start a worker for %s now (name or path still in use?): reload again later",
				c->path);
		else
			added++;
	}
	log_msg(LOG_INFO, NULL, "configuration reloaded: %u port(s) added, %u removed (%u after their device)",
		added, removed, kept_busy);
}
