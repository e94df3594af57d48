/* Results waiting for the store: when the database cannot take a device's
 * result (a PostgreSQL server unreachable or restarting), the station keeps
 * it here, in the order the devices finished, and delivers it when the
 * store answers again (station.c).
 *
 * With a journal file (the `outbox` setting) every held result is also
 * appended to that file and fsync'ed before outbox_push returns, and its
 * "delivered" mark after the server committed it (outbox_pop): an espfabd
 * killed during an outage finds its held results there at the next start
 * and delivers them before startup recovery settles its open jobs. The
 * format is in outbox_journal.h. A torn or damaged tail is reported with
 * file:offset and its bytes are kept in FILE.damaged, never dropped
 * silently. Each held result keeps its delivery id (outbox_delivery_new)
 * in the journal, so its repeat after a crash is recognised by the store.
 * Without a journal (SQLite, which is never unreachable) held results live
 * in memory only.
 * Main thread only. */
#ifndef ESPFABD_OUTBOX_H
#define ESPFABD_OUTBOX_H

#include <stddef.h>

#include "outbox_journal.h"

#define OUTBOX_MAX 4096 /* far above what the ports can have in flight */

struct outbox;

struct outbox_err {
	int damaged;   /* outbox_open returned 0 but the journal had a bad tail: msg says where */
	char msg[640]; /* one line */
};

/* path: the journal file, or NULL for memory only. Takes an exclusive lock
 * on it (a second espfabd on the same file is refused), loads the results
 * it holds (in order) and rewrites it compacted. *out is the caller's
 * (outbox_free). 0 (see err->damaged), -EBUSY (locked by another process),
 * -EIO or -ENOMEM with err->msg naming the file. */
int outbox_open(struct outbox **out, const char *path, struct outbox_err *err);
void outbox_free(struct outbox *o);
/* Copies m (without its data and fw) to the back, or to the front with
 * front = 1 (a result that was delivered in a transaction that then failed
 * goes before the ones that came after it). delivery: the result's id if
 * it was handed to the store before (outbox_delivery_new), else NULL for a
 * new one. 0; -ENOSPC when OUTBOX_MAX are held (not held); -EIO when it is
 * held in memory but the journal could not record it (err->msg says why;
 * it is lost if espfabd dies too). */
int outbox_push(struct outbox *o, const struct jobq_msg *m, const char *port, const char *delivery, int front,
		struct outbox_err *err);
/* EXACTLY ONCE. A new delivery id for a device result into out
 * (OUTBOX_DELIVERY_LEN + 1 bytes): 128 bits from getrandom(2), hex. The
 * store keeps it with the result's audit row and stores a result it sees
 * again under it only once, so a result whose "delivered" mark a crash
 * kept from the journal is not stored twice when it is sent again.
 * Random rather than station + boot + counter: stations share one
 * PostgreSQL inventory and none needs a persistent counter or a name
 * unique across the plant; a collision (2^-64 after 2^32 results) would be
 * refused (STORE_EINPUT), never merged. 0, or -EIO ("" in out). */
int outbox_delivery_new(char *out);
/* The oldest item, or NULL; valid until the next push or pop. */
const struct outbox_item *outbox_peek(const struct outbox *o);
/* The oldest item was committed by the store: forget it. 0, or -EIO when
 * the journal could not record that (it is gone from memory anyway; after
 * a restart the store refuses it again as already stored). */
int outbox_pop(struct outbox *o, struct outbox_err *err);
size_t outbox_len(const struct outbox *o);
/* The journal file, or NULL. */
const char *outbox_path(const struct outbox *o);

#endif
