/* The main thread's event loop: a thin epoll wrapper.
 *
 * Every fd the main thread waits on (control socket and clients, signalfd,
 * timerfd, the workers' eventfd) is a source with a callback. Sources may be
 * removed from inside callbacks; their memory is reclaimed after dispatch.
 */
#ifndef ESPFABD_LOOP_H
#define ESPFABD_LOOP_H

#include <stdint.h>

struct loop;

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as delivered. */
typedef void (*loop_cb)(void *ctx, int fd, uint32_t events);

/* On success *out is owned by the caller (loop_free). Returns 0 or -errno. */
int loop_new(struct loop **out);
/* Closes nothing but its own epoll fd: sources' fds belong to their owners. */
void loop_free(struct loop *l);

int loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *ctx);
int loop_mod(struct loop *l, int fd, uint32_t events);
void loop_del(struct loop *l, int fd);

/* Wait up to timeout_ms (-1: forever) and dispatch. Returns the number of
 * callbacks run, or -errno. */
int loop_run_once(struct loop *l, int timeout_ms);
/* Until loop_quit(). */
int loop_run(struct loop *l);
void loop_quit(struct loop *l);
int loop_quitting(const struct loop *l);

#endif
