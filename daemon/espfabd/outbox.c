/* A ring of results waiting for the store. See outbox.h. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct outbox {
	struct outbox_item *items;
	size_t cap, head, len;
};

int outbox_new(struct outbox **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void outbox_free(struct outbox *o)
{
	if (!o)
		return;
	free(o->items);
	free(o);
}

static int grow(struct outbox *o)
{
	if (o->len < o->cap)
		return 0;
	if (o->cap >= OUTBOX_MAX)
		return -ENOSPC;
	size_t ncap = o->cap ? o->cap * 2 : 16;
	struct outbox_item *n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < o->len; i++)
		n[i] = o->items[(o->head + i) % o->cap];
	free(o->items);
	o->items = n;
	o->cap = ncap;
	o->head = 0;
	return 0;
}

static void fill(struct outbox_item *it, const struct jobq_msg *m, const char *port)
{
	it->m = *m;
	it->m.data = NULL;
	it->m.len = 0;
	it->m.fw = NULL;
	snprintf(it->port, sizeof(it->port), "%s", port ? port : "");
}

int outbox_push(struct outbox *o, const struct jobq_msg *m, const char *port)
{
	int rc = grow(o);
	if (rc)
		return rc;
	fill(&o->items[(o->head + o->len) % o->cap], m, port);
	o->len++;
	return 0;
}

int outbox_push_front(struct outbox *o, const struct jobq_msg *m, const char *port)
{
	int rc = grow(o);
	if (rc)
		return rc;
	o->head = (o->head + o->cap - 1) % o->cap;
	fill(&o->items[o->head], m, port);
	o->len++;
	return 0;
}

const struct outbox_item *outbox_peek(const struct outbox *o)
{
	return o->len ? &o->items[o->head] : NULL;
}

void outbox_pop(struct outbox *o)
{
	if (!o->len)
		return;
	o->head = (o->head + 1) % o->cap;
	o->len--;
}

size_t outbox_len(const struct outbox *o)
{
	return o->len;
}
