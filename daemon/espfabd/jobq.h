/* Copied messages between the main thread and the port workers.
 *
 * The main thread owns SQLite and the control socket; a worker owns its port.
 * They never share state: each side pushes struct jobq_msg values (copied)
 * into the other's queue. A message's data pointer travels with it: the
 * sender sets its own pointer to NULL after jobq_push(), the receiver frees
 * it with jobq_msg_clear() (which wipes it: it may hold an NVS image with
 * secrets). The main queue has an eventfd for the loop; a worker blocks on
 * its queue's condition variable with a timeout.
 */
#ifndef ESPFABD_JOBQ_H
#define ESPFABD_JOBQ_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/fwimg.h"

enum jobq_kind {
	/* worker -> main */
	JOBQ_PORT_STATE = 1, /* text = state name (absent, idle, busy, done, waiting) */
	JOBQ_ARRIVED,        /* mac, chip, a = flash size */
	JOBQ_LEFT,           /* mac */
	JOBQ_STEP,           /* text = step name */
	JOBQ_PROGRESS,       /* a = bytes done, b = total */
	JOBQ_WORK_REQ,       /* mac, chip: is there a batch for this device? */
	JOBQ_CLAIM_REQ,      /* mac, chip, batch_id */
	JOBQ_SENT_REQ,       /* job_id: about to write the first byte */
	JOBQ_RESULT,         /* job_id, rc, sent, text = error, timings, md5 */
	JOBQ_EXITED,         /* the worker thread is about to return */
	/* main -> worker */
	JOBQ_WORK_REP,       /* rc 0: batch_id, text = product, data = partition table, a = offset, b = size, label,
			      * fw = the product's firmware images (NULL: none); rc JOBQ_WORK_DONE: this
			      * device is verified in the batch already (leave it alone); else no work */
	JOBQ_CLAIM_REP,      /* rc 0: job_id, record (id), data = NVS image (secret), digest = sha256 hex */
	JOBQ_SENT_REP,       /* rc 0: go ahead; else write nothing */
	JOBQ_STOP,           /* finish or abort and exit */
	JOBQ_WAKE,           /* new work may be there: stop waiting, ask again */
	/* HMAC NVS encryption (pipeline_hmac.h), at the end to keep the values above */
	JOBQ_HMAC_REQ,       /* worker -> main: job_id, hmac, a = enum store_hmac_state, text = note */
	JOBQ_HMAC_REP,       /* main -> worker: rc 0: the state is durable; else burn nothing more */
};

#define JOBQ_NSTEPS 10
#define JOBQ_WORK_DONE 1 /* WORK_REP rc: see above */

/* A device's esp_secure_cert work (station_ident.h, pipeline_ident.h). */
enum jobq_ident {
	JOBQ_IDENT_NONE = 0, /* the product has no identity profile */
	JOBQ_IDENT_WRITE,    /* write the partition image */
	JOBQ_IDENT_CHECK,    /* the device must already carry the certificate */
};

struct jobq_msg {
	enum jobq_kind kind;
	unsigned worker;
	int rc;
	int sent;             /* RESULT: bytes of the image reached the device */
	int64_t batch_id, job_id;
	uint64_t a, b;
	uint32_t baud, retries, duration_ms;
	uint32_t step_ms[JOBQ_NSTEPS];
	char mac[18];
	char chip[16];
	char label[20];
	char record[64];
	char digest[65];      /* sha256 (CLAIM_REP) or flash md5 (RESULT), hex */
	char text[512];
	uint8_t *data;        /* owned by the message; see the top */
	size_t len;
	/* A reference owned by the message like data (jobq_msg_clear drops
	 * it): the set is immutable, so every worker shares the same bytes. */
	struct fwimg_set *fw;
	/* CLAIM_REP: the last ident_len bytes of data are the esp_secure_cert
	 * partition image (WRITE, secret) or the certificate's DER (CHECK), for
	 * the partition at ident_offset. RESULT: what the worker did. */
	enum jobq_ident ident;
	uint32_t ident_offset, ident_len;
	/* RESULT, filled by the station (not the worker) before it is stored or
	 * held: the claimed image's SHA-256 for the audit row, and the product
	 * whose identity the device received (station_ident.h). */
	char image_sha256[65];
	int64_t ident_product;
	/* WORK_REP, CLAIM_REP, HMAC_REQ, RESULT: the product's HMAC NVS
	 * encryption (pipeline_hmac.h's PIPELINE_HMAC_* bits; 0 = plain). A
	 * CLAIM_REP with it carries the device's HMAC key (secret) as the last
	 * PIPELINE_HMAC_KEY_LEN bytes of data, after any identity part. */
	uint32_t hmac;
};

struct jobq;

/* with_fd: create an eventfd that is readable while the queue is non-empty. */
int jobq_new(struct jobq **out, int with_fd);
void jobq_free(struct jobq *q); /* clears (and wipes) queued messages */

/* Copies *m into the queue and takes ownership of m->data (m->data is set to NULL). */
int jobq_push(struct jobq *q, struct jobq_msg *m);
/* 0 with *m filled, or -ETIMEDOUT after timeout_ms (0: don't wait, -1: forever). */
int jobq_pop(struct jobq *q, struct jobq_msg *m, int timeout_ms);
/* The eventfd (or -1); jobq_pop() resets it when the queue empties. */
int jobq_fd(const struct jobq *q);

/* Wipe and free m->data; drop m->fw. */
void jobq_msg_clear(struct jobq_msg *m);

#endif
