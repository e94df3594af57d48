/* A port's worker thread. See worker.h. */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pipeline.h"
#include "devsess.h"

struct worker {
	struct worker_cfg cfg;
	struct jobq *to_main;
	struct jobq *inbox;
	pthread_t thread;
	int started;
	int stopping;            /* worker thread only */
	struct devsess *dev;       /* created before the thread, freed after it */
	char state[16];
	int64_t revoked;         /* a withdrawn batch id; __atomic, set by the main thread */
};

static void emit(struct worker *w, struct jobq_msg *m)
{
	m->worker = w->cfg.index;
	jobq_push(w->to_main, m);
}

static void set_state(struct worker *w, const char *state)
{
	struct jobq_msg m;

	if (!strcmp(w->state, state))
		return;
	snprintf(w->state, sizeof(w->state), "%s", state);
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_PORT_STATE;
	snprintf(m.u.port_state.name, sizeof(m.u.port_state.name), "%s", state);
	emit(w, &m);
}

/* Wait up to ms for a message; only STOP matters here (stray replies of an
 * abandoned request are dropped). Returns 1 when told to stop. */
static int idle_wait(struct worker *w, unsigned ms)
{
	struct jobq_msg m;

	if (w->stopping)
		return 1;
	while (jobq_pop(w->inbox, &m, (int)ms) == 0) {
		enum jobq_kind k = m.kind;
		jobq_msg_clear(&m);
		if (k == JOBQ_STOP) {
			w->stopping = 1;
			return 1;
		}
		/* A batch was added or resumed: a waiting device need not sit out
		 * the rest of its poll period. */
		if (k == JOBQ_WAKE)
			break;
		ms = 0;
	}
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int io_revoked(void *ctx, int64_t batch_id)
{
	struct worker *w = ctx;

	return batch_id && __atomic_load_n(&w->revoked, __ATOMIC_ACQUIRE) == batch_id;
}

static void io_emit(void *ctx, struct jobq_msg *m)
{
	emit(ctx, m);
}

static int io_ask(void *ctx, struct jobq_msg *req, enum jobq_kind want, struct jobq_msg *rep, int timeout_ms)
{
	struct worker *w = ctx;
	struct timespec t0, t1;

	memset(rep, 0, sizeof(*rep));
	if (w->stopping)
		return -ECANCELED;
	emit(w, req);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long el;
		struct jobq_msg m;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms)
			return -ETIMEDOUT;
		if (jobq_pop(w->inbox, &m, (int)(timeout_ms - el)))
			return -ETIMEDOUT;
		if (m.kind == JOBQ_STOP) {
			w->stopping = 1;
			jobq_msg_clear(&m);
			return -ECANCELED;
		}
		if (m.kind == want) {
			*rep = m;
			return 0;
		}
		jobq_msg_clear(&m);
	}
}

/* The port's identity: a replugged USB bridge or a restarted simulator gets
 * a new device node or link (new inode, change time or device number) even
 * when its path is the same. */
struct port_ident {
	unsigned long long ino, lino, rdev;
	long long ctime_ns, lctime_ns;
};

static void port_ident_get(const char *path, struct port_ident *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (!strncmp(path, "socket://", 9))
		return;
	if (lstat(path, &st) == 0) {
		id->lino = st.st_ino;
		id->lctime_ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	}
	if (stat(path, &st) == 0) {
		id->ino = st.st_ino;
		id->rdev = st.st_rdev;
		id->ctime_ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
	}
}

static int path_present(const char *path)
{
	struct stat st;

	if (!strncmp(path, "socket://", 9))
		return 1;
	return stat(path, &st) == 0;
}


static void device_left(struct worker *w, char *mac)
{
	struct jobq_msg m;

	if (!mac[0])
		return;
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_LEFT;
	snprintf(m.mac, sizeof(m.mac), "%s", mac);
	emit(w, &m);
	mac[0] = '\0';
}

/* Which board is on the port: the one last identified (present) and the one
 * finished (provisioned or failed: left alone until it leaves), each with
 * the port's identity when it was seen. */
struct presence {
	char present_mac[18];
	char finished_mac[18];
	struct port_ident ident, finished_ident, present_ident;
};

/* A connected device identified as id: drop what the port's re-creation
 * invalidates, announce a new board. Returns 1 when it is the board
 * finished already (nothing to do). */
static int arrived(struct worker *w, struct presence *pr, const struct devsess_ident *id)
{
	port_ident_get(w->cfg.path, &pr->ident);
	/* The same MAC on a port that was re-created since (replugged,
	 * simulator restarted) is the board coming back, not one that never
	 * left: provision it again (it gets its bound record). */
	if (pr->finished_mac[0] && memcmp(&pr->ident, &pr->finished_ident, sizeof(pr->ident)))
		pr->finished_mac[0] = '\0';
	if (pr->present_mac[0] && memcmp(&pr->ident, &pr->present_ident, sizeof(pr->ident)))
		device_left(w, pr->present_mac);
	pr->present_ident = pr->ident;
	if (pr->finished_mac[0] && !strcmp(pr->finished_mac, id->mac))
		return 1;
	if (strcmp(pr->present_mac, id->mac)) {
		struct jobq_msg m;
		device_left(w, pr->present_mac);
		memset(&m, 0, sizeof(m));
		m.kind = JOBQ_ARRIVED;
		snprintf(m.mac, sizeof(m.mac), "%s", id->mac);
		snprintf(m.chip, sizeof(m.chip), "%s", id->chip);
		m.u.arrived.flash_size = id->flash_size;
		emit(w, &m);
		snprintf(pr->present_mac, sizeof(pr->present_mac), "%s", id->mac);
	}
	pr->finished_mac[0] = '\0';
	return 0;
}

/* Ask the main thread for work until there is some (0, *work is the
 * caller's), the device is verified in its batch already (1), or it left or
 * the worker is stopping (-1). The session is kept meanwhile: asking is
 * cheap, reconnecting is not; a read every probe period notices the board
 * leaving. */
static int wait_for_work(struct worker *w, const struct devsess_ident *id, struct jobq_msg *work)
{
	uint64_t t_probe = mono_ms();
	char msg[256];

	for (;;) {
		struct jobq_msg req;
		memset(&req, 0, sizeof(req));
		req.kind = JOBQ_WORK_REQ;
		snprintf(req.mac, sizeof(req.mac), "%s", id->mac);
		snprintf(req.chip, sizeof(req.chip), "%s", id->chip);
		if (io_ask(w, &req, JOBQ_WORK_REP, work, (int)w->cfg.request_ms) == 0 && work->rc == 0)
			return w->stopping ? (jobq_msg_clear(work), -1) : 0;
		/* Verified for this batch already (e.g. before a restart of the
		 * daemon): a finished board, never written again. */
		if (work->kind == JOBQ_WORK_REP && work->rc == JOBQ_WORK_DONE) {
			jobq_msg_clear(work);
			return w->stopping ? -1 : 1;
		}
		jobq_msg_clear(work);
		set_state(w, "waiting");
		if (idle_wait(w, w->cfg.poll_ms))
			return -1;
		if (mono_ms() - t_probe >= w->cfg.probe_ms) {
			t_probe = mono_ms();
			if (devsess_ping(w->dev, msg, sizeof(msg)))
				return -1;
		}
	}
}

/* The board is finished (its session closed): wait for it to leave. */
static void finished(struct worker *w, struct presence *pr, const char *mac)
{
	snprintf(pr->finished_mac, sizeof(pr->finished_mac), "%s", mac);
	pr->finished_ident = pr->ident;
	set_state(w, "done");
	idle_wait(w, w->cfg.probe_ms);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipeline_io io = {.ctx = w, .emit = io_emit, .ask = io_ask, .revoked = io_revoked};
	struct pipeline_params pp = {
		.worker = w->cfg.index,
		.before = w->cfg.before,
		.table_offset = w->cfg.table_offset,
		.timeout_ms = (int)w->cfg.request_ms,
	};
	struct presence pr;
	char msg[256];
	uint64_t t_connect;

	memset(&pr, 0, sizeof(pr));
	set_state(w, "absent");
	while (!w->stopping) {
		struct devsess_ident id;
		struct jobq_msg work, result;
		int rc;

		if (!path_present(w->cfg.path)) {
			set_state(w, "absent");
			device_left(w, pr.present_mac);
			pr.finished_mac[0] = '\0';
			idle_wait(w, w->cfg.poll_ms);
			continue;
		}
		t_connect = mono_ms();
		rc = devsess_connect(w->dev, w->cfg.before, w->cfg.baud, &id, msg, sizeof(msg));
		t_connect = mono_ms() - t_connect;
		if (rc == DEVSESS_ECANCELED)
			break;
		if (rc) {
			/* Nothing in download mode answers (the board left, runs its
			 * application, or the port went away): whatever answers next
			 * is a new device. */
			device_left(w, pr.present_mac);
			pr.finished_mac[0] = '\0';
			set_state(w, rc == DEVSESS_ENODEV ? "absent" : "idle");
			idle_wait(w, w->cfg.poll_ms);
			continue;
		}
		if (arrived(w, &pr, &id)) {
			/* Still the board we finished: leave it alone. */
			devsess_disconnect(w->dev);
			set_state(w, "done");
			idle_wait(w, w->cfg.probe_ms);
			continue;
		}
		rc = wait_for_work(w, &id, &work);
		if (rc == 1) {
			devsess_disconnect(w->dev);
			finished(w, &pr, id.mac);
			continue;
		}
		if (rc < 0) {
			devsess_disconnect(w->dev);
			continue;
		}
		set_state(w, "busy");
		pipeline_provision(w->dev, &id, &work, &pp, &io, &result);
		result.u.result.step_ms[PIPELINE_STEP_CONNECT] = (uint32_t)t_connect;
		jobq_msg_clear(&work);
		devsess_disconnect(w->dev);
		emit(w, &result);
		finished(w, &pr, id.mac);
	}
	devsess_disconnect(w->dev);
	{
		struct jobq_msg m;
		memset(&m, 0, sizeof(m));
		m.kind = JOBQ_EXITED;
		emit(w, &m);
	}
	return NULL;
}

int worker_start(const struct worker_cfg *cfg, struct jobq *to_main, struct worker **out)
{
	struct worker *w;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = *cfg;
	w->to_main = to_main;
	rc = devsess_new(cfg->path, &w->dev);
	if (rc) {
		free(w);
		return rc;
	}
	rc = jobq_new(&w->inbox, 0);
	if (rc) {
		devsess_free(w->dev);
		free(w);
		return rc;
	}
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		jobq_free(w->inbox);
		devsess_free(w->dev);
		free(w);
		return -rc;
	}
	w->started = 1;
	*out = w;
	return 0;
}

void worker_post(struct worker *w, struct jobq_msg *m)
{
	jobq_push(w->inbox, m);
}

void worker_revoke(struct worker *w, int64_t batch_id)
{
	__atomic_store_n(&w->revoked, batch_id, __ATOMIC_RELEASE);
}

void worker_cancel(struct worker *w)
{
	devsess_cancel(w->dev);
}

void worker_join_free(struct worker *w)
{
	if (!w)
		return;
	if (w->started)
		pthread_join(w->thread, NULL);
	jobq_free(w->inbox);
	devsess_free(w->dev);
	free(w);
}
