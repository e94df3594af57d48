/* The screen's HTTP server (libmicrohttpd, one thread per connection).
 *
 *   GET  /, /app.js, /app.css      the page (compiled in, see wreq.h)
 *   GET  /events                   Server-Sent Events: "state" first, then
 *                                  "tile", "batches", "stats", "audit", and a
 *                                  "ping" every keepalive_ms
 *   GET  /api/state                the same state as one JSON object
 *   POST /api/batch/<id>/pause     operator only: Authorization: Bearer <token>;
 *   POST /api/batch/<id>/resume    forwarded to espfabd as batch.pause/resume
 *                                  on a connection of its own, so the control
 *                                  socket's permissions decide
 *
 * Anything else is 404, a known path with another method 405 (with Allow),
 * a request whose headers do not fit max_header bytes is refused by
 * libmicrohttpd (431), a request body over 1 KiB is 413. Every response
 * carries nosniff, no framing, no referrer and a same-origin CSP.
 */
#ifndef ESPFAB_WHTTP_H
#define ESPFAB_WHTTP_H

#include <stddef.h>

#include <sys/socket.h>

#include "whub.h"

enum whttp_error {
	WHTTP_OK = 0,
	WHTTP_ESTART = -1, /* the server could not start (address in use, ...) */
};

struct whttp_err {
	int code;
	char msg[320];
};

struct whttp_opts {
	const struct sockaddr *addr; /* where to listen (port 0: any free port) */
	socklen_t addrlen;
	const char *token;       /* operator token (copied); NULL: read-only */
	const char *socket_path; /* espfabd's control socket, for operator actions (copied) */
	struct whub *hub;        /* borrowed */
	size_t max_header;       /* bytes for a request's line and headers (16384 when 0) */
	unsigned max_conns;      /* concurrent connections (64 when 0) */
	int keepalive_ms;        /* SSE ping period (10000 when 0) */
};

struct whttp;

int whttp_start(const struct whttp_opts *o, struct whttp **out, struct whttp_err *err);
/* The port actually bound (for port 0). */
unsigned whttp_port(const struct whttp *h);
/* Ends every stream (closes the hub) and stops the server. */
void whttp_stop(struct whttp *h);

#endif
