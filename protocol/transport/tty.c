/* termios backend for paths libserialport refuses: ptys (espfab-sim, socat)
 * have no /sys/class/tty entry, so sp_get_port_by_name() fails on them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "transport.h"

static struct fdport *F(struct port *p)
{
	return (struct fdport *)p;
}

static int tty_read(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms)
{
	return fdport_read_fd(F(p), buf, len, got, deadline_ms);
}

static int tty_write(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	return fdport_write_fd(F(p), buf, len, deadline_ms);
}

static int tty_set_baud(struct port *p, uint32_t baud)
{
	int e = fdport_tty_speed(F(p)->fd, baud);

	if (e == PORT_EIO)
		p->last_errno = errno;
	if (!e)
		p->baud = baud;
	return e;
}

static int tty_set_lines(struct port *p, int dtr, int rts)
{
	return fdport_set_lines_fd(F(p), dtr, rts);
}

static int tty_flush_input(struct port *p)
{
	if (tcflush(F(p)->fd, TCIFLUSH) < 0) {
		p->last_errno = errno;
		return PORT_EIO;
	}
	return PORT_OK;
}

static int tty_attach(struct fdport *f, const char *path, char *msg, size_t msgsz)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;
		f->base.last_errno = err;
		if (msg)
			snprintf(msg, msgsz, "%s: cannot open: %s", path, strerror(err));
		return err == ENOENT || err == ENODEV || err == ENXIO ? PORT_ENODEV : PORT_EIO;
	}
	if (!isatty(fd)) {
		if (msg)
			snprintf(msg, msgsz, "%s: not a terminal device", path);
		close(fd);
		return PORT_EINVAL;
	}
	if (fdport_tty_raw(fd, f->base.baud)) {
		int err = errno;
		if (msg)
			snprintf(msg, msgsz, "%s: cannot configure: %s", path, strerror(err));
		close(fd);
		return PORT_EIO;
	}
	f->fd = fd;
	return PORT_OK;
}

static int tty_reattach(struct fdport *f, uint64_t deadline_ms)
{
	(void)deadline_ms;
	return tty_attach(f, f->base.name, NULL, 0);
}

static int tty_reopen(struct port *p, uint64_t deadline_ms)
{
	return fdport_reattach(F(p), tty_reattach, deadline_ms);
}

static const struct port_ops tty_ops = {
	.read = tty_read,
	.write = tty_write,
	.set_baud = tty_set_baud,
	.set_lines = tty_set_lines,
	.flush_input = tty_flush_input,
	.reopen = tty_reopen,
	.sleep_ms = fdport_sleep_ms,
	.now_ms = fdport_now,
	.close = fdport_close,
};

int ttyport_open(const char *path, uint32_t baud, struct port **out, char *msg, size_t msgsz)
{
	struct fdport *f;
	int e;

	*out = NULL;
	f = fdport_new(FDPORT_TERMIOS, &tty_ops, path, baud, msg, msgsz);
	if (!f)
		return PORT_EIO;
	e = tty_attach(f, path, msg, msgsz);
	if (e) {
		fdport_close(&f->base);
		return e;
	}
	*out = &f->base;
	return PORT_OK;
}
