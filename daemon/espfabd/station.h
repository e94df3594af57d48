/* The station: the main thread's state and decisions.
 *
 * It owns the store (SQLite is touched only here), the port table and the
 * workers; it answers control requests and worker requests (work, claim,
 * mark sent, result), builds each device's NVS image from its claimed record,
 * audits every attempt and turns worker messages into live events.
 */
#ifndef ESPFABD_STATION_H
#define ESPFABD_STATION_H

#include <stddef.h>

#include "config.h"
#include "control.h"
#include "loop.h"
#include "ctl_msg.h"

struct store;
struct station;

struct station_opts {
	const struct config *cfg;
	struct loop *loop;
	struct store *store;     /* not owned; used from the main thread only */
	int verify_readback;     /* 1: verify by reading back and decoding too */
	uint32_t table_offset;   /* where devices' partition tables are read */
	unsigned shutdown_grace_ms;
	void (*on_stopped)(void *ctx); /* every worker has exited after station_stop() */
	void *ctx;
};

int station_new(const struct station_opts *o, struct station **out, char *msg, size_t cap);
/* Startup, before store_recover(): hands the results a previous run held
 * in the outbox journal to the store, oldest first. Returns how many are
 * still held (the database unreachable: try again later). */
size_t station_deliver_held(struct station *s);
/* The lease size (`lease = N`): at startup after recovery and on reload.
 * 0 gives back whatever the station holds (why goes into the audit). */
void station_lease_set(struct station *s, unsigned n, const char *why);
/* Joins the workers (call after on_stopped) and frees. NULL is fine. */
void station_free(struct station *s);

/* The control socket this station answers and broadcasts on. */
void station_set_control(struct station *s, struct control *c);
/* Shown in status (may be NULL); the caller keeps it alive longer. */
struct uplink;
void station_set_uplink(struct station *s, struct uplink *u);
/* control_handler for control_new(): station_request_run(), then the reply. */
void station_handle_request(void *ctx, struct control_client *cl, const struct ctl_request *req);

/* A control request's outcome: reply with *out, send *out as an event line
 * (a subscribe's snapshot), nothing, or (< 0) the error in struct station_rerr. */
enum { STATION_REPLY = 0, STATION_EVENT = 1, STATION_NONE = 2 };
struct station_rerr {
	const char *code; /* a static control error code: "arg", "state", "busy", ... */
	char msg[256];    /* one line */
};
/* Runs req (uid: the client's, for the log); *out is the caller's. */
int station_request_run(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			struct station_rerr *e);

/* One control op: its fields besides v, id and op (space-separated names,
 * as schemas/control-request.json has them) and its handler. */
typedef int (*station_op_fn)(struct station *s, const struct ctl_request *req, unsigned uid, json_t **out,
			     struct station_rerr *e);
struct station_op {
	enum ctl_op op;
	const char *required;
	const char *optional;
	station_op_fn fn;
};
/* The table of every op the station serves (*n rows). */
const struct station_op *station_ops(size_t *n);

/* Start a worker for a configured port; name and path unique. */
int station_add_port(struct station *s, const char *name, const char *path, uint32_t baud, int before);
/* The same for a port found by USB discovery: a reload leaves it alone. */
int station_add_discovered_port(struct station *s, const char *name, const char *path, uint32_t baud,
				int before);
int station_has_path(const struct station *s, const char *path);

/* SIGHUP: make the configured ports those of cfg (matched by name and
 * path). New ones start; removed ones stop now when idle, else once their
 * device's result is in (nothing new is given to them meanwhile); the rest,
 * discovered ports included, are not touched. Other settings are not
 * applied (the caller says so). */
void station_reload(struct station *s, const struct config *cfg);

/* Once a second from the main loop: STATUS=, shutdown grace. */
void station_tick(struct station *s);

/* SIGTERM: no new claims; workers finish or abort; in-flight writes get
 * shutdown_grace_ms, then their ports are cancelled. on_stopped follows. */
void station_stop(struct station *s);

#endif
