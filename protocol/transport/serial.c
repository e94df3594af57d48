/* Real serial ports through libserialport: it knows USB metadata (VID/PID)
 * and enumeration. Its blocking read cannot be cancelled, so we poll its fd
 * with our wake fd and use the non-blocking calls. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#include "transport.h"

static const struct port_ops serial_ops;

static struct fdport *F(struct port *p)
{
	return (struct fdport *)p;
}

static int sp_err(struct fdport *f, enum sp_return r)
{
	if (r >= 0)
		return PORT_OK;
	f->base.last_errno = r == SP_ERR_FAIL ? sp_last_error_code() : 0;
	if (r == SP_ERR_ARG || r == SP_ERR_SUPP)
		return PORT_EINVAL;
	if (f->base.last_errno == ENXIO || f->base.last_errno == ENODEV || f->base.last_errno == EIO)
		return PORT_ENODEV;
	return PORT_EIO;
}

/* sp_nonblocking_read/write are read()/write() on this fd on POSIX: the
 * shared loops serve libserialport's fd as they serve a pty's. */
static int serial_read(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms)
{
	return fdport_read_fd(F(p), buf, len, got, deadline_ms);
}

static int serial_write(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	return fdport_write_fd(F(p), buf, len, deadline_ms);
}

static int serial_set_baud(struct port *p, uint32_t baud)
{
	struct fdport *f = F(p);
	int e = sp_err(f, sp_set_baudrate(f->sp, (int)baud));

	if (!e)
		p->baud = baud;
	return e;
}

static int serial_set_lines(struct port *p, int dtr, int rts)
{
	return fdport_set_lines_fd(F(p), dtr, rts);
}

static int serial_flush_input(struct port *p)
{
	return sp_err(F(p), sp_flush(F(p)->sp, SP_BUF_INPUT));
}

static int serial_attach(struct fdport *f, const char *path, char *msg, size_t msgsz)
{
	struct sp_port *sp = NULL;
	enum sp_return r;
	int fd = -1;

	r = sp_get_port_by_name(path, &sp);
	if (r != SP_OK) {
		if (msg)
			snprintf(msg, msgsz, "%s: not a serial device libserialport knows", path);
		return PORT_EINVAL;
	}
	r = sp_open(sp, SP_MODE_READ_WRITE);
	if (r != SP_OK) {
		int err = sp_last_error_code();
		if (msg)
			snprintf(msg, msgsz, "%s: cannot open: %s", path, strerror(err));
		f->base.last_errno = err;
		sp_free_port(sp);
		return err == ENOENT || err == ENODEV || err == ENXIO ? PORT_ENODEV : PORT_EIO;
	}
	sp_set_baudrate(sp, (int)f->base.baud);
	sp_set_bits(sp, 8);
	sp_set_parity(sp, SP_PARITY_NONE);
	sp_set_stopbits(sp, 1);
	sp_set_flowcontrol(sp, SP_FLOWCONTROL_NONE);
	if (sp_get_port_handle(sp, &fd) != SP_OK || fd < 0) {
		if (msg)
			snprintf(msg, msgsz, "%s: no file descriptor", path);
		sp_close(sp);
		sp_free_port(sp);
		return PORT_EIO;
	}
	{
		/* clear HUPCL so closing does not reset the chip */
		struct termios t;
		if (tcgetattr(fd, &t) == 0) {
			t.c_cflag &= ~(tcflag_t)HUPCL;
			tcsetattr(fd, TCSANOW, &t);
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}
	if (sp_get_port_transport(sp) == SP_TRANSPORT_USB) {
		int vid = 0, pid = 0;
		if (sp_get_port_usb_vid_pid(sp, &vid, &pid) == SP_OK) {
			f->usb_vid = (uint16_t)vid;
			f->usb_pid = (uint16_t)pid;
			f->have_usb = 1;
		}
	}
	f->sp = sp;
	f->fd = fd;
	return PORT_OK;
}

static void serial_detach(struct fdport *f)
{
	if (f->sp) {
		sp_close(f->sp);
		sp_free_port(f->sp);
	}
	f->sp = NULL;
	f->fd = -1; /* owned by libserialport */
}

static int serial_reattach(struct fdport *f, uint64_t deadline_ms)
{
	(void)deadline_ms;
	return serial_attach(f, f->base.name, NULL, 0);
}

static int serial_reopen(struct port *p, uint64_t deadline_ms)
{
	serial_detach(F(p));
	return fdport_reattach(F(p), serial_reattach, deadline_ms);
}

static void serial_close(struct port *p)
{
	serial_detach(F(p));
	fdport_close(p);
}

static const struct port_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
	.set_baud = serial_set_baud,
	.set_lines = serial_set_lines,
	.flush_input = serial_flush_input,
	.reopen = serial_reopen,
	.sleep_ms = fdport_sleep_ms,
	.now_ms = fdport_now,
	.close = serial_close,
};

int serial_open(const char *path, uint32_t baud, struct port **out, char *msg, size_t msgsz)
{
	struct fdport *f;
	int e;

	*out = NULL;
	f = fdport_new(FDPORT_SERIAL, &serial_ops, path, baud, msg, msgsz);
	if (!f)
		return PORT_EIO;
	e = serial_attach(f, path, msg, msgsz);
	if (e) {
		fdport_close(&f->base);
		return e;
	}
	*out = &f->base;
	return PORT_OK;
}

int serial_usb_ids(const struct port *p, uint16_t *vid, uint16_t *pid)
{
	const struct fdport *f = (const struct fdport *)p;

	if (p->ops != &serial_ops || !f->have_usb)
		return PORT_EINVAL;
	*vid = f->usb_vid;
	*pid = f->usb_pid;
	return PORT_OK;
}
