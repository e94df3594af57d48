/* See romio.h. */
#include "romio.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/flashop.h"

struct romio {
	char path[CONFIG_PATH_MAX];
	pthread_mutex_t lock; /* guards f and cancelled against romio_cancel() */
	struct flashop *f;
	int cancelled;
	struct romio_stats stats;
};

int romio_new(const char *path, struct romio **out)
{
	struct romio *r;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->path, sizeof(r->path), "%s", path);
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void romio_disconnect(struct romio *r)
{
	struct flashop *f;

	pthread_mutex_lock(&r->lock);
	f = r->f;
	r->f = NULL;
	pthread_mutex_unlock(&r->lock);
	flashop_close(f);
}

void romio_free(struct romio *r)
{
	if (!r)
		return;
	romio_disconnect(r);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void romio_cancel(struct romio *r)
{
	pthread_mutex_lock(&r->lock);
	r->cancelled = 1;
	if (r->f)
		flashop_cancel(r->f);
	pthread_mutex_unlock(&r->lock);
}

void romio_abort_session(struct romio *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->f)
		flashop_cancel(r->f);
	pthread_mutex_unlock(&r->lock);
}

/* The operator sees the device's own reason: flashop's message already
 * carries the failing command and the ROM's status/error bytes. */
static int map(int rc, const struct rom_diag *d, char *msg, size_t cap)
{
	if (!rc)
		return ROMIO_OK;
	snprintf(msg, cap, "%s", d && d->msg[0] ? d->msg : rom_strerror(rc));
	switch (rc) {
	case ROM_ECANCELED:
		return ROMIO_ECANCELED;
	case ROM_ENODEV:
	case ROM_EPORT:
	case ROM_EIO:
		return ROMIO_ENODEV;
	case ROM_ENOSYNC:
		return ROMIO_ENOSYNC;
	case ROM_EVERIFY:
		return ROMIO_EVERIFY;
	case ROM_ESECURE:
		return ROMIO_ESECURE;
	}
	return ROMIO_EDEVICE;
}

static int connect_common(struct romio *r, struct port *p, enum config_before before, uint32_t baud,
			  struct romio_ident *id, char *msg, size_t cap)
{
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	const struct flashop_info *inf;
	int rc;

	memset(id, 0, sizeof(*id));
	romio_disconnect(r);
	pthread_mutex_lock(&r->lock);
	rc = r->cancelled;
	pthread_mutex_unlock(&r->lock);
	if (rc) {
		port_close(p);
		snprintf(msg, cap, "cancelled");
		return ROMIO_ECANCELED;
	}
	flashop_options_init(&o);
	o.baud = baud;
	switch (before) {
	case CONFIG_BEFORE_DEFAULT_RESET:
		o.before = RESET_MODE_CLASSIC;
		break;
	case CONFIG_BEFORE_USB_RESET:
		o.before = RESET_MODE_USB_JTAG;
		break;
	case CONFIG_BEFORE_NO_RESET:
		o.before = RESET_MODE_NONE;
		break;
	}
	/* One reset and its SYNCs per probe: the worker probes again soon, and
	 * a long connect would delay noticing a stop. */
	o.connect_attempts = 1;
	memset(&d, 0, sizeof(d));
	rc = p ? flashop_attach(p, &o, &f, &d) : flashop_open(r->path, &o, &f, &d);
	if (rc)
		return map(rc, &d, msg, cap);
	inf = flashop_info(f);
	if (!inf->mac_valid) {
		flashop_close(f);
		snprintf(msg, cap, "MAC unreadable (secure download mode): cannot bind a record to this device");
		return ROMIO_ESECURE;
	}
	snprintf(id->chip, sizeof(id->chip), "%s", inf->chip ? inf->chip->name : "?");
	snprintf(id->mac, sizeof(id->mac), "%02x:%02x:%02x:%02x:%02x:%02x", inf->mac[0], inf->mac[1], inf->mac[2],
		 inf->mac[3], inf->mac[4], inf->mac[5]);
	id->flash_size = inf->flash_size;
	id->secure_download = inf->secure_download;
	id->flash_encrypted = inf->flash_encrypted;
	r->stats.baud = inf->baud;
	pthread_mutex_lock(&r->lock);
	r->f = f;
	if (r->cancelled)
		flashop_cancel(f);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int romio_connect(struct romio *r, enum config_before before, uint32_t baud, struct romio_ident *id, char *msg,
		  size_t cap)
{
	return connect_common(r, NULL, before, baud, id, msg, cap);
}

int romio_connect_port(struct romio *r, struct port *p, enum config_before before, uint32_t baud,
		       struct romio_ident *id, char *msg, size_t cap)
{
	return connect_common(r, p, before, baud, id, msg, cap);
}

static int no_session(char *msg, size_t cap)
{
	snprintf(msg, cap, "not connected");
	return ROMIO_ENODEV;
}

int romio_read(struct romio *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap)
{
	if (!r->f)
		return no_session(msg, cap);
	return map(flashop_read(r->f, off, buf, (uint32_t)len, NULL, NULL), flashop_diag(r->f), msg, cap);
}

int romio_read_unchecked(struct romio *r, uint32_t off, uint8_t *buf, size_t len, char *msg, size_t cap)
{
	if (!r->f)
		return no_session(msg, cap);
	return map(flashop_read_unchecked(r->f, off, buf, (uint32_t)len), flashop_diag(r->f), msg, cap);
}

int romio_ping(struct romio *r, char *msg, size_t cap)
{
	uint8_t b[4];

	return romio_read(r, 0, b, sizeof(b), msg, cap);
}

int romio_write(struct romio *r, uint32_t off, const uint8_t *data, size_t len, romio_progress cb, void *ctx,
		char *msg, size_t cap)
{
	int rc;

	if (!r->f)
		return no_session(msg, cap);
	rc = flashop_write(r->f, off, data, len, 0, cb, ctx);
	r->stats.retries = flashop_stats(r->f)->retries;
	return map(rc, flashop_diag(r->f), msg, cap);
}

int romio_write_verify(struct romio *r, uint32_t off, const uint8_t *data, size_t len, romio_progress cb,
		       void *ctx, char *msg, size_t cap)
{
	int rc;

	if (!r->f)
		return no_session(msg, cap);
	rc = flashop_write(r->f, off, data, len, FLASHOP_VERIFY, cb, ctx);
	r->stats.retries = flashop_stats(r->f)->retries;
	return map(rc, flashop_diag(r->f), msg, cap);
}

int romio_verify(struct romio *r, uint32_t off, const uint8_t *data, size_t len, char *msg, size_t cap)
{
	if (!r->f)
		return no_session(msg, cap);
	return map(flashop_verify(r->f, off, data, len), flashop_diag(r->f), msg, cap);
}

int romio_hard_reset(struct romio *r, char *msg, size_t cap)
{
	int rc;

	if (!r->f)
		return no_session(msg, cap);
	rc = map(flashop_hard_reset(r->f), flashop_diag(r->f), msg, cap);
	romio_disconnect(r);
	return rc;
}

void romio_get_stats(const struct romio *r, struct romio_stats *st)
{
	*st = r->stats;
}

struct flashop *romio_flashop(struct romio *r)
{
	return r->f;
}
