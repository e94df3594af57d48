/* USB serial port enumeration over libserialport. See espfab/port_list.h. */
#include "espfab/port_list.h"

#include <errno.h>
#include <stdio.h>

#include <libserialport.h>

int port_list_usb(struct port_usb *out, size_t cap)
{
	struct sp_port **list = NULL;
	size_t n = 0;

	if (sp_list_ports(&list) != SP_OK)
		return -EIO;
	for (size_t i = 0; list[i] && n < cap; i++) {
		int vid = 0, pid = 0;
		const char *dev = sp_get_port_name(list[i]);
		if (!dev || sp_get_port_transport(list[i]) != SP_TRANSPORT_USB ||
		    sp_get_port_usb_vid_pid(list[i], &vid, &pid) != SP_OK)
			continue;
		snprintf(out[n].dev, sizeof(out[n].dev), "%s", dev);
		out[n].vid = (uint16_t)vid;
		out[n].pid = (uint16_t)pid;
		n++;
	}
	sp_free_port_list(list);
	return (int)n;
}
