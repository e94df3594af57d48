/* The operator screen's picture of the station, built from espfabd's event
 * stream (schemas/control-event.json) and its audit trail.
 *
 * Pure: no I/O, no clock of its own (callers pass the time), no locking (the
 * feed holds the hub's lock around every call). Every field that reaches the
 * browser is copied from a whitelist into bounded buffers: unknown fields,
 * over-long strings and wrong types from the socket never pass through, and
 * no event of the daemon carries record values, so no secret can reach the
 * page from here.
 *
 * Changes come out as an array of {"type": T, "data": {...}} objects, one
 * per Server-Sent Event: T is "state" (everything: after a snapshot, a seed,
 * or going online/offline), "tile", "batches", "stats" or "audit" (one new
 * row for the tail).
 */
#ifndef ESPFAB_WMODEL_H
#define ESPFAB_WMODEL_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define WMODEL_MAX_TILES 64
#define WMODEL_TAIL 20           /* audit rows kept for the tail */
#define WMODEL_RATE_WINDOW 600   /* seconds behind devices/hour */
#define WMODEL_CAUSE_WINDOW 3600 /* seconds behind failures by cause */
#define WMODEL_MAX_RESULTS 65536 /* results remembered for the windows */

enum wmodel_error {
	WMODEL_OK = 0,
	WMODEL_ENOMEM = -1,
	WMODEL_EINPUT = -2, /* not an event we understand (ignored, nothing changed) */
};

/* What went wrong, in the operator's words, from the daemon's one-line
 * reason (pipeline.c prefixes it with the step: "write: ...", "claim: ..."). */
enum wmodel_cause {
	WMODEL_CAUSE_CONTACT = 0, /* the board stopped answering or never synced */
	WMODEL_CAUSE_VERIFY,      /* read-back differs or does not decode */
	WMODEL_CAUSE_TABLE,       /* the board's partition table is wrong or unreadable */
	WMODEL_CAUSE_FIRMWARE,    /* writing a firmware image failed */
	WMODEL_CAUSE_RECORDS,     /* no record to give, or the store refused */
	WMODEL_CAUSE_STATION,     /* the station was shutting down */
	WMODEL_CAUSE_OTHER,
	WMODEL_CAUSE_COUNT_ /* not a cause */
};

struct wmodel;

/* *out is owned by the caller: wmodel_free(). */
int wmodel_new(struct wmodel **out);
void wmodel_free(struct wmodel *m);

/* Classify a failure reason. Never NULL; the strings are static. */
enum wmodel_cause wmodel_classify(const char *error);
const char *wmodel_cause_name(enum wmodel_cause c);   /* "contact", "verify", ... */
const char *wmodel_cause_label(enum wmodel_cause c);  /* "Lost contact with the board" */
const char *wmodel_cause_action(enum wmodel_cause c); /* "Reseat the board and retry; ..." */

/* One message the daemon sent (a new reference is not taken). Events update
 * the picture; replies are not for the model (WMODEL_EINPUT). Appends the
 * resulting changes to changes (an array). */
int wmodel_apply(struct wmodel *m, json_t *msg, time_t now, json_t *changes);

/* The daemon is reachable (after its snapshot) or gone; why: one line, shown
 * on the page while offline ("" when online). */
int wmodel_set_online(struct wmodel *m, int online, const char *why, time_t now, json_t *changes);

/* Seeding from the audit trail after (re)connecting: begin, then one call per
 * page of rows (the audit reply's "audit" array, oldest first), then end,
 * which publishes a "state". Between begin and end, live results update the
 * tiles only: their audit rows arrive in the pages (the daemon broadcasts a
 * result after its commit, so a result seen before a page's reply is in it).
 * Returns the id of the last row seen (for the next page). */
void wmodel_seed_begin(struct wmodel *m);
int64_t wmodel_seed_page(struct wmodel *m, json_t *rows);
void wmodel_seed_end(struct wmodel *m, time_t now, json_t *changes);
/* The time of the last row seen ("" before any), the next page's "since". */
const char *wmodel_seed_since(const struct wmodel *m);

/* Fields every "state" carries besides the picture (the HTTP side's
 * "operator" and "keepalive_ms"); extra is stolen. */
void wmodel_set_extra(struct wmodel *m, json_t *extra);

/* The whole picture (a new object): what "state" carries and /api/state serves. */
json_t *wmodel_state(struct wmodel *m, time_t now);
/* The rates alone (a new object); the feed republishes them as time passes. */
json_t *wmodel_stats(struct wmodel *m, time_t now);

/* Pure helpers, exposed for the tests. */
/* "2026-12-02T14:51:48.123Z" -> seconds since the epoch; -1 when not of that form. */
time_t wmodel_parse_time(const char *s);
/* seconds -> "2026-12-02T14:51:48Z" into buf (at least 21 bytes). */
void wmodel_format_time(time_t t, char *buf, size_t cap);

#endif
