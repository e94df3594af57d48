/* Shared machinery of the fd-based ports: poll the device fd together with
 * the cancel eventfd so nothing blocks past a deadline or a port_cancel(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"

uint64_t fdport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fdport_init(struct fdport *f, const struct port_ops *ops, const char *name, uint32_t baud)
{
	f->base.ops = ops;
	snprintf(f->base.name, sizeof(f->base.name), "%s", name);
	f->base.baud = baud;
	f->base.cancelled = 0;
	f->fd = -1;
	f->base.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->base.wake_fd < 0) {
		f->base.last_errno = errno;
		return PORT_EIO;
	}
	return PORT_OK;
}

void fdport_release(struct fdport *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->base.wake_fd >= 0)
		close(f->base.wake_fd);
	f->base.wake_fd = -1;
}

struct fdport *fdport_new(enum fdport_kind kind, const struct port_ops *ops, const char *name,
			  uint32_t baud, char *msg, size_t msgsz)
{
	struct fdport *f = calloc(1, sizeof(*f));

	if (!f) {
		if (msg)
			snprintf(msg, msgsz, "%s: out of memory", name);
		return NULL;
	}
	f->kind = kind;
	if (fdport_init(f, ops, name, baud)) {
		if (msg)
			snprintf(msg, msgsz, "%s: eventfd: %s", name, strerror(f->base.last_errno));
		fdport_release(f);
		free(f);
		return NULL;
	}
	return f;
}

void fdport_close(struct port *p)
{
	fdport_release((struct fdport *)p);
	free(p);
}

uint64_t fdport_now(struct port *p)
{
	(void)p;
	return fdport_now_ms();
}

static int is_cancelled(const struct port *p)
{
	return __atomic_load_n(&p->cancelled, __ATOMIC_ACQUIRE) != 0;
}

int fdport_wait(struct fdport *f, short events, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{.fd = f->fd, .events = events},
			{.fd = f->base.wake_fd, .events = POLLIN},
		};
		uint64_t now = fdport_now_ms();
		int tmo, n;

		if (is_cancelled(&f->base))
			return PORT_ECANCELED;
		if (f->fd < 0)
			return PORT_ENODEV;
		if (now >= deadline_ms)
			return PORT_ETIMEDOUT;
		tmo = deadline_ms - now > 60000 ? 60000 : (int)(deadline_ms - now);
		n = poll(pfd, 2, tmo);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			f->base.last_errno = errno;
			return PORT_EIO;
		}
		if (pfd[1].revents)
			return PORT_ECANCELED;
		if (pfd[0].revents & POLLNVAL)
			return PORT_ENODEV;
		if (pfd[0].revents & (events | POLLERR | POLLHUP))
			return PORT_OK;
	}
}

void fdport_sleep_ms(struct port *p, uint32_t ms)
{
	uint64_t end = fdport_now_ms() + ms;

	/* interruptible by port_cancel(): the wake fd stays readable */
	while (!is_cancelled(p)) {
		uint64_t now = fdport_now_ms();
		struct pollfd pfd = {.fd = p->wake_fd, .events = POLLIN};

		if (now >= end)
			return;
		if (p->wake_fd < 0) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&pfd, 1, (int)(end - now)) > 0)
			return;
	}
}

int fdport_reattach(struct fdport *f, int (*attach)(struct fdport *f, uint64_t deadline_ms),
		    uint64_t deadline_ms)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	/* USB-Serial/JTAG re-enumerates during a reset (and ser2net may
	 * restart): retry by the same name until it is back */
	for (;;) {
		uint64_t now;

		if (is_cancelled(&f->base))
			return PORT_ECANCELED;
		if (attach(f, deadline_ms) == PORT_OK)
			return PORT_OK;
		now = fdport_now_ms();
		if (now >= deadline_ms)
			return PORT_ENODEV;
		/* never sleep past the deadline */
		fdport_sleep_ms(&f->base, deadline_ms - now < 100 ? (uint32_t)(deadline_ms - now) : 100);
	}
}

int fdport_read_fd(struct fdport *f, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms)
{
	*got = 0;
	for (;;) {
		int e = fdport_wait(f, POLLIN, deadline_ms);
		ssize_t n;

		if (e)
			return e;
		n = read(f->fd, buf, len);
		if (n > 0) {
			*got = (size_t)n;
			return PORT_OK;
		}
		if (n == 0) {
			struct pollfd pfd = {.fd = f->fd, .events = POLLIN};

			if (f->kind == FDPORT_TCP)
				return PORT_ENODEV; /* peer closed */
			/* a raw tty reads 0 when nothing is there; a USB
			 * device that vanished (or a hung-up pty) reports
			 * POLLHUP/POLLERR forever */
			if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
				return PORT_ENODEV;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			continue;
		f->base.last_errno = errno;
		/* a pty whose other side closed reads EIO; a USB device that
		 * went away reads ENXIO/ENODEV */
		if (errno == EIO || errno == ENXIO || errno == ENODEV || errno == ECONNRESET)
			return PORT_ENODEV;
		return PORT_EIO;
	}
}

int fdport_write_fd(struct fdport *f, const uint8_t *buf, size_t len, uint64_t deadline_ms)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		if (is_cancelled(&f->base))
			return PORT_ECANCELED;
		if (f->kind == FDPORT_TCP)
			n = send(f->fd, buf + off, len - off, MSG_NOSIGNAL);
		else
			n = write(f->fd, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			int e = fdport_wait(f, POLLOUT, deadline_ms);
			if (e)
				return e;
			continue;
		}
		f->base.last_errno = n < 0 ? errno : EIO;
		if (errno == EPIPE || errno == EIO || errno == ENXIO || errno == ENODEV || errno == ECONNRESET)
			return PORT_ENODEV;
		return PORT_EIO;
	}
	return PORT_OK;
}

int fdport_set_lines_fd(struct fdport *f, int dtr, int rts)
{
	int bits;

	if (f->fd < 0)
		return PORT_ENODEV;
	if (ioctl(f->fd, TIOCMGET, &bits) < 0)
		goto err;
	if (dtr >= 0)
		bits = dtr ? bits | TIOCM_DTR : bits & ~TIOCM_DTR;
	if (rts >= 0)
		bits = rts ? bits | TIOCM_RTS : bits & ~TIOCM_RTS;
	/* both lines in one ioctl: no glitch through an intermediate state */
	if (ioctl(f->fd, TIOCMSET, &bits) < 0)
		goto err;
	return PORT_OK;
err:
	f->base.last_errno = errno;
	/* ptys have no modem lines */
	if (errno == ENOTTY || errno == EINVAL)
		return PORT_EINVAL;
	if (errno == EIO || errno == ENXIO || errno == ENODEV)
		return PORT_ENODEV;
	return PORT_EIO;
}

static speed_t speed_of(uint32_t baud)
{
	switch (baud) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 115200: return B115200;
	case 230400: return B230400;
	case 460800: return B460800;
	case 500000: return B500000;
	case 576000: return B576000;
	case 921600: return B921600;
	case 1000000: return B1000000;
	case 1152000: return B1152000;
	case 1500000: return B1500000;
	case 2000000: return B2000000;
	case 2500000: return B2500000;
	case 3000000: return B3000000;
	}
	return 0;
}

int fdport_tty_speed(int fd, uint32_t baud)
{
	struct termios t;
	speed_t s = speed_of(baud);

	if (!s)
		return PORT_EINVAL;
	if (tcgetattr(fd, &t) < 0)
		return PORT_EIO;
	cfsetispeed(&t, s);
	cfsetospeed(&t, s);
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return PORT_EIO;
	return PORT_OK;
}

int fdport_tty_raw(int fd, uint32_t baud)
{
	struct termios t;
	speed_t s = speed_of(baud);

	if (tcgetattr(fd, &t) < 0)
		return PORT_EIO;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	/* esptool clears HUPCL: the last close would drop DTR/RTS and reset
	 * the chip out of download mode */
	t.c_cflag &= ~(tcflag_t)(HUPCL | CRTSCTS);
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (s) {
		cfsetispeed(&t, s);
		cfsetospeed(&t, s);
	}
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return PORT_EIO;
	return PORT_OK;
}
