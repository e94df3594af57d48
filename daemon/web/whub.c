/* See whub.h. */
#include "whub.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct whub {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **ring;
	size_t cap;
	uint64_t seq; /* the next message's number; ring[seq % cap] */
	int closed;
	whub_render render;
	void *ctx;
};

int whub_new(size_t capacity, whub_render render, void *ctx, struct whub **out)
{
	struct whub *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	*out = NULL;
	if (!h || !capacity)
		goto fail;
	h->ring = calloc(capacity, sizeof(*h->ring));
	if (!h->ring)
		goto fail;
	h->cap = capacity;
	h->render = render;
	h->ctx = ctx;
	pthread_mutex_init(&h->mu, NULL);
	/* Waits are timed on the monotonic clock: a wall clock step must not
	 * stall or spin the streams. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = h;
	return WHUB_OK;
fail:
	if (h)
		free(h->ring);
	free(h);
	return WHUB_ENOMEM;
}

void whub_free(struct whub *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->cap; i++)
		free(h->ring[i]);
	free(h->ring);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void whub_lock(struct whub *h)
{
	pthread_mutex_lock(&h->mu);
}

void whub_unlock(struct whub *h)
{
	pthread_mutex_unlock(&h->mu);
}

char *whub_sse(const char *type, json_t *data)
{
	/* Compact JSON has no newline, so one data: line carries it. */
	char *js = json_dumps(data, JSON_COMPACT), *out = NULL;

	if (!js)
		return NULL;
	if (asprintf(&out, "event: %s\ndata: %s\n\n", type, js) < 0)
		out = NULL;
	free(js);
	return out;
}

int whub_publish_locked(struct whub *h, json_t *changes)
{
	json_t *c;
	size_t i;
	int rc = WHUB_OK;

	json_array_foreach(changes, i, c)
	{
		const char *type = json_string_value(json_object_get(c, "type"));
		char *msg = type ? whub_sse(type, json_object_get(c, "data")) : NULL;
		size_t slot = (size_t)(h->seq % h->cap);
		if (!msg) {
			rc = WHUB_ENOMEM;
			continue;
		}
		free(h->ring[slot]);
		h->ring[slot] = msg;
		h->seq++;
	}
	pthread_cond_broadcast(&h->cv);
	return rc;
}

int whub_start(struct whub *h, uint64_t *cursor, char **text)
{
	json_t *st;
	int rc = WHUB_OK;

	*text = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->closed) {
		rc = WHUB_ECLOSED;
		goto out;
	}
	st = h->render(h->ctx);
	*text = st ? whub_sse("state", st) : NULL;
	json_decref(st);
	if (!*text) {
		rc = WHUB_ENOMEM;
		goto out;
	}
	*cursor = h->seq;
out:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

json_t *whub_snapshot(struct whub *h)
{
	json_t *st;

	pthread_mutex_lock(&h->mu);
	st = h->render(h->ctx);
	pthread_mutex_unlock(&h->mu);
	return st;
}

int whub_next(struct whub *h, uint64_t *cursor, char **text, int timeout_ms)
{
	struct timespec dl;
	int rc = WHUB_OK;

	*text = NULL;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	while (!h->closed && *cursor == h->seq) {
		if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
			break;
	}
	if (h->closed) {
		rc = WHUB_ECLOSED;
	} else if (*cursor == h->seq) {
		rc = WHUB_ETIMEDOUT;
	} else if (h->seq - *cursor > h->cap || *cursor > h->seq) {
		rc = WHUB_EBEHIND;
	} else {
		*text = strdup(h->ring[*cursor % h->cap]);
		if (*text)
			(*cursor)++;
		else
			rc = WHUB_ENOMEM;
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void whub_close(struct whub *h)
{
	pthread_mutex_lock(&h->mu);
	h->closed = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}
