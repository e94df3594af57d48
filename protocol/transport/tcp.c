/* Raw TCP: socket://HOST:PORT, the form esptool and ser2net use. There are
 * no modem lines and no baud rate on the host side (the far end owns the
 * UART), so set_lines is unsupported and set_baud only records the rate. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
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

/* A host name is resolved by getaddrinfo() in a helper thread, so the
 * port's deadline and port_cancel() bound the wait: a resolver that never
 * answers would otherwise hold the caller (a daemon worker at shutdown) for
 * as long as resolv.conf's timeouts add up to. The job is shared by the
 * two threads and freed by whichever lets go of it last. */
struct resolve_job {
	pthread_mutex_t m;
	pthread_cond_t c;
	int refs, done, rc;
	struct addrinfo *res;
	char host[200], service[32];
};

static void job_put(struct resolve_job *j)
{
	int last;

	pthread_mutex_lock(&j->m);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->m);
	if (!last)
		return;
	if (j->res)
		freeaddrinfo(j->res);
	pthread_cond_destroy(&j->c);
	pthread_mutex_destroy(&j->m);
	free(j);
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(j->host, j->service, &hints, &res);

	pthread_mutex_lock(&j->m);
	j->rc = rc;
	j->res = res;
	j->done = 1;
	pthread_cond_signal(&j->c);
	pthread_mutex_unlock(&j->m);
	job_put(j);
	return NULL;
}

static int resolve(struct fdport *f, uint64_t deadline_ms, struct addrinfo **out, char *msg, size_t msgsz)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct resolve_job *j;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t t;
	int rc, started;

	*out = NULL;
	/* An address needs no resolver. */
	rc = getaddrinfo(f->host, f->service, &hints, out);
	if (rc != EAI_NONAME)
		goto out;
	j = calloc(1, sizeof(*j));
	if (!j) {
		rc = EAI_MEMORY;
		goto out;
	}
	pthread_mutex_init(&j->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->c, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(j->host, sizeof(j->host), "%s", f->host);
	snprintf(j->service, sizeof(j->service), "%s", f->service);
	j->refs = 2;
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&t, &ta, resolve_thread, j) == 0;
	pthread_attr_destroy(&ta);
	if (!started)
		resolve_thread(j); /* no thread to spare: wait in this one (it drops its share) */
	rc = 0;
	pthread_mutex_lock(&j->m);
	while (!j->done && !f->base.cancelled && fdport_now_ms() < deadline_ms) {
		/* Short waits: port_cancel() only sets a flag and an eventfd. */
		uint64_t left = deadline_ms - fdport_now_ms();
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(left < 50 ? left : 50) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j->c, &j->m, &ts);
	}
	if (j->done) {
		rc = j->rc;
		*out = j->res;
		j->res = NULL;
	}
	pthread_mutex_unlock(&j->m);
	job_put(j);
	if (*out || rc)
		goto out;
	if (f->base.cancelled)
		return PORT_ECANCELED;
	if (msg)
		snprintf(msg, msgsz, "%s: cannot resolve '%s': no answer before the deadline", f->base.name, f->host);
	return PORT_ENODEV;
out:
	if (rc) {
		if (msg)
			snprintf(msg, msgsz, "%s: cannot resolve: %s", f->base.name, gai_strerror(rc));
		return PORT_ENODEV;
	}
	return PORT_OK;
}

static int tcp_connect(struct fdport *f, uint64_t deadline_ms, char *msg, size_t msgsz)
{
	struct addrinfo *res = NULL, *ai;
	int err = 0, rc;

	rc = resolve(f, deadline_ms, &res, msg, msgsz);
	if (rc)
		return rc;
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
