/* The control socket. See control.h. */
#include "espfab/err.h"
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct control_client {
	struct control *ctl;
	int fd;
	int subscribed;
	int closing; /* flush what is queued, then disconnect */
	int refused; /* denied/busy: one reply, then our side shut; input discarded until EOF */
	int shut;
	uid_t uid;
	pid_t pid;
	char *in;
	size_t inlen;
	char *out;
	size_t outlen, outcap, outoff;
	struct control_client *next;
};

struct control {
	struct loop *loop;
	int fd;
	int bound; /* we created the path: unlink it at the end */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t gid;
	int have_group;
	unsigned max_clients;
	size_t nclients;
	control_handler handler;
	void *ctx;
	struct control_client *clients;
};

ERR_DEFINE_FAIL(static, fail, control_err)

int control_peer_allowed(uid_t peer_uid, gid_t peer_gid, const gid_t *groups, size_t ngroups, uid_t self_uid,
			 gid_t allowed_gid, int have_group)
{
	if (peer_uid == 0 || peer_uid == self_uid)
		return 1;
	if (!have_group)
		return 0;
	if (peer_gid == allowed_gid)
		return 1;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == allowed_gid)
			return 1;
	return 0;
}

static void client_update_events(struct control_client *cl)
{
	uint32_t ev = EPOLLIN | EPOLLRDHUP;

	/* A closing client waits for EPOLLOUT even with nothing queued, so the
	 * callback runs once more and frees it. */
	if (cl->closing)
		ev = EPOLLOUT;
	if (cl->outlen > cl->outoff)
		ev |= EPOLLOUT;
	loop_mod(cl->ctl->loop, cl->fd, ev);
}

static void client_free(struct control_client *cl)
{
	struct control *c = cl->ctl;
	struct control_client **pp;

	for (pp = &c->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	if (!cl->refused)
		c->nclients--;
	loop_del(c->loop, cl->fd);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	free(cl);
}

/* Write what we can without blocking; 0 ok, -1 the client is gone. */
static int client_flush(struct control_client *cl)
{
	while (cl->outoff < cl->outlen) {
		ssize_t n = send(cl->fd, cl->out + cl->outoff, cl->outlen - cl->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		cl->outoff += (size_t)n;
	}
	if (cl->outoff == cl->outlen)
		cl->outoff = cl->outlen = 0;
	return 0;
}

void control_send(struct control_client *cl, const char *line)
{
	size_t n;

	if (!line || cl->closing || cl->shut)
		return;
	n = strlen(line);
	if (cl->outlen + n > CONTROL_MAX_OUTQ) {
		/* A subscriber that stopped reading must not grow us without bound. */
		log_warn("control: client pid %d stopped reading; disconnecting", (int)cl->pid);
		cl->closing = 1;
		cl->outlen = cl->outoff = 0;
		client_update_events(cl);
		return;
	}
	if (cl->outlen + n > cl->outcap) {
		size_t cap = cl->outcap ? cl->outcap : 4096;
		char *p;
		while (cap < cl->outlen + n)
			cap *= 2;
		p = realloc(cl->out, cap);
		if (!p) {
			cl->closing = 1;
			return;
		}
		cl->out = p;
		cl->outcap = cap;
	}
	memcpy(cl->out + cl->outlen, line, n);
	cl->outlen += n;
	client_update_events(cl);
}

void control_reply(struct control_client *cl, json_t *id, json_t *result)
{
	char *line = ctl_reply_ok(id, result);

	control_send(cl, line);
	free(line);
}

void control_reply_error(struct control_client *cl, json_t *id, const char *code, const char *message)
{
	char *line = ctl_reply_error(id, code, message);

	control_send(cl, line);
	free(line);
}

/* Send one error line, then shut our side; the client can still write its
 * request and read the reason (closing at once would make its write fail
 * before it reads anything). Nothing it sends is looked at. */
static void client_refuse(struct control_client *cl, const char *code, const char *message)
{
	control_reply_error(cl, NULL, code, message);
	cl->refused = 1;
	cl->ctl->nclients--; /* a refused client holds no slot */
	client_update_events(cl);
}

void control_subscribe(struct control_client *cl, int on)
{
	cl->subscribed = on;
}

uid_t control_client_uid(const struct control_client *cl)
{
	return cl->uid;
}

size_t control_nclients(const struct control *c)
{
	return c->nclients;
}

void control_broadcast(struct control *c, json_t *event)
{
	char *line = ctl_event_line(event);

	if (!line)
		return;
	for (struct control_client *cl = c->clients; cl; cl = cl->next)
		if (cl->subscribed && !cl->refused)
			control_send(cl, line);
	free(line);
}

static void handle_line(struct control_client *cl, const char *line, size_t len)
{
	struct ctl_request req;
	struct ctl_err perr = {0};
	int rc;

	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return;
	rc = ctl_parse_request(line, len, &req, &perr);
	if (rc) {
		control_reply_error(cl, req.id, ctl_error_code(rc), perr.msg);
		log_debug("control: pid %d sent a bad request: %s", (int)cl->pid, perr.msg);
	} else if (req.op == CTL_OP_SUBSCRIBE || req.op == CTL_OP_UNSUBSCRIBE) {
		cl->subscribed = req.op == CTL_OP_SUBSCRIBE;
		control_reply(cl, req.id, json_pack("{s:b}", "subscribed", cl->subscribed));
		/* The handler sees subscribe too so it can send a snapshot. */
		if (cl->subscribed && cl->ctl->handler)
			cl->ctl->handler(cl->ctl->ctx, cl, &req);
	} else if (cl->ctl->handler) {
		cl->ctl->handler(cl->ctl->ctx, cl, &req);
	}
	ctl_request_deinit(&req);
}

static void client_read(struct control_client *cl)
{
	if (cl->refused) {
		char sink[4096];
		ssize_t n;
		while ((n = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
			;
		/* EOF: the reason may still be queued (the client wrote and shut
		 * its side before we accepted): flush it, then close. */
		if (n == 0) {
			cl->closing = 1;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			cl->closing = 1;
			cl->outlen = cl->outoff = 0;
		}
		return;
	}
	for (;;) {
		ssize_t n;
		size_t start = 0;

		n = recv(cl->fd, cl->in + cl->inlen, CTL_MAX_LINE + 1 - cl->inlen, MSG_DONTWAIT);
		if (n == 0) {
			/* The peer finished sending (it may still read: socat, or
			 * `printf ... | nc -U`): answer what it sent, then close. */
			cl->closing = 1;
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				cl->closing = 1;
				cl->outlen = cl->outoff = 0;
			}
			return;
		}
		cl->inlen += (size_t)n;
		for (size_t i = 0; i < cl->inlen && !cl->closing; i++) {
			if (cl->in[i] != '\n')
				continue;
			handle_line(cl, cl->in + start, i - start);
			start = i + 1;
		}
		if (cl->closing)
			return;
		memmove(cl->in, cl->in + start, cl->inlen - start);
		cl->inlen -= start;
		if (cl->inlen > CTL_MAX_LINE) {
			log_warn("control: pid %d sent a line over %d bytes; disconnecting", (int)cl->pid,
				 CTL_MAX_LINE);
			client_refuse(cl, "too_long", "request line longer than 65536 bytes");
			return;
		}
	}
}

static void client_cb(void *ctx, int fd, uint32_t events)
{
	struct control_client *cl = ctx;

	(void)fd;
	if ((events & EPOLLIN) && !cl->closing)
		client_read(cl);
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		client_free(cl);
		return;
	}
	if (client_flush(cl) < 0 || (cl->closing && cl->outlen == 0)) {
		client_free(cl);
		return;
	}
	if (cl->refused && !cl->shut && cl->outlen == 0) {
		shutdown(cl->fd, SHUT_WR);
		cl->shut = 1;
	}
	client_update_events(cl);
}

static int peer_groups(int fd, gid_t *groups, size_t cap, size_t *n)
{
	socklen_t len = (socklen_t)(cap * sizeof(gid_t));

	*n = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return -1;
	*n = len / sizeof(gid_t);
	return 0;
}

int control_adopt(struct control *c, int fd)
{
	struct control_client *cl = NULL;
	struct ucred cred = {0};
	socklen_t clen = sizeof(cred);
	gid_t groups[256];
	size_t ngroups = 0;
	int allowed;

	cl = calloc(1, sizeof(*cl));
	if (cl)
		cl->in = malloc(CTL_MAX_LINE + 1);
	if (!cl || !cl->in) {
		if (cl)
			free(cl);
		close(fd);
		return -ENOMEM;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	cl->ctl = c;
	cl->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		cred.uid = (uid_t)-1;
		cred.gid = (gid_t)-1;
	}
	peer_groups(fd, groups, 256, &ngroups);
	cl->uid = cred.uid;
	cl->pid = cred.pid;
	cl->next = c->clients;
	c->clients = cl;
	c->nclients++;
	if (loop_add(c->loop, fd, EPOLLIN | EPOLLRDHUP, client_cb, cl) < 0) {
		c->clients = cl->next;
		c->nclients--;
		close(fd);
		free(cl->in);
		free(cl);
		return -ENOMEM;
	}
	allowed = control_peer_allowed(cred.uid, cred.gid, groups, ngroups, geteuid(), c->gid, c->have_group);
	if (!allowed) {
		log_warn("control: refused uid %d pid %d (not root, not the daemon's user, not in group %s)",
			 (int)cred.uid, (int)cred.pid, c->have_group ? "espfab" : "(none)");
		client_refuse(cl, "denied", "permission denied: not root, the daemon's user or the control group");
	} else if (c->nclients > c->max_clients) {
		log_warn("control: refused pid %d: %u clients already", (int)cred.pid, c->max_clients);
		client_refuse(cl, "busy", "too many clients");
	}
	return 0;
}

static void listen_cb(void *ctx, int fd, uint32_t events)
{
	struct control *c = ctx;

	(void)events;
	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0)
			return;
		control_adopt(c, cfd);
	}
}

/* OpenSMTPD's rule: never steal a live daemon's socket. A path that refuses
 * connections is a leftover of a crash and is replaced. */
static int check_live(const char *path, struct control_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, CONTROL_ESYS, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		rc = fail(err, CONTROL_EBUSY, "%s: another espfabd is already listening there", path);
	else if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	return rc;
}

int control_new(struct loop *loop, const struct control_opts *o, struct control **out, struct control_err *err)
{
	struct control *c = NULL;
	struct group *gr;
	int rc = 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, CONTROL_ESYS, "out of memory");
	c->fd = -1;
	c->loop = loop;
	c->max_clients = o->max_clients ? o->max_clients : 32;
	c->handler = o->handler;
	c->ctx = o->ctx;
	if (o->group && (gr = getgrnam(o->group))) {
		c->gid = gr->gr_gid;
		c->have_group = 1;
	}
	if (o->listen_fd >= 0) {
		c->fd = o->listen_fd;
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	} else {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		mode_t old;
		if (!o->path || strlen(o->path) >= sizeof(sa.sun_path)) {
			rc = fail(err, CONTROL_EARG, "socket path missing or longer than %zu bytes",
				  sizeof(sa.sun_path) - 1);
			goto out;
		}
		rc = check_live(o->path, err);
		if (rc)
			goto out;
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (c->fd < 0) {
			rc = fail(err, CONTROL_ESYS, "socket: %s", strerror(errno));
			goto out;
		}
		memcpy(sa.sun_path, o->path, strlen(o->path) + 1);
		/* Created 0660 from the start: no window where others could connect. */
		old = umask(0117);
		if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			umask(old);
			rc = fail(err, CONTROL_ESYS, "%s: bind: %s", o->path, strerror(errno));
			goto out;
		}
		umask(old);
		c->bound = 1;
		snprintf(c->path, sizeof(c->path), "%s", o->path);
		if (c->have_group && chown(o->path, (uid_t)-1, c->gid) < 0)
			log_warn("control: cannot give %s to group %s: %s", o->path, o->group, strerror(errno));
		if (listen(c->fd, 16) < 0) {
			rc = fail(err, CONTROL_ESYS, "%s: listen: %s", o->path, strerror(errno));
			goto out;
		}
	}
	if (loop_add(loop, c->fd, EPOLLIN, listen_cb, c) < 0) {
		rc = fail(err, CONTROL_ESYS, "cannot watch the control socket");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	control_free(c);
	return rc;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients) {
		client_flush(c->clients);
		client_free(c->clients);
	}
	if (c->fd >= 0) {
		loop_del(c->loop, c->fd);
		close(c->fd);
	}
	if (c->bound)
		unlink(c->path);
	free(c);
}
