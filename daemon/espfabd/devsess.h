/* The per-port device session (devsess): the daemon's adapter over the ROM client (protocol/flashop.h): the
 * handful of device operations a provisioning sequence needs, with the
 * device's own reason in a one-line message, and a cancel that is safe to
 * call from the main thread at any time (also between sessions, which
 * flashop_cancel() alone cannot cover: the flashop does not exist then).
 *
 * One struct devsess per port, used by that port's worker thread only;
 * devsess_cancel() is the one call allowed from another thread.
 */
#ifndef ESPFABD_DEVSESS_H
#define ESPFABD_DEVSESS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct flashop; /* protocol/flashop.h */

enum devsess_error {
	DEVSESS_OK = 0,
	DEVSESS_ENODEV = -1,    /* the port is gone or cannot be opened */
	DEVSESS_ENOSYNC = -2,   /* nothing in download mode answered */
	DEVSESS_EDEVICE = -3,   /* the device failed a command (reason in msg) */
	DEVSESS_ECANCELED = -4,
	DEVSESS_EVERIFY = -5,   /* flash content differs */
	DEVSESS_ESECURE = -6,   /* secure download mode: no MD5, no read-back */
};

struct devsess_ident {
	char chip[16];        /* "ESP32-S3" */
	char mac[18];         /* "aa:bb:cc:dd:ee:ff" */
	uint32_t flash_size;  /* bytes */
	int secure_download;
	int flash_encrypted;
};

struct devsess_stats {
	unsigned retries;
	uint32_t baud;
};

typedef void (*devsess_progress)(void *ctx, uint64_t done, uint64_t total);

struct devsess;

/* Nothing is opened yet. *out is the caller's (devsess_free). */
int devsess_new(const char *path, struct devsess **out);
void devsess_free(struct devsess *r);

/* Thread-safe and sticky: every current and later call returns
 * DEVSESS_ECANCELED (used at shutdown). */
void devsess_cancel(struct devsess *r);

/* Abort the current session's operation in progress (it returns
 * DEVSESS_ECANCELED); unlike devsess_cancel() the next devsess_connect() works
 * again. Thread-safe; a batch cancelled while its firmware is written. */
void devsess_abort_session(struct devsess *r);

/* Open the port, reset into download mode (before), sync, identify, attach
 * the flash with its real size and switch to baud. Ends any earlier session. */
int devsess_connect(struct devsess *r, enum reset_mode before, uint32_t baud, struct devsess_ident *id, char *msg,
		  size_t cap);
/* The same over an already open port, which the devsess then owns (tests
 * pass the simulator's in-process fake port). */
struct port;
int devsess_connect_port(struct devsess *r, struct port *p, enum reset_mode before, uint32_t baud,
		       struct devsess_ident *id, char *msg, size_t cap);
/* Close the port (a new connect opens it again). */
void devsess_disconnect(struct devsess *r);

/* Is the device of this session still answering? (a 4-byte flash read) */
int devsess_ping(struct devsess *r, char *msg, size_t cap);
int devsess_read(struct devsess *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap);
/* Without the MD5 check: the caller checks the whole with devsess_verify(). */
int devsess_read_unchecked(struct devsess *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap);
int devsess_write(struct devsess *r, uint32_t off, const uint8_t *data, size_t len, devsess_progress cb, void *ctx,
		char *msg, size_t cap);
/* The same, then the ROM's MD5 of the region against data's in one go
 * (flashop's FLASHOP_VERIFY): firmware images, which carry no secrets and
 * need no read-back. */
int devsess_write_verify(struct devsess *r, uint32_t off, const uint8_t *data, size_t len, devsess_progress cb,
		       void *ctx, char *msg, size_t cap);
/* The ROM's MD5 of the region against data's. */
int devsess_verify(struct devsess *r, uint32_t off, const uint8_t *data, size_t len, char *msg, size_t cap);
/* Leave the loader and run the application; ends the session. */
int devsess_hard_reset(struct devsess *r, char *msg, size_t cap);
/* The session's ROM client for eFuse work (efuse.h), or NULL without a
 * session. Borrowed: valid until the session ends. */
struct flashop *devsess_flashop(struct devsess *r);
void devsess_get_stats(const struct devsess *r, struct devsess_stats *st);

#endif
