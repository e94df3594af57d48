/* See ports.h. */
#include "ports.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/port_list.h"

static const struct {
	uint16_t vid, pid;
} known_ids[] = {
	{0x10c4, 0xea60}, /* Silicon Labs CP210x */
	{0x1a86, 0x7523}, /* WCH CH340 */
	{0x1a86, 0x55d4}, /* WCH CH9102 */
	{0x0403, 0x6001}, /* FTDI FT232R */
	{0x0403, 0x6010}, /* FTDI FT2232 (ESP-Prog) */
	{0x0403, 0x6014}, /* FTDI FT232H */
	{0x0403, 0x6015}, /* FTDI FT-X */
	{0x303a, 0x1001}, /* Espressif USB-Serial/JTAG */
};

/* USB serial ports looked at per discovery (any vendor). */
#define PORTS_MAX_USB 128

int ports_known_usb_id(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < sizeof(known_ids) / sizeof(known_ids[0]); i++)
		if (known_ids[i].vid == vid && known_ids[i].pid == pid)
			return 1;
	return 0;
}

int ports_by_path(const char *dir, const char *dev, char *out, size_t cap)
{
	char want[PATH_MAX], link[PATH_MAX + 300], real[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int rc = -1;

	if (!realpath(dev, want))
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if (realpath(link, real) && !strcmp(real, want) && strlen(link) < cap) {
			snprintf(out, cap, "%s", link);
			rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

int ports_discover(struct ports_found *out, size_t cap)
{
	struct port_usb usb[PORTS_MAX_USB];
	int rc = port_list_usb(usb, PORTS_MAX_USB);
	size_t n = 0;

	if (rc < 0)
		return rc;
	for (int i = 0; i < rc && n < cap; i++) {
		struct ports_found *f = &out[n];
		const char *slash;
		if (!ports_known_usb_id(usb[i].vid, usb[i].pid))
			continue;
		memset(f, 0, sizeof(*f));
		f->vid = usb[i].vid;
		f->pid = usb[i].pid;
		f->usb_jtag = f->vid == 0x303a && f->pid == 0x1001;
		if (ports_by_path("/dev/serial/by-path", usb[i].dev, f->path, sizeof(f->path)))
			snprintf(f->path, sizeof(f->path), "%.*s", (int)sizeof(f->path) - 1, usb[i].dev);
		slash = strrchr(f->path, '/');
		snprintf(f->name, sizeof(f->name), "%.63s", slash ? slash + 1 : f->path);
		n++;
	}
	return (int)n;
}
