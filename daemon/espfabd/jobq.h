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
	JOBQ_PORT_STATE = 1, /* u.port_state */
	JOBQ_ARRIVED,        /* mac, chip, u.arrived */
	JOBQ_LEFT,           /* mac */
	JOBQ_STEP,           /* u.step */
	JOBQ_PROGRESS,       /* u.progress */
	JOBQ_WORK_REQ,       /* mac, chip: is there a batch for this device? */
	JOBQ_CLAIM_REQ,      /* mac, chip, batch_id */
	JOBQ_SENT_REQ,       /* job_id: about to write the first byte */
	JOBQ_RESULT,         /* job_id, batch_id, mac, chip, rc, error, u.result */
	JOBQ_EXITED,         /* the worker thread is about to return */
	/* main -> worker */
	JOBQ_WORK_REP,       /* rc 0: batch_id, u.work, data = partition table, fw = the product's firmware
			      * images (NULL: none); rc JOBQ_WORK_DONE: this device is verified in the
			      * batch already (leave it alone); else no work */
	JOBQ_CLAIM_REP,      /* rc 0: job_id, u.claim, data = NVS image (secret); else error */
	JOBQ_SENT_REP,       /* rc 0: go ahead; else error, and write nothing */
	JOBQ_STOP,           /* finish or abort and exit */
	JOBQ_WAKE,           /* new work may be there: stop waiting, ask again */
	/* HMAC NVS encryption (pipeline_hmac.h), at the end to keep the values above */
	JOBQ_HMAC_REQ,       /* worker -> main: job_id, batch_id, mac, chip, u.hmac */
	JOBQ_HMAC_REP,       /* main -> worker: rc 0: the state is durable; else error, and burn nothing more */
};

#define JOBQ_NSTEPS 10
#define JOBQ_WORK_DONE 1 /* WORK_REP rc: see above */

/* A device's esp_secure_cert work (station_ident.h, pipeline_ident.h). */
enum jobq_ident {
	JOBQ_IDENT_NONE = 0, /* the product has no identity profile */
	JOBQ_IDENT_WRITE,    /* write the partition image */
	JOBQ_IDENT_CHECK,    /* the device must already carry the certificate */
};

/* The payload of each kind that has one beyond the common fields. */
struct jobq_port_state {
	char name[16];        /* absent, idle, busy, done, waiting */
};
struct jobq_arrived {
	uint32_t flash_size;  /* bytes */
};
struct jobq_step {
	char name[16];        /* pipeline_step_name() */
};
struct jobq_progress {
	uint64_t done, total; /* bytes */
};
struct jobq_work {           /* WORK_REP, rc 0 */
	char product[64];
	char label[20];       /* the NVS partition's label, offset and size */
	uint32_t part_offset, part_size;
	int md5_only;         /* verify by the ROM's MD5 only ("verify_readback = no") */
	uint32_t hmac;        /* the product's HMAC NVS encryption (pipeline_hmac.h's PIPELINE_HMAC_* bits; 0 = plain) */
};
struct jobq_claim {          /* CLAIM_REP, rc 0 */
	char record[64];
	char sha256[65];      /* of the NVS image, hex */
	uint32_t generate_ms; /* the image's build time, part of the claim's */
	/* The last ident_len bytes of data are the esp_secure_cert partition
	 * image (WRITE, secret) or the certificate's DER (CHECK), for the
	 * partition at ident_offset. */
	enum jobq_ident ident;
	uint32_t ident_offset, ident_len;
	/* PIPELINE_HMAC_* bits (0 = plain). With it the last
	 * PIPELINE_HMAC_KEY_LEN bytes of data are the device's HMAC key
	 * (secret), after any identity part. */
	uint32_t hmac;
};
struct jobq_result {
	int sent;             /* bytes of the image reached the device */
	char record[64];
	char flash_md5[33];   /* hex */
	uint32_t baud, retries, duration_ms;
	uint32_t step_ms[JOBQ_NSTEPS];
	enum jobq_ident ident; /* what the worker did */
	/* Filled by the station (not the worker) before it is stored or held:
	 * the claimed image's SHA-256 for the audit row, and the product whose
	 * identity the device received (station_ident.h). */
	char image_sha256[65];
	int64_t ident_product;
	uint32_t hmac;        /* the HMAC NVS encryption the worker did (PIPELINE_HMAC_* bits; 0 = plain) */
};
struct jobq_hmac {           /* HMAC_REQ: a device's new HMAC key state, made durable before the worker goes on */
	uint32_t hmac;        /* PIPELINE_HMAC_* bits */
	int state;            /* enum store_hmac_state */
	char record[64];
	char note[400];       /* why (never key bytes), or "" */
};

struct jobq_msg {
	enum jobq_kind kind;
	unsigned worker;
	int rc;
	int64_t batch_id, job_id;
	char mac[18];         /* the device's, "aa:bb:cc:dd:ee:ff" */
	char chip[16];
	char error[512];      /* rc != 0: why, one line; a verified RESULT: a note or "" */
	union {               /* by kind, see enum jobq_kind */
		struct jobq_port_state port_state;
		struct jobq_arrived arrived;
		struct jobq_step step;
		struct jobq_progress progress;
		struct jobq_work work;
		struct jobq_claim claim;
		struct jobq_result result;
		struct jobq_hmac hmac;
	} u;
	uint8_t *data;        /* owned by the message; see the top */
	size_t len;
	/* A reference owned by the message like data (jobq_msg_clear drops
	 * it): the set is immutable, so every worker shares the same bytes. */
	struct fwimg_set *fw;
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
