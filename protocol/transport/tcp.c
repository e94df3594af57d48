/* Raw TCP: socket://HOST:PORT, the form esptool and ser2net use. There are
 * no modem lines and no baud rate on the host side (the far end owns the
 * UART), so set_lines is unsupported and set_baud only records the rate. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

#define TCP_CONNECT_MS 5000

static struct fdport *F(struct port *p)
{
	return (struct fdport *)p;
}

static int tcp_read(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms)
{
	return fdport_read_fd(F(p), buf, len, got, deadline_ms);
}

static int tcp_write(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	return fdport_write_fd(F(p), buf, len, deadline_ms);
}

static int tcp_set_baud(struct port *p, uint32_t baud)
{
	p->baud = baud;
	return PORT_OK;
}

static int tcp_set_lines(struct port *p, int dtr, int rts)
{
	(void)p;
	(void)dtr;
	(void)rts;
	return PORT_EINVAL;
}

static int tcp_flush_input(struct port *p)
{
	struct fdport *f = F(p);
	uint8_t junk[512];
	int queued = 0;
	size_t left;

	/* Drop what is queued now, no more: a peer that streams faster than
	 * we drain (ser2net at 3 Mbaud, a simulator without timing) must not
	 * keep this call, which has no deadline, running. */
	if (ioctl(f->fd, FIONREAD, &queued) < 0 || queued < 0)
		queued = 0;
	left = (size_t)queued;
	for (;;) {
		size_t want = left && left < sizeof(junk) ? left : sizeof(junk);
		ssize_t n = recv(f->fd, junk, want, MSG_DONTWAIT);
		if (n > 0) {
			if (left <= (size_t)n)
				return PORT_OK;
			left -= (size_t)n;
			continue;
		}
		if (n == 0)
			return PORT_ENODEV;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return PORT_OK;
		if (errno == EINTR)
			continue;
		p->last_errno = errno;
		return PORT_EIO;
	}
}

static int tcp_connect(struct fdport *f, uint64_t deadline_ms, char *msg, size_t msgsz)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL, *ai;
	int err = 0, rc;

	rc = getaddrinfo(f->host, f->service, &hints, &res);
	if (rc) {
		if (msg)
			snprintf(msg, msgsz, "%s: cannot resolve: %s", f->base.name, gai_strerror(rc));
		return PORT_ENODEV;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		int one = 1;

		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			err = errno;
			close(fd);
			continue;
		}
		f->fd = fd;
		rc = fdport_wait(f, POLLOUT, deadline_ms);
		if (rc == PORT_OK) {
			socklen_t sl = sizeof(err);
			err = 0;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
			if (!err)
				break;
		} else if (rc == PORT_ECANCELED) {
			close(fd);
			f->fd = -1;
			freeaddrinfo(res);
			return rc;
		} else {
			err = ETIMEDOUT;
		}
		close(fd);
		f->fd = -1;
	}
	freeaddrinfo(res);
	if (f->fd < 0) {
		f->base.last_errno = err;
		if (msg)
			snprintf(msg, msgsz, "%s: cannot connect: %s", f->base.name, strerror(err ? err : ECONNREFUSED));
		return PORT_ENODEV;
	}
	return PORT_OK;
}

static int tcp_reattach(struct fdport *f, uint64_t deadline_ms)
{
	return tcp_connect(f, deadline_ms, NULL, 0);
}

static int tcp_reopen(struct port *p, uint64_t deadline_ms)
{
	return fdport_reattach(F(p), tcp_reattach, deadline_ms);
}

static const struct port_ops tcp_ops = {
	.read = tcp_read,
	.write = tcp_write,
	.set_baud = tcp_set_baud,
	.set_lines = tcp_set_lines,
	.flush_input = tcp_flush_input,
	.reopen = tcp_reopen,
	.sleep_ms = fdport_sleep_ms,
	.now_ms = fdport_now,
	.close = fdport_close,
};

int tcpport_open(const char *hostport, uint32_t baud, struct port **out, char *msg, size_t msgsz)
{
	struct fdport *f;
	const char *colon;
	size_t hl;
	int e;

	*out = NULL;
	colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || !colon[1] || strlen(colon + 1) >= sizeof(f->service)) {
		if (msg)
			snprintf(msg, msgsz, "socket://%s: expected socket://HOST:PORT", hostport);
		return PORT_EINVAL;
	}
	hl = (size_t)(colon - hostport);
	f = fdport_new(FDPORT_TCP, &tcp_ops, "socket://", baud, msg, msgsz);
	if (!f)
		return PORT_EIO;
	/* [v6addr]:port */
	if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
		hostport++;
		hl -= 2;
	}
	if (hl >= sizeof(f->host)) {
		fdport_close(&f->base);
		if (msg)
			snprintf(msg, msgsz, "socket://%s: host name too long", hostport);
		return PORT_EINVAL;
	}
	memcpy(f->host, hostport, hl);
	f->host[hl] = '\0';
	snprintf(f->service, sizeof(f->service), "%s", colon + 1);
	snprintf(f->base.name, sizeof(f->base.name), "socket://%s:%s", f->host, f->service);
	e = tcp_connect(f, fdport_now_ms() + TCP_CONNECT_MS, msg, msgsz);
	if (e) {
		fdport_close(&f->base);
		return e;
	}
	*out = &f->base;
	return PORT_OK;
}
