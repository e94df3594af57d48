/* The hub between the feed (one thread, talking to espfabd) and the browsers
 * (one HTTP thread each, streaming Server-Sent Events).
 *
 * A ring of serialized SSE messages, each with a sequence number, under one
 * mutex that also guards the model (wmodel.h): the feed applies an event and
 * publishes its changes under the lock, and a new stream renders the whole
 * state and takes its cursor under the same lock, so no change is lost or
 * seen twice. A stream that falls more than the ring behind (a stalled
 * browser) is told so and starts again from a fresh state; nobody waits for
 * a slow reader.
 */
#ifndef ESPFAB_WHUB_H
#define ESPFAB_WHUB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum whub_error {
	WHUB_OK = 0,
	WHUB_ENOMEM = -1,
	WHUB_ETIMEDOUT = -2, /* nothing new in time */
	WHUB_EBEHIND = -3,   /* the cursor fell off the ring: start from a state */
	WHUB_ECLOSED = -4,   /* shutting down */
};

struct whub;

/* render: called with the lock held, returns a new object (the full state). */
typedef json_t *(*whub_render)(void *ctx);

int whub_new(size_t capacity, whub_render render, void *ctx, struct whub **out);
/* Call only after every reader has returned (the HTTP server stopped). */
void whub_free(struct whub *h);

void whub_lock(struct whub *h);
void whub_unlock(struct whub *h);

/* With the lock held: publish each {"type","data"} of changes (an array; not
 * stolen) as "event: <type>\ndata: <json>\n\n" and wake the readers. */
int whub_publish_locked(struct whub *h, json_t *changes);

/* A new stream: *text (malloc'd, caller frees) is the full state as an SSE
 * "state" message and *cursor the sequence to read from. */
int whub_start(struct whub *h, uint64_t *cursor, char **text);

/* The full state as an object (new reference; NULL on out of memory). */
json_t *whub_snapshot(struct whub *h);

/* Wait up to timeout_ms for the message at *cursor; on success *text is a
 * malloc'd copy and *cursor advances. */
int whub_next(struct whub *h, uint64_t *cursor, char **text, int timeout_ms);

/* Wake every reader with WHUB_ECLOSED from now on. */
void whub_close(struct whub *h);

/* One SSE message for data (not stolen): "event: type\ndata: json\n\n";
 * malloc'd, NULL on out of memory. */
char *whub_sse(const char *type, json_t *data);

#endif
