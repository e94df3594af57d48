/* Finding ports: USB serial bridges by VID:PID (the transport's port_list_usb()),
 * named by their stable /dev/serial/by-path link when there is one (a
 * fixture slot is a physical USB position; ttyUSBn numbers move). */
#ifndef ESPFABD_PORTS_H
#define ESPFABD_PORTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct ports_found {
	char path[CONFIG_PATH_MAX]; /* the by-path link, else the device node */
	char name[CONFIG_NAME_MAX]; /* slot name: the by-path link's tail, or ttyUSBn */
	uint16_t vid, pid;
	int usb_jtag;               /* Espressif USB-Serial/JTAG: reset with usb_reset */
};

/* Pure: is this one of the bridges ESP boards carry? (CP210x 10c4:ea60,
 * CH34x 1a86:7523/55d4, FTDI 0403:6001/6010/6014/6015, Espressif
 * USB-Serial/JTAG 303a:1001) */
int ports_known_usb_id(uint16_t vid, uint16_t pid);

/* Enumerate now. Fills up to cap entries; returns the count, or a negative
 * errno when enumeration itself failed. */
int ports_discover(struct ports_found *out, size_t cap);

/* The /dev/serial/by-path link in dir that resolves to dev, into out (cap
 * bytes); 0, or -1 when none. dir is a parameter for tests. */
int ports_by_path(const char *dir, const char *dev, char *out, size_t cap);

#endif
