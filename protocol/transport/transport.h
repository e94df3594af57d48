/* Private to protocol/transport/: the fd-based backends behind port_open(). */
#ifndef ESPFAB_TRANSPORT_H
#define ESPFAB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/port.h"

enum fdport_kind {
	FDPORT_SERIAL,  /* libserialport (real ttys: USB metadata, enumeration) */
	FDPORT_TERMIOS, /* ptys and socat ports that libserialport refuses */
	FDPORT_TCP,     /* socket://HOST:PORT (ser2net, espfab-sim --tcp) */
};

struct fdport {
	struct port base;
	enum fdport_kind kind;
	int fd;
	void *sp;              /* struct sp_port * for FDPORT_SERIAL */
	char host[200];        /* FDPORT_TCP */
	char service[32];
	uint16_t usb_vid, usb_pid;
	int have_usb;
};

/* Shared helpers (fdport.c). */
uint64_t fdport_now_ms(void);
/* calloc + fdport_init; on failure NULL with msg set. Free with fdport_close(). */
struct fdport *fdport_new(enum fdport_kind kind, const struct port_ops *ops, const char *name,
			  uint32_t baud, char *msg, size_t msgsz);
/* port_ops.close of the plain-fd backends: closes fd and wake fd, frees f. */
void fdport_close(struct port *p);
/* port_ops.now_ms of every fd backend: CLOCK_MONOTONIC. */
uint64_t fdport_now(struct port *p);
/* port_ops.reopen core: close fd, then attach() every 100 ms until it
 * succeeds, the deadline passes (PORT_ENODEV) or the port is cancelled. */
int fdport_reattach(struct fdport *f, int (*attach)(struct fdport *f, uint64_t deadline_ms),
		    uint64_t deadline_ms);
/* Wait for events on fd or the wake fd until deadline: 0 ready, PORT_E*. */
int fdport_wait(struct fdport *f, short events, uint64_t deadline_ms);
void fdport_sleep_ms(struct port *p, uint32_t ms);
int fdport_init(struct fdport *f, const struct port_ops *ops, const char *name, uint32_t baud);
void fdport_release(struct fdport *f);
/* Read/write with the deadline and the cancel fd; plain read()/write() on
 * f->fd also serve libserialport's fd (its non-blocking calls are exactly
 * that on POSIX). */
int fdport_read_fd(struct fdport *f, uint8_t *buf, size_t len, size_t *got, uint64_t deadline_ms);
int fdport_write_fd(struct fdport *f, const uint8_t *buf, size_t len, uint64_t deadline_ms);
int fdport_set_lines_fd(struct fdport *f, int dtr, int rts);
/* termios setup shared by the serial and termios backends: raw 8N1, no
 * HUPCL (closing must not toggle DTR/RTS and reset the chip). */
int fdport_tty_raw(int fd, uint32_t baud);
int fdport_tty_speed(int fd, uint32_t baud);

/* Backends: 0 and *out, or PORT_E* with msg set. */
int serial_open(const char *path, uint32_t baud, struct port **out, char *msg, size_t msgsz);
int serial_usb_ids(const struct port *p, uint16_t *vid, uint16_t *pid);
int ttyport_open(const char *path, uint32_t baud, struct port **out, char *msg, size_t msgsz);
int tcpport_open(const char *hostport, uint32_t baud, struct port **out, char *msg, size_t msgsz);

#endif
