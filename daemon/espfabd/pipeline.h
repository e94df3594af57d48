/* The per-device sequence, run by a port's worker thread:
 *   check the partition table read back from the device against the
 *   product's, claim a record (main thread, store rules), receive the NVS
 *   image, mark it sent (main thread) BEFORE the first byte, write it at the
 *   partition's offset, verify by flash MD5 and by reading it back and
 *   decoding it, hard reset into the application.
 * The result (with per-step timings) goes back to the main thread, which
 * audits it. Requests to the main thread go through struct pipeline_io so a
 * test can answer them itself.
 */
#ifndef ESPFABD_PIPELINE_H
#define ESPFABD_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jobq.h"
#include "devsess.h"

enum pipeline_step {
	PIPELINE_STEP_CONNECT = 0,
	PIPELINE_STEP_IDENTIFY,
	PIPELINE_STEP_FIRMWARE,
	PIPELINE_STEP_TABLE,
	PIPELINE_STEP_CLAIM,
	PIPELINE_STEP_GENERATE,
	PIPELINE_STEP_WRITE,
	PIPELINE_STEP_VERIFY,
	PIPELINE_STEP_RESET,
	PIPELINE_STEP_AUDIT,
	PIPELINE_STEP_COUNT_
};

const char *pipeline_step_name(enum pipeline_step s);

struct pipeline_io {
	void *ctx;
	/* An event for the main thread (m copied; its data taken). */
	void (*emit)(void *ctx, struct jobq_msg *m);
	/* Send req and wait for the reply of kind want; 0, or negative on
	 * timeout / stop (then *rep is cleared). */
	int (*ask)(void *ctx, struct jobq_msg *req, enum jobq_kind want, struct jobq_msg *rep, int timeout_ms);
	/* May be NULL. Nonzero once the main thread withdrew this device's
	 * batch (cancelled): nothing more is written for it, and firmware
	 * being written is aborted. Called from progress callbacks: cheap. */
	int (*revoked)(void *ctx, int64_t batch_id);
};

struct pipeline_params {
	unsigned worker;
	enum reset_mode before;
	uint32_t table_offset;     /* where the device's partition table is read */
	int timeout_ms;            /* for each main-thread request */
};

/* work: the JOBQ_WORK_REP for this device (product table in work->data).
 * Fills *result (a JOBQ_RESULT, job_id 0 when nothing was claimed) and
 * returns 0 when the device was provisioned and verified. */
int pipeline_provision(struct devsess *dev, const struct devsess_ident *id, const struct jobq_msg *work,
		       const struct pipeline_params *pp, const struct pipeline_io *io, struct jobq_msg *result);

/* Pure: compare the NVS partition of the device's table with the product's.
 * 0 when equal; else a one-line message showing both tables. */
int pipeline_check_table(const uint8_t *dev_table, size_t dev_len, uint32_t table_offset,
			 const uint8_t *prod_table, size_t prod_len, const char *label, uint32_t offset,
			 uint32_t size, char *msg, size_t cap);

#endif
