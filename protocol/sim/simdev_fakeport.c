/* struct port over the device engine, on virtual time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/simdev_fakeport.h"

struct fakeport {
	struct port port; /* first: port_close() frees the whole struct */
	struct simdev *dev;
	uint64_t now_ns;
	unsigned fail_reopen;
	int fail_io;
	unsigned usb_epoch; /* the USB device generation this "fd" belongs to */
	struct simdev_fakeport_counters c;
};

static const struct port_ops fake_ops;

static struct fakeport *fp(struct port *p)
{
	return (struct fakeport *)p;
}

static uint64_t ms_to_ns(uint64_t ms)
{
	return ms > UINT64_MAX / 1000000ull ? UINT64_MAX : ms * 1000000ull;
}

/* A USB-Serial/JTAG device that re-enumerated leaves this fd dead for good:
 * only reopen() gets a working one. */
static int usb_gone(struct fakeport *f)
{
	simdev_advance(f->dev, f->now_ns);
	return simdev_usb_jtag(f->dev) && simdev_usb_epoch(f->dev) != f->usb_epoch;
}

static int io_state(struct port *p)
{
	struct fakeport *f = fp(p);

	if (p->cancelled)
		return PORT_ECANCELED;
	if (f->fail_io)
		return f->fail_io;
	if (usb_gone(f))
		return PORT_ENODEV;
	return PORT_OK;
}

static int fake_read(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms)
{
	struct fakeport *f = fp(p);
	uint64_t deadline = ms_to_ns(deadline_ms);
	int rc;

	*got = 0;
	f->c.reads++;
	rc = io_state(p);
	if (rc)
		return rc;
	if (!len)
		return PORT_EINVAL;
	for (;;) {
		size_t n = simdev_tx(f->dev, f->now_ns, buf, len);
		uint64_t next;

		if (usb_gone(f))
			return PORT_ENODEV;
		if (n) {
			*got = n;
			f->c.bytes_read += n;
			return PORT_OK;
		}
		next = simdev_next_event_ns(f->dev);
		if (next == UINT64_MAX || next > deadline) {
			if (deadline > f->now_ns)
				f->now_ns = deadline;
			f->c.timeouts++;
			return PORT_ETIMEDOUT;
		}
		if (next > f->now_ns)
			f->now_ns = next;
	}
}

static int fake_write(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	struct fakeport *f = fp(p);

	int rc;

	(void)deadline_ms;
	f->c.writes++;
	rc = io_state(p);
	if (rc)
		return rc;
	simdev_rx(f->dev, f->now_ns, buf, len);
	f->c.bytes_written += len;
	return PORT_OK;
}

static int fake_set_baud(struct port *p, uint32_t baud)
{
	struct fakeport *f = fp(p);

	f->c.set_baud++;
	if (!baud)
		return PORT_EINVAL;
	p->baud = baud;
	simdev_set_host_baud(f->dev, baud);
	return PORT_OK;
}

static int fake_set_lines(struct port *p, int dtr, int rts)
{
	struct fakeport *f = fp(p);

	int rc;

	f->c.set_lines++;
	rc = io_state(p);
	if (rc)
		return rc;
	simdev_set_lines(f->dev, f->now_ns, dtr, rts);
	return PORT_OK;
}

static int fake_flush_input(struct port *p)
{
	struct fakeport *f = fp(p);

	int rc;

	f->c.flushes++;
	rc = io_state(p);
	if (rc)
		return rc;
	simdev_discard_tx(f->dev, f->now_ns);
	return PORT_OK;
}

static int fake_reopen(struct port *p, uint64_t deadline_ms)
{
	struct fakeport *f = fp(p);
	uint64_t deadline = ms_to_ns(deadline_ms);

	f->c.reopens++;
	for (;;) {
		int absent;

		if (p->cancelled)
			return PORT_ECANCELED;
		simdev_advance(f->dev, f->now_ns);
		absent = f->fail_reopen > 0 ||
			 (simdev_usb_jtag(f->dev) && f->now_ns < simdev_usb_back_ns(f->dev));
		if (!absent)
			break;
		if (f->now_ns >= deadline)
			return PORT_ENODEV;
		/* open() fails while the device is off the bus; retry as a
		 * client polling the stable path would */
		if (f->fail_reopen)
			f->fail_reopen--;
		f->now_ns += 100000000ull;
		if (f->now_ns > deadline)
			f->now_ns = deadline;
	}
	f->fail_io = 0;
	f->usb_epoch = simdev_usb_epoch(f->dev);
	simdev_discard_tx(f->dev, f->now_ns);
	return PORT_OK;
}

static void fake_sleep_ms(struct port *p, uint32_t ms)
{
	struct fakeport *f = fp(p);

	f->c.sleeps++;
	f->now_ns += ms_to_ns(ms);
	simdev_advance(f->dev, f->now_ns); /* the device lives through the same time */
}

static uint64_t fake_now_ms(struct port *p)
{
	return fp(p)->now_ns / 1000000ull;
}

static void fake_close(struct port *p)
{
	free(p);
}

static const struct port_ops fake_ops = {
	.read = fake_read,
	.write = fake_write,
	.set_baud = fake_set_baud,
	.set_lines = fake_set_lines,
	.flush_input = fake_flush_input,
	.reopen = fake_reopen,
	.sleep_ms = fake_sleep_ms,
	.now_ms = fake_now_ms,
	.close = fake_close,
};

int simdev_fakeport_new(struct simdev *dev, const char *name, uint32_t baud, struct port **out)
{
	struct fakeport *f;

	*out = NULL;
	if (!dev || !baud)
		return PORT_EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return PORT_EIO;
	f->port.ops = &fake_ops;
	f->port.baud = baud;
	f->port.wake_fd = -1;
	if (name)
		snprintf(f->port.name, sizeof(f->port.name), "%s", name);
	else
		snprintf(f->port.name, sizeof(f->port.name), "fake:sim");
	f->dev = dev;
	f->usb_epoch = simdev_usb_epoch(dev);
	simdev_set_host_baud(dev, baud);
	*out = &f->port;
	return PORT_OK;
}

struct simdev *simdev_fakeport_dev(struct port *p)
{
	return p && p->ops == &fake_ops ? fp(p)->dev : NULL;
}

uint64_t simdev_fakeport_now_ns(struct port *p)
{
	return fp(p)->now_ns;
}

const struct simdev_fakeport_counters *simdev_fakeport_counters(struct port *p)
{
	return &fp(p)->c;
}

void simdev_fakeport_fail_reopen(struct port *p, unsigned n)
{
	fp(p)->fail_reopen = n;
}

void simdev_fakeport_fail_io(struct port *p, int err)
{
	fp(p)->fail_io = err;
}
