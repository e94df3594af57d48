/* Results waiting for the store: when the database cannot take a device's
 * result (a PostgreSQL server unreachable or restarting), the station keeps
 * it here, in the order the devices finished, and delivers it when the
 * store answers again (station.c). In memory only: if the daemon itself
 * dies meanwhile, startup recovery marks those jobs interrupted and their
 * records stay bound to their devices (nothing is handed out twice, the
 * "verified" mark is what is lost).
 * Main thread only. */
#ifndef ESPFABD_OUTBOX_H
#define ESPFABD_OUTBOX_H

#include <stddef.h>

#include "config.h"
#include "jobq.h"

#define OUTBOX_MAX 4096 /* far above what the ports can have in flight */

struct outbox_item {
	struct jobq_msg m; /* data and fw are never kept */
	char port[CONFIG_NAME_MAX];
};

struct outbox;

/* *out is the caller's (outbox_free). 0 or -ENOMEM. */
int outbox_new(struct outbox **out);
void outbox_free(struct outbox *o);
/* Copies m (without its data and fw) to the back, or to the front (a
 * result that was delivered in a transaction that then failed goes before
 * the ones that came after it). 0, or -ENOSPC when OUTBOX_MAX are held. */
int outbox_push(struct outbox *o, const struct jobq_msg *m, const char *port);
int outbox_push_front(struct outbox *o, const struct jobq_msg *m, const char *port);
/* The oldest item, or NULL; valid until the next push or pop. */
const struct outbox_item *outbox_peek(const struct outbox *o);
void outbox_pop(struct outbox *o);
size_t outbox_len(const struct outbox *o);

#endif
