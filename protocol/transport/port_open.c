/* port_open(): pick the backend by name; port_cancel() for every backend. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "transport.h"

int port_open(const char *name, uint32_t baud, struct port **out, char *msg, size_t msgsz)
{
	char why[256] = "";
	int e;

	*out = NULL;
	if (msg && msgsz)
		msg[0] = '\0';
	if (!name || !*name) {
		if (msg)
			snprintf(msg, msgsz, "no port given");
		return PORT_EINVAL;
	}
	if (baud == 0)
		baud = 115200;
	if (!strncmp(name, "socket://", 9))
		return tcpport_open(name + 9, baud, out, msg, msgsz);
	e = serial_open(name, baud, out, why, sizeof(why));
	if (e != PORT_EINVAL) {
		if (e && msg)
			snprintf(msg, msgsz, "%s", why);
		return e;
	}
	/* libserialport refuses ptys (no /sys/class/tty entry after realpath):
	 * fall back to plain termios */
	return ttyport_open(name, baud, out, msg, msgsz);
}

void port_cancel(struct port *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	__atomic_store_n(&p->cancelled, 1, __ATOMIC_RELEASE);
	if (p->wake_fd >= 0) {
		/* wakes any poll() on this port; an eventfd write never blocks
		 * for a single increment */
		ssize_t n = write(p->wake_fd, &one, sizeof(one));
		(void)n;
	}
}

int port_usb_ids(const struct port *p, uint16_t *vid, uint16_t *pid)
{
	return serial_usb_ids(p, vid, pid);
}
