/* The uplink: delivers the audit trail to the plant's system over HTTP(S).
 *
 * One thread with its own store connection POSTs the audit rows after its
 * cursor (store_uplink_cursor), oldest first, up to UPLINK_BATCH a request:
 *     {"v":1, "station":"line3-a", "rows":[{"id":17, "time":..., ...}, ...]}
 * (the fields of `espfab audit --json`; never a record's values). Any 2xx
 * answer acknowledges every row of the request: the cursor moves past them
 * (durably) and the next request starts after. Anything else (no answer,
 * refused, timed out, 4xx, 5xx) keeps the rows and retries after a backoff
 * of 1, 2, 4 ... 60 s. Delivery is therefore at least once and in order: a
 * crash between an acknowledgement and the cursor's commit sends those rows
 * again, so the receiver deduplicates by (station, id). The trail is the
 * spool: rows made while the uplink is down wait in the database, across
 * restarts.
 *
 * The URL may carry credentials; only its scheme, host and port are ever
 * logged. A bearer token (from a file) goes in an Authorization header. */
#ifndef ESPFABD_UPLINK_H
#define ESPFABD_UPLINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define UPLINK_BATCH 100

struct uplink;

struct uplink_cfg {
	const char *url;      /* http:// or https:// */
	const char *token;    /* bearer token, or NULL; copied and wiped on free */
	const char *db_path;  /* the store; the uplink opens its own connection */
	const char *station;  /* sent with every request */
	unsigned idle_ms;     /* how often to look for new rows when idle (e.g. 1000) */
	unsigned timeout_ms;  /* per request (e.g. 30000) */
	unsigned backoff_max_ms; /* cap of the retry backoff (e.g. 60000) */
};

/* Opens the store connection and starts the thread. msg gets a one-line
 * reason on failure. *out is the caller's: uplink_free(). */
int uplink_start(const struct uplink_cfg *cfg, struct uplink **out, char *msg, size_t cap);
/* Stops the thread (an in-flight request is aborted within ~100 ms) and
 * frees everything. NULL is fine. */
void uplink_free(struct uplink *u);
/* {"url": "https://host:port", "state": "ok"|"retrying"|"starting",
 *  "delivered": id of the last acknowledged row, "pending": rows waiting,
 *  "failures": consecutive failures, "last_error": text} (thread-safe). */
json_t *uplink_status(struct uplink *u);

#endif
