/* The port seam: the only way the protocol reaches a device.
 *
 * Backends: libserialport (real ttys), termios (ptys and socat-made ports that
 * libserialport refuses), raw TCP (socket://HOST:PORT), and an in-process fake
 * over the simulator's device engine with virtual time (tests).
 *
 * Times are milliseconds on the port's own clock (ops->now_ms), so a fake port
 * can run on virtual time. Deadlines are absolute values of that clock.
 * All functions return 0 or a negative PORT_E* code. A port is owned by one
 * thread at a time; only port_cancel() may be called from another thread.
 */
#ifndef ESPFAB_PORT_H
#define ESPFAB_PORT_H

#include <stddef.h>
#include <stdint.h>

enum port_error {
	PORT_OK = 0,
	PORT_ETIMEDOUT = -1, /* deadline passed with nothing (more) to read/write */
	PORT_EIO = -2,       /* the OS reported an error; errno kept in port->last_errno */
	PORT_ECANCELED = -3, /* port_cancel() was called */
	PORT_ENODEV = -4,    /* the device went away (unplugged, re-enumerating, peer closed) */
	PORT_EINVAL = -5,    /* bad argument or unsupported by this backend */
};

struct port;

struct port_ops {
	/* Read up to len bytes. Returns 0 with *got >= 1 as soon as any byte is
	 * available, PORT_ETIMEDOUT with *got = 0 when the deadline passes. */
	int (*read)(struct port *p, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms);
	/* Write all len bytes or fail. */
	int (*write)(struct port *p, const uint8_t *buf, size_t len, uint64_t deadline_ms);
	int (*set_baud)(struct port *p, uint32_t baud);
	/* Set DTR and RTS together (one TIOCMSET on Unix: no glitch through
	 * the intermediate state). 1 = asserted, 0 = released, -1 = unchanged. */
	int (*set_lines)(struct port *p, int dtr, int rts);
	int (*flush_input)(struct port *p);
	/* Close and open again by the same path (USB-Serial/JTAG re-enumerates
	 * during a reset), retrying until the deadline. */
	int (*reopen)(struct port *p, uint64_t deadline_ms);
	void (*sleep_ms)(struct port *p, uint32_t ms);
	uint64_t (*now_ms)(struct port *p);
	/* Release everything, including the struct itself. */
	void (*close)(struct port *p);
};

struct port {
	const struct port_ops *ops;
	char name[256];       /* as the user gave it: path or socket://host:port */
	uint32_t baud;        /* current host-side baud rate */
	int last_errno;       /* errno of the last PORT_EIO */
	volatile int cancelled; /* set by port_cancel(); backends check it */
	int wake_fd;          /* eventfd written by port_cancel(), or -1 */
};

/* Open a port by name: "socket://HOST:PORT" is TCP, anything else a serial
 * device (libserialport first, termios for ptys). On success *out is owned by
 * the caller and released with port_close(). *out is NULL on failure and msg
 * (msgsz bytes, may be NULL) says why in one line. */
int port_open(const char *name, uint32_t baud, struct port **out, char *msg, size_t msgsz);

/* Thread-safe: makes the current and every later blocking call of this port
 * return PORT_ECANCELED promptly. */
void port_cancel(struct port *p);

/* USB identity of a local serial port opened by port_open(): 0 and the
 * vendor/product ids (the ESP USB-Serial/JTAG is 0x303A:0x1001), or
 * PORT_EINVAL when the port is not a USB device or not a serial port. */
int port_usb_ids(const struct port *p, uint16_t *vid, uint16_t *pid);

#define PORT_USB_JTAG_VID 0x303A
#define PORT_USB_JTAG_PID 0x1001

static inline void port_close(struct port *p)
{
	if (p)
		p->ops->close(p);
}

#endif
