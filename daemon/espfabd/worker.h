/* One thread per port: it owns the port and everything done on it.
 *
 * The worker watches for a device in download mode on its port, identifies
 * it, asks the main thread for work, and runs the pipeline. It talks to the
 * main thread only by copied messages (jobq.h): events and requests go to the
 * main queue; replies and STOP come back on the worker's own queue.
 *
 * "A new device" on a port that never goes away (a pty simulator, a pogo-pin
 * fixture whose bridge stays plugged): after a device is done (or failed) the
 * worker keeps probing; the same MAC answering means the same board is still
 * there and nothing happens; the port going away (ENODEV: unplugged, the
 * simulator exited) or nothing answering for a probe means it left; any
 * device that answers after that, or a different MAC, is a new device. The
 * same MAC coming back is provisioned again and gets its bound record.
 */
#ifndef ESPFABD_WORKER_H
#define ESPFABD_WORKER_H

#include <stdint.h>

#include "config.h"
#include "jobq.h"

struct worker_cfg {
	unsigned index;
	char name[CONFIG_NAME_MAX];
	char path[CONFIG_PATH_MAX];
	uint32_t baud;
	enum reset_mode before;
	unsigned poll_ms;        /* retry period while nothing answers */
	unsigned probe_ms;       /* presence probe period of a finished device */
	unsigned request_ms;     /* timeout of a request to the main thread */
	uint32_t table_offset;
};

struct worker;

/* Start the thread. to_main is shared (not owned). *out is the caller's:
 * stop with worker_post(STOP), then worker_join_free(). */
int worker_start(const struct worker_cfg *cfg, struct jobq *to_main, struct worker **out);
/* Queue a message for the worker (m->data is taken). */
void worker_post(struct worker *w, struct jobq_msg *m);
/* The main thread withdrew batch_id (cancelled): the worker writes nothing
 * more for it and aborts firmware being written (thread-safe). */
void worker_revoke(struct worker *w, int64_t batch_id);
/* Abort any blocking port operation now (thread-safe). */
void worker_cancel(struct worker *w);
/* Join the thread (after it exited or was told to stop) and free it. */
void worker_join_free(struct worker *w);

#endif
