/* The bytes of the outbox's journal file (outbox.h): results held while the
 * database is unreachable, written to the station's disk so that an espfabd
 * that dies during an outage still delivers them after its restart.
 *
 * Layout (all integers little-endian):
 *   file   = "EFOBXJ3\n" frame*
 *   frame  = u32 body_len, u32 crc32(body), body
 *   body   = u8 type, i64 key, [delivery, item]   type 1 = held (with item),
 *                                           type 2 = delivered (key only)
 *   delivery = u16 len, bytes: the result's delivery id, 32 lower-case hex
 *            digits (len 32), or none yet (len 0; it gets one at load)
 *   item   = i32 rc, u8 sent, i64 batch_id, i64 job_id, u32 baud,
 *            u32 retries, u32 duration_ms, u32 ident, i64 ident_product,
 *            7 x (u16 len, bytes): mac, chip, record, digest, image_sha256,
 *            text, port                    (len below the field's size, no NUL),
 *            u32 hmac                      (jobq_result's HMAC NVS encryption
 *                                           bits: delivered later, the result
 *                                           still finishes the device's key row)
 * key orders the held results (smaller first); a "delivered" frame names the
 * key of a held one the server committed. Frames are appended and fsync'ed,
 * so a crash leaves at most a torn last frame, which the parser reports.
 * Version 2 ("EFOBXJ2\n", before the HMAC bits) is the same without hmac,
 * version 1 ("EFOBXJ1\n", before delivery ids) also without the delivery
 * field: both still read, so results held by an older espfabd are not lost
 * in an upgrade (outbox.c gives them ids and rewrites the file as version
 * 3; their hmac reads as 0, what an older espfabd did not keep).
 *
 * Pure functions, no I/O: outbox.c owns the file. */
#ifndef ESPFABD_OUTBOX_JOURNAL_H
#define ESPFABD_OUTBOX_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jobq.h"

#define OUTBOX_JOURNAL_VERSION 3 /* what outbox_journal_encode writes */
#define OUTBOX_JOURNAL_MAGIC "EFOBXJ3\n"
#define OUTBOX_JOURNAL_MAGIC_V2 "EFOBXJ2\n"
#define OUTBOX_JOURNAL_MAGIC_V1 "EFOBXJ1\n"
#define OUTBOX_JOURNAL_MAGIC_LEN 8
#define OUTBOX_DELIVERY_LEN 32        /* hex digits of a delivery id (STORE_DELIVERY_LEN) */
#define OUTBOX_JOURNAL_FRAME_MAX 2048 /* an item encodes to ~800 bytes at most */

enum outbox_journal_type {
	OUTBOX_JOURNAL_HELD = 1,
	OUTBOX_JOURNAL_DELIVERED = 2,
};

struct outbox_item {
	char delivery[OUTBOX_DELIVERY_LEN + 1]; /* the result's delivery id; "" = none yet */
	struct jobq_msg m; /* data and fw are never kept */
	char port[CONFIG_NAME_MAX];
};

struct outbox_journal_rec {
	enum outbox_journal_type type;
	int64_t key;
	struct outbox_item item; /* HELD only */
};

/* Encodes rec as one frame into buf (cap >= OUTBOX_JOURNAL_FRAME_MAX + 8
 * always suffices). Returns the frame's length, or 0 if it does not fit. */
size_t outbox_journal_encode(const struct outbox_journal_rec *rec, uint8_t *buf, size_t cap);

/* The frame at buf[*off] of a file of version (outbox_journal_version):
 * 0 with *rec filled and *off past the frame; 1 at the clean end of buf;
 * -1 for a torn or damaged frame, *off unchanged and msg saying what is
 * wrong with it (one line, without the offset). A version-1 item has no
 * delivery id (""). */
int outbox_journal_next(const uint8_t *buf, size_t len, int version, size_t *off, struct outbox_journal_rec *rec,
			char *msg, size_t cap);

/* The version buf's magic names: 3 (written now), 2 or 1 (read only), or 0
 * when it is no outbox journal. */
int outbox_journal_version(const uint8_t *buf, size_t len);

#endif
