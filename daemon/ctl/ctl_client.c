/* See ctl_client.h. */
#include "espfab/err.h"
#include "ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_msg.h"

#define CTL_CLIENT_BUF (CTL_MAX_LINE * 16)

struct ctl_client {
	int fd;
	int64_t next_id;
	char *buf;
	size_t len;
};

static int fail(struct ctl_client_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctl_client_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		err->remote_code[0] = '\0';
		va_start(ap, fmt);
		err_vformat(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int ctl_client_connect(const char *path, struct ctl_client **out, struct ctl_client_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl_client *c = NULL;
	int rc = 0;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, CTL_CLIENT_ECONNECT, "%s: socket path too long", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, CTL_CLIENT_EIO, "out of memory");
	c->fd = -1;
	c->next_id = 1;
	c->buf = malloc(CTL_CLIENT_BUF);
	if (!c->buf) {
		rc = fail(err, CTL_CLIENT_EIO, "out of memory");
		goto out;
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = fail(err, CTL_CLIENT_ECONNECT, "socket: %s", strerror(errno));
		goto out;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = fail(err, CTL_CLIENT_ECONNECT, "cannot reach espfabd at %s: %s", path, strerror(errno));
		goto out;
	}
	*out = c;
	c = NULL;
out:
	ctl_client_free(c);
	return rc;
}

void ctl_client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

int ctl_client_fd(const struct ctl_client *c)
{
	return c->fd;
}

int ctl_client_send(struct ctl_client *c, const char *op, json_t *fields, int64_t *id, struct ctl_client_err *err)
{
	int64_t myid = c->next_id++;
	char *line = ctl_request_line(myid, op, fields);
	size_t off = 0, n;
	int rc = 0;

	if (!line)
		return fail(err, CTL_CLIENT_EIO, "out of memory");
	n = strlen(line);
	while (off < n) {
		ssize_t w = send(c->fd, line + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = fail(err, CTL_CLIENT_EIO, "lost the daemon: %s", strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	free(line);
	if (!rc && id)
		*id = myid;
	return rc;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_client_next(struct ctl_client *c, json_t **msg, int timeout_ms, struct ctl_client_err *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	*msg = NULL;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int wait, pr;
		ssize_t n;

		if (nl) {
			struct ctl_err perr;
			size_t linelen = (size_t)(nl - c->buf);
			json_t *o = ctl_parse_message(c->buf, linelen, &perr);
			memmove(c->buf, nl + 1, c->len - linelen - 1);
			c->len -= linelen + 1;
			if (!o)
				return fail(err, CTL_CLIENT_EPROTO, "%s", perr.msg);
			*msg = o;
			return 0;
		}
		if (c->len >= CTL_CLIENT_BUF)
			return fail(err, CTL_CLIENT_EPROTO, "daemon sent a line over %d bytes", CTL_CLIENT_BUF);
		wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return fail(err, CTL_CLIENT_ETIMEDOUT, "no answer from espfabd in time");
			wait = (int)left;
		}
		pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return fail(err, CTL_CLIENT_EIO, "poll: %s", strerror(errno));
		if (pr == 0)
			continue;
		n = recv(c->fd, c->buf + c->len, CTL_CLIENT_BUF - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(err, CTL_CLIENT_EIO, "espfabd closed the connection");
		c->len += (size_t)n;
	}
}

int ctl_client_call(struct ctl_client *c, const char *op, json_t *fields, json_t **result, int timeout_ms,
		struct ctl_client_err *err)
{
	int64_t id;
	int rc;

	*result = NULL;
	rc = ctl_client_send(c, op, fields, &id, err);
	if (rc)
		return rc;
	for (;;) {
		json_t *m = NULL, *jid, *e;
		rc = ctl_client_next(c, &m, timeout_ms, err);
		if (rc)
			return rc;
		jid = json_object_get(m, "id");
		if (json_object_get(m, "event") || !jid) {
			json_decref(m);
			continue;
		}
		/* A refusal on connect (denied, busy) carries a null id. */
		if (!json_is_null(jid) && (!json_is_integer(jid) || json_integer_value(jid) != id)) {
			json_decref(m);
			continue;
		}
		if (json_is_true(json_object_get(m, "ok"))) {
			*result = json_incref(json_object_get(m, "result"));
			json_decref(m);
			return 0;
		}
		e = json_object_get(m, "error");
		rc = fail(err, CTL_CLIENT_EREMOTE, "%s", json_string_value(json_object_get(e, "message")) ?
			  json_string_value(json_object_get(e, "message")) : "error");
		if (err)
			snprintf(err->remote_code, sizeof(err->remote_code), "%s",
				 json_string_value(json_object_get(e, "code")) ? json_string_value(json_object_get(e, "code")) : "");
		json_decref(m);
		return rc;
	}
}
