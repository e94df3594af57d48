/* See whttp.h. */
#include "whttp.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "ctl_client.h"
#include "log.h"
#include "wreq.h"

#define WHTTP_MAX_BODY 1024
#define WHTTP_ACTION_TIMEOUT_MS 10000

struct whttp {
	struct MHD_Daemon *mhd;
	struct whub *hub;
	char token[WREQ_TOKEN_MAX + 1];
	int have_token;
	char socket_path[256];
	int keepalive_ms;
};

/* Per request: how much body came (a POST needs none). */
struct whttp_req {
	size_t body;
};

/* Per SSE stream. */
struct whttp_stream {
	struct whub *hub;
	uint64_t cursor;
	int started;
	int keepalive_ms;
	char *pending;
	size_t len, off;
};

static void add_common(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
				"form-action 'none'");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
				size_t len, enum MHD_ResponseMemoryMode mode, const char *cache)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	add_common(r, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* {"ok":false,"error":{"code":..,"message":..}} with a status. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code, const char *msg,
				  const char *allow)
{
	json_t *o = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", msg);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(o);
	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	add_common(r, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"espfab\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!body)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory", NULL);
	return send_buf(c, status, "application/json", body, strlen(body), MHD_RESPMEM_MUST_FREE, "no-store");
}

/* ---- Server-Sent Events ---- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct whttp_stream *s = cls;

	(void)pos;
	for (;;) {
		char *text = NULL;
		int rc;
		if (s->pending && s->off < s->len) {
			size_t n = s->len - s->off < max ? s->len - s->off : max;
			memcpy(buf, s->pending + s->off, n);
			s->off += n;
			return (ssize_t)n;
		}
		free(s->pending);
		s->pending = NULL;
		if (!s->started) {
			rc = whub_start(s->hub, &s->cursor, &text);
			s->started = 1;
		} else {
			/* Blocking here is what thread-per-connection is for. */
			rc = whub_next(s->hub, &s->cursor, &text, s->keepalive_ms);
			if (rc == WHUB_EBEHIND)
				rc = whub_start(s->hub, &s->cursor, &text);
		}
		if (rc == WHUB_ETIMEDOUT) {
			/* A named event, not a comment: the page's watchdog sees it. */
			text = strdup("event: ping\ndata: {}\n\n");
			rc = text ? WHUB_OK : WHUB_ENOMEM;
		}
		if (rc == WHUB_ECLOSED)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		s->pending = text;
		s->len = strlen(text);
		s->off = 0;
	}
}

static void sse_free(void *cls)
{
	struct whttp_stream *s = cls;

	if (!s)
		return;
	free(s->pending);
	free(s);
}

static enum MHD_Result serve_events(struct whttp *h, struct MHD_Connection *c, int head)
{
	struct whttp_stream *s;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (head)
		return send_buf(c, MHD_HTTP_OK, "text/event-stream", "", 0, MHD_RESPMEM_PERSISTENT, "no-store");
	s = calloc(1, sizeof(*s));
	if (!s)
		return MHD_NO;
	s->hub = h->hub;
	s->keepalive_ms = h->keepalive_ms;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_free);
	if (!r) {
		free(s);
		return MHD_NO;
	}
	add_common(r, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* A reverse proxy must pass events through as they come. */
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- operator actions ---- */

static void peer_name(struct MHD_Connection *c, char *buf, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)cap);
}

static unsigned status_of(const char *remote_code)
{
	static const struct {
		const char *code;
		unsigned status;
	} map[] = {{"denied", MHD_HTTP_FORBIDDEN}, {"not_found", MHD_HTTP_NOT_FOUND}, {"state", MHD_HTTP_CONFLICT},
		   {"arg", MHD_HTTP_BAD_REQUEST},  {"busy", MHD_HTTP_SERVICE_UNAVAILABLE}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(remote_code, map[i].code))
			return map[i].status;
	return MHD_HTTP_BAD_GATEWAY;
}

static enum MHD_Result batch_action(struct whttp *h, struct MHD_Connection *c, const struct wreq *rq)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *op = rq->action == WREQ_PAUSE ? "batch.pause" : "batch.resume";
	const char *tok = NULL;
	size_t toklen = 0;
	struct ctl_client *cl = NULL;
	struct ctl_client_err err;
	json_t *res = NULL;
	char peer[64];
	int rc;

	peer_name(c, peer, sizeof(peer));
	if (!h->have_token)
		return send_error(c, MHD_HTTP_FORBIDDEN, "read_only",
				  "this screen is read-only: espfab-web runs without --token-file", NULL);
	if (wreq_bearer(auth, &tok, &toklen) || !wreq_token_equal(tok, toklen, h->token, strlen(h->token))) {
		log_msg(LOG_WARNING, NULL, "operator action %s on batch %lld from %s refused: %s", op,
			(long long)rq->batch, peer, auth ? "wrong token" : "no token");
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "token", auth ? "the operator token is not valid" :
					  "an operator token is needed (Authorization: Bearer ...)", NULL);
	}
	if (ctl_client_connect(h->socket_path, &cl, &err))
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "offline", err.msg, NULL);
	rc = ctl_client_call(cl, op, json_pack("{s:I}", "batch", (json_int_t)rq->batch), &res, WHTTP_ACTION_TIMEOUT_MS,
			 &err);
	ctl_client_free(cl);
	if (rc) {
		log_msg(LOG_WARNING, NULL, "operator %s of batch %lld from %s: espfabd said %s", op,
			(long long)rq->batch, peer, err.msg);
		if (rc == CTL_CLIENT_EREMOTE)
			return send_error(c, status_of(err.remote_code), err.remote_code, err.msg, NULL);
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "offline", err.msg, NULL);
	}
	log_msg(LOG_NOTICE, &(struct log_fields){.batch = rq->batch}, "operator at %s: %s of batch %lld", peer, op,
		(long long)rq->batch);
	{
		json_t *row = json_array_get(json_object_get(res, "batches"), 0);
		json_t *out = json_pack("{s:b, s:O}", "ok", 1, "batch", row ? row : json_null());
		json_decref(res);
		return send_json(c, MHD_HTTP_OK, out);
	}
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct whttp *h = cls;
	struct whttp_req *rq = *con_cls;
	struct wreq r;

	(void)upload;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES; /* headers are in; the body (if any) comes next */
	}
	if (*upload_size) {
		rq->body += *upload_size;
		*upload_size = 0;
		return MHD_YES; /* counted, then refused below once it is all in */
	}
	if (rq->body > WHTTP_MAX_BODY)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body over 1 KiB", NULL);
	/* RFC 9110: an HTTP/1.1 request without Host is malformed
	 * (libmicrohttpd 0.9.75 lets it through). */
	if (!strcmp(version, MHD_HTTP_VERSION_1_1) && !MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "malformed", "HTTP/1.1 request without Host", NULL);
	wreq_route(method, url, &r);
	switch (r.route) {
	case WREQ_NOT_FOUND:
		return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such page", NULL);
	case WREQ_BAD_METHOD:
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "method not allowed here", r.allow);
	case WREQ_ASSET:
		return send_buf(c, MHD_HTTP_OK, wassets[r.asset].type, wassets[r.asset].data, wassets[r.asset].len,
				MHD_RESPMEM_PERSISTENT, "no-cache");
	case WREQ_EVENTS:
		return serve_events(h, c, !strcmp(method, "HEAD"));
	case WREQ_STATE:
		return send_json(c, MHD_HTTP_OK, whub_snapshot(h->hub));
	case WREQ_BATCH_ACTION:
		return batch_action(h, c, &r);
	}
	return MHD_NO;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	(void)cls;
	(void)c;
	(void)t;
	free(*con_cls);
	*con_cls = NULL;
}

/* Paths are taken as sent, not %-decoded: every route is plain ASCII, and
 * a decoded "%00" would cut the C string short ("/app.js%00.png" would
 * serve /app.js) while a decoded "%2e%2e" would only look like a path. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_msg(LOG_DEBUG, NULL, "http: %s", buf);
}

int whttp_start(const struct whttp_opts *o, struct whttp **out, struct whttp_err *err)
{
	struct whttp *h = calloc(1, sizeof(*h));
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (!h) {
		err->code = WHTTP_ESTART;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return WHTTP_ESTART;
	}
	h->hub = o->hub;
	h->keepalive_ms = o->keepalive_ms > 0 ? o->keepalive_ms : 10000;
	snprintf(h->socket_path, sizeof(h->socket_path), "%s", o->socket_path ? o->socket_path : "");
	if (o->token) {
		snprintf(h->token, sizeof(h->token), "%s", o->token);
		h->have_token = 1;
	}
	if (o->addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, o->addr, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(o->max_header ? o->max_header : 16384), MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(o->max_conns ? o->max_conns : 64), MHD_OPTION_PER_IP_CONNECTION_LIMIT, 32u,
		MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, h,
		MHD_OPTION_END);
	if (!h->mhd) {
		err->code = WHTTP_ESTART;
		snprintf(err->msg, sizeof(err->msg),
			 "cannot listen there (address in use, not on this host, or a port below 1024 without the right)");
		explicit_bzero(h->token, sizeof(h->token));
		free(h);
		return WHTTP_ESTART;
	}
	*out = h;
	return WHTTP_OK;
}

unsigned whttp_port(const struct whttp *h)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : 0;
}

void whttp_stop(struct whttp *h)
{
	if (!h)
		return;
	/* Streams block in whub_next(): wake them first so the server's
	 * threads can be joined. */
	whub_close(h->hub);
	MHD_stop_daemon(h->mhd);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
}
