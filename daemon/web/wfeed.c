/* See wfeed.h. */
#include "wfeed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_client.h"
#include "log.h"

/* Audit rows per request: a page stays far below the client's line limit
 * (1 MiB) and the daemon's per-client queue (4 MiB). */
#define WFEED_AUDIT_PAGE 500
/* At most this many pages after a connect (an hour at 20000 devices). */
#define WFEED_AUDIT_PAGES 40
#define WFEED_POLL_MS 200

struct wfeed {
	char path[256];
	int retry_ms, stats_ms;
	struct wmodel *model;
	struct whub *hub;
	pthread_t thread;
	atomic_int stop;
};

static void publish(struct wfeed *f, json_t *changes)
{
	if (json_array_size(changes))
		whub_publish_locked(f->hub, changes);
	json_array_clear(changes);
}

static void set_offline(struct wfeed *f, const char *why)
{
	json_t *ch = json_array();

	whub_lock(f->hub);
	wmodel_set_online(f->model, 0, why, time(NULL), ch);
	publish(f, ch);
	whub_unlock(f->hub);
	json_decref(ch);
}

static int ask_audit(struct wfeed *f, struct ctl_client *c, const char *since, int64_t *id, struct ctl_client_err *err)
{
	(void)f;
	return ctl_client_send(c, "audit", json_pack("{s:s, s:i}", "since", since, "limit", WFEED_AUDIT_PAGE), id, err);
}

/* One connection's life: returns when it breaks or we stop. why gets the
 * reason it ended. */
static void session(struct wfeed *f, char *why, size_t cap)
{
	struct ctl_client *c = NULL;
	struct ctl_client_err err;
	json_t *ch = json_array();
	int64_t audit_id = -1;
	int pages = 0, seeding = 0;
	struct timespec last_stats;
	char since[40];

	clock_gettime(CLOCK_MONOTONIC, &last_stats);
	if (ctl_client_connect(f->path, &c, &err)) {
		snprintf(why, cap, "%s", err.msg);
		goto out;
	}
	if (ctl_client_send(c, "subscribe", NULL, NULL, &err)) {
		snprintf(why, cap, "%s", err.msg);
		goto out;
	}
	wmodel_format_time(time(NULL) - WMODEL_CAUSE_WINDOW, since, sizeof(since));
	whub_lock(f->hub);
	wmodel_seed_begin(f->model);
	whub_unlock(f->hub);
	seeding = 1;
	if (ask_audit(f, c, since, &audit_id, &err)) {
		snprintf(why, cap, "%s", err.msg);
		goto out;
	}
	while (!atomic_load(&f->stop)) {
		json_t *m = NULL, *jid;
		struct timespec now;
		int rc = ctl_client_next(c, &m, WFEED_POLL_MS, &err);

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (rc == CTL_CLIENT_ETIMEDOUT) {
			/* Rates slide with time even when nothing happens. */
			if ((now.tv_sec - last_stats.tv_sec) * 1000 + (now.tv_nsec - last_stats.tv_nsec) / 1000000 >=
			    f->stats_ms) {
				last_stats = now;
				whub_lock(f->hub);
				json_array_append_new(ch, json_pack("{s:s, s:o}", "type", "stats", "data",
								    wmodel_stats(f->model, time(NULL))));
				publish(f, ch);
				whub_unlock(f->hub);
			}
			continue;
		}
		if (rc) {
			snprintf(why, cap, "%s", err.msg);
			goto out;
		}
		jid = json_object_get(m, "id");
		if (json_object_get(m, "event")) {
			whub_lock(f->hub);
			wmodel_apply(f->model, m, time(NULL), ch);
			publish(f, ch);
			whub_unlock(f->hub);
		} else if (json_is_null(jid) && !json_is_true(json_object_get(m, "ok"))) {
			/* Refused on connect (denied, busy): the socket decides. */
			const char *msg = json_string_value(json_object_get(json_object_get(m, "error"), "message"));
			snprintf(why, cap, "espfabd refused this screen: %s", msg ? msg : "no reason given");
			json_decref(m);
			goto out;
		} else if (json_is_integer(jid) && json_integer_value(jid) == audit_id) {
			json_t *rows = json_object_get(json_object_get(m, "result"), "audit");
			size_t n = json_array_size(rows);
			whub_lock(f->hub);
			wmodel_seed_page(f->model, rows);
			snprintf(since, sizeof(since), "%s", wmodel_seed_since(f->model));
			if (n < WFEED_AUDIT_PAGE || ++pages >= WFEED_AUDIT_PAGES || !since[0] ||
			    !json_is_true(json_object_get(m, "ok"))) {
				wmodel_seed_end(f->model, time(NULL), ch);
				publish(f, ch);
				seeding = 0;
				audit_id = -1;
			}
			whub_unlock(f->hub);
			if (seeding && ask_audit(f, c, since, &audit_id, &err)) {
				snprintf(why, cap, "%s", err.msg);
				json_decref(m);
				goto out;
			}
		}
		json_decref(m);
	}
out:
	if (seeding) {
		whub_lock(f->hub);
		wmodel_seed_end(f->model, time(NULL), ch);
		json_array_clear(ch); /* going offline publishes the state */
		whub_unlock(f->hub);
	}
	ctl_client_free(c);
	json_decref(ch);
}

static void *feed_main(void *arg)
{
	struct wfeed *f = arg;
	char why[320], last[320] = "";

	while (!atomic_load(&f->stop)) {
		why[0] = '\0';
		session(f, why, sizeof(why));
		if (atomic_load(&f->stop))
			break;
		if (strcmp(why, last)) {
			log_msg(LOG_WARNING, NULL, "station offline: %s", why);
			snprintf(last, sizeof(last), "%s", why);
		}
		set_offline(f, why);
		for (int waited = 0; waited < f->retry_ms && !atomic_load(&f->stop); waited += 50) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int wfeed_start(const struct wfeed_opts *o, struct wmodel *model, struct whub *hub, struct wfeed **out)
{
	struct wfeed *f = calloc(1, sizeof(*f));

	*out = NULL;
	if (!f)
		return WFEED_ESYS;
	snprintf(f->path, sizeof(f->path), "%s", o->socket_path);
	f->retry_ms = o->retry_ms > 0 ? o->retry_ms : 1000;
	f->stats_ms = o->stats_ms > 0 ? o->stats_ms : 30000;
	f->model = model;
	f->hub = hub;
	atomic_init(&f->stop, 0);
	if (pthread_create(&f->thread, NULL, feed_main, f)) {
		free(f);
		return WFEED_ESYS;
	}
	*out = f;
	return WFEED_OK;
}

void wfeed_stop(struct wfeed *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
	free(f);
}
