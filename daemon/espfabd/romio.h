/* The daemon's adapter over the ROM client (protocol/flashop.h): the
 * handful of device operations a provisioning sequence needs, with the
 * device's own reason in a one-line message, and a cancel that is safe to
 * call from the main thread at any time (also between sessions, which
 * flashop_cancel() alone cannot cover: the flashop does not exist then).
 *
 * One struct romio per port, used by that port's worker thread only;
 * romio_cancel() is the one call allowed from another thread.
 */
#ifndef ESPFABD_ROMIO_H
#define ESPFABD_ROMIO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum romio_error {
	ROMIO_OK = 0,
	ROMIO_ENODEV = -1,    /* the port is gone or cannot be opened */
	ROMIO_ENOSYNC = -2,   /* nothing in download mode answered */
	ROMIO_EDEVICE = -3,   /* the device failed a command (reason in msg) */
	ROMIO_ECANCELED = -4,
	ROMIO_EVERIFY = -5,   /* flash content differs */
	ROMIO_ESECURE = -6,   /* secure download mode: no MD5, no read-back */
};

struct romio_ident {
	char chip[16];        /* "ESP32-S3" */
	char mac[18];         /* "aa:bb:cc:dd:ee:ff" */
	uint32_t flash_size;  /* bytes */
	int secure_download;
	int flash_encrypted;
};

struct romio_stats {
	unsigned retries;
	uint32_t baud;
};

typedef void (*romio_progress)(void *ctx, uint64_t done, uint64_t total);

struct romio;

/* Nothing is opened yet. *out is the caller's (romio_free). */
int romio_new(const char *path, struct romio **out);
void romio_free(struct romio *r);

/* Thread-safe and sticky: every current and later call returns
 * ROMIO_ECANCELED (used at shutdown). */
void romio_cancel(struct romio *r);

/* Abort the current session's operation in progress (it returns
 * ROMIO_ECANCELED); unlike romio_cancel() the next romio_connect() works
 * again. Thread-safe; a batch cancelled while its firmware is written. */
void romio_abort_session(struct romio *r);

/* Open the port, reset into download mode (before), sync, identify, attach
 * the flash with its real size and switch to baud. Ends any earlier session. */
int romio_connect(struct romio *r, enum config_before before, uint32_t baud, struct romio_ident *id, char *msg,
		  size_t cap);
/* The same over an already open port, which the romio then owns (tests
 * pass the simulator's in-process fake port). */
struct port;
int romio_connect_port(struct romio *r, struct port *p, enum config_before before, uint32_t baud,
		       struct romio_ident *id, char *msg, size_t cap);
/* Close the port (a new connect opens it again). */
void romio_disconnect(struct romio *r);

/* Is the device of this session still answering? (a 4-byte flash read) */
int romio_ping(struct romio *r, char *msg, size_t cap);
int romio_read(struct romio *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap);
/* Without the MD5 check: the caller checks the whole with romio_verify(). */
int romio_read_unchecked(struct romio *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap);
int romio_write(struct romio *r, uint32_t off, const uint8_t *data, size_t len, romio_progress cb, void *ctx,
		char *msg, size_t cap);
/* The same, then the ROM's MD5 of the region against data's in one go
 * (flashop's FLASHOP_VERIFY): firmware images, which carry no secrets and
 * need no read-back. */
int romio_write_verify(struct romio *r, uint32_t off, const uint8_t *data, size_t len, romio_progress cb,
		       void *ctx, char *msg, size_t cap);
/* The ROM's MD5 of the region against data's. */
int romio_verify(struct romio *r, uint32_t off, const uint8_t *data, size_t len, char *msg, size_t cap);
/* Leave the loader and run the application; ends the session. */
int romio_hard_reset(struct romio *r, char *msg, size_t cap);
/* The session's ROM client for eFuse work (efuse.h), or NULL without a
 * session. Borrowed: valid until the session ends. */
struct flashop *romio_flashop(struct romio *r);
void romio_get_stats(const struct romio *r, struct romio_stats *st);

#endif
