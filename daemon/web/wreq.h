/* What the screen server reads from the outside, as pure functions (unit
 * tested and fuzzed): the route of a request (method and already-decoded
 * path), the operator's bearer token, and the --listen address.
 *
 * Routes are an exact table: a path that is not in it is "not found", so
 * "..", "%2e%2e", doubled slashes and the like can never name a file (the
 * assets are compiled in; nothing is read from disk per request).
 */
#ifndef ESPFAB_WREQ_H
#define ESPFAB_WREQ_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define WREQ_TOKEN_MIN 16
#define WREQ_TOKEN_MAX 256

enum wreq_route {
	WREQ_NOT_FOUND = 0,
	WREQ_BAD_METHOD,   /* the path exists, the method is not allowed on it */
	WREQ_ASSET,        /* GET/HEAD of a compiled-in file */
	WREQ_EVENTS,       /* GET /events: the SSE stream */
	WREQ_STATE,        /* GET /api/state */
	WREQ_BATCH_ACTION, /* POST /api/batch/<id>/pause|resume */
};

enum wreq_action {
	WREQ_PAUSE = 0,
	WREQ_RESUME,
};

struct wreq {
	enum wreq_route route;
	const char *allow;    /* for WREQ_BAD_METHOD: the Allow header's value */
	size_t asset;         /* WREQ_ASSET: index into wassets */
	int64_t batch;        /* WREQ_BATCH_ACTION */
	enum wreq_action action;
};

/* A compiled-in file (wassets.c is generated from daemon/web/assets). */
struct wasset {
	const char *path; /* "/app.js"; "/" is index.html */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct wasset wassets[];
extern const size_t wassets_n;

/* method and path as libmicrohttpd hands them (path without the query). */
void wreq_route(const char *method, const char *path, struct wreq *out);

/* "Bearer <token>" (scheme case-insensitive, one space or more) -> the token,
 * borrowed from header with its length. -1 when absent or not of that form,
 * or the token is longer than WREQ_TOKEN_MAX or has a byte outside the
 * RFC 6750 b64token set. */
int wreq_bearer(const char *header, const char **token, size_t *len);

/* Constant-time equality of a presented token and ours (time depends on our
 * length only). */
int wreq_token_equal(const char *given, size_t given_len, const char *ours, size_t ours_len);

/* The token file's contents -> the token (trailing newline/space dropped).
 * -1 with a message when too short, too long or not a b64token. */
int wreq_token_parse(const char *text, size_t len, char *out, size_t cap, char *msg, size_t msgcap);

/* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0" (numeric hosts only: no name
 * lookups at start) -> a socket address. -1 with a message otherwise. */
int wreq_listen_parse(const char *s, struct sockaddr_storage *sa, socklen_t *salen, char *msg, size_t msgcap);

#endif
