/* See jobq.h. */
#include "jobq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

struct jobq_node {
	struct jobq_msg m;
	struct jobq_node *next;
};

struct jobq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobq_node *head, *tail;
	int efd;
};

int jobq_new(struct jobq **out, int with_fd)
{
	struct jobq *q;
	pthread_condattr_t ca;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->efd = -1;
	if (with_fd) {
		q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->efd < 0) {
			int e = errno;
			free(q);
			return -e;
		}
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
}

void jobq_msg_clear(struct jobq_msg *m)
{
	if (m->data) {
		OPENSSL_cleanse(m->data, m->len);
		free(m->data);
	}
	m->data = NULL;
	m->len = 0;
	fwimg_set_unref(m->fw);
	m->fw = NULL;
}

void jobq_free(struct jobq *q)
{
	if (!q)
		return;
	while (q->head) {
		struct jobq_node *n = q->head;
		q->head = n->next;
		jobq_msg_clear(&n->m);
		free(n);
	}
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

int jobq_push(struct jobq *q, struct jobq_msg *m)
{
	struct jobq_node *n = malloc(sizeof(*n));

	if (!n) {
		jobq_msg_clear(m);
		return -ENOMEM;
	}
	n->m = *m;
	n->next = NULL;
	m->data = NULL;
	m->len = 0;
	m->fw = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	if (q->efd >= 0) {
		uint64_t one = 1;
		(void)!write(q->efd, &one, sizeof(one));
	}
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int jobq_pop(struct jobq *q, struct jobq_msg *m, int timeout_ms)
{
	struct timespec dl;
	struct jobq_node *n;
	int rc = 0;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&q->lock);
	while (!q->head && rc == 0) {
		if (timeout_ms == 0)
			rc = ETIMEDOUT;
		else if (timeout_ms < 0)
			pthread_cond_wait(&q->cond, &q->lock);
		else
			rc = pthread_cond_timedwait(&q->cond, &q->lock, &dl);
	}
	if (!q->head) {
		pthread_mutex_unlock(&q->lock);
		return -ETIMEDOUT;
	}
	n = q->head;
	q->head = n->next;
	if (!q->head) {
		q->tail = NULL;
		if (q->efd >= 0) {
			uint64_t v;
			(void)!read(q->efd, &v, sizeof(v));
		}
	}
	pthread_mutex_unlock(&q->lock);
	*m = n->m;
	free(n);
	return 0;
}

int jobq_fd(const struct jobq *q)
{
	return q->efd;
}
