/* The system's USB serial ports, as the transport layer sees them (the only
 * layer that includes libserialport): for the daemon's port discovery. */
#ifndef ESPFAB_PORT_LIST_H
#define ESPFAB_PORT_LIST_H

#include <stddef.h>
#include <stdint.h>

struct port_usb {
	char dev[256];      /* the device node, "/dev/ttyUSB0" */
	uint16_t vid, pid;
};

/* Fills up to cap entries with the USB serial ports present now (other
 * transports are left out); returns the count, or -EIO when enumeration
 * itself failed. */
int port_list_usb(struct port_usb *out, size_t cap);

#endif
