/* epoll event loop. See loop.h. */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct loop_source {
	int fd;
	int dead;
	loop_cb cb;
	void *ctx;
	struct loop_source *next;
};

struct loop {
	int epfd;
	int quit;
	int dispatching;
	struct loop_source *sources;
};

int loop_new(struct loop **out)
{
	struct loop *l;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		return -e;
	}
	*out = l;
	return 0;
}

static void reap(struct loop *l)
{
	struct loop_source **pp = &l->sources;

	while (*pp) {
		struct loop_source *s = *pp;
		if (s->dead) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (struct loop_source *s = l->sources; s; s = s->next)
		s->dead = 1;
	reap(l);
	close(l->epfd);
	free(l);
}

static struct loop_source *find(struct loop *l, int fd)
{
	for (struct loop_source *s = l->sources; s; s = s->next)
		if (s->fd == fd && !s->dead)
			return s;
	return NULL;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *ctx)
{
	struct loop_source *s;
	struct epoll_event ev = {0};

	if (find(l, fd))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->cb = cb;
	s->ctx = ctx;
	ev.events = events;
	ev.data.ptr = s;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(s);
		return -e;
	}
	s->next = l->sources;
	l->sources = s;
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	struct loop_source *s = find(l, fd);
	struct epoll_event ev = {0};

	if (!s)
		return -ENOENT;
	ev.events = events;
	ev.data.ptr = s;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, int fd)
{
	struct loop_source *s = find(l, fd);

	if (!s)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->dead = 1;
	if (!l->dispatching)
		reap(l);
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	int n, ran = 0;

	n = epoll_wait(l->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching = 1;
	for (int i = 0; i < n; i++) {
		struct loop_source *s = evs[i].data.ptr;
		/* A source deleted by an earlier callback of this batch is skipped:
		 * its fd number may already belong to someone else. */
		if (s->dead)
			continue;
		s->cb(s->ctx, s->fd, evs[i].events);
		ran++;
	}
	l->dispatching = 0;
	reap(l);
	return ran;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int rc = loop_run_once(l, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void loop_quit(struct loop *l)
{
	l->quit = 1;
}

int loop_quitting(const struct loop *l)
{
	return l->quit;
}
