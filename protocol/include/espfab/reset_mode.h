/* The esptool words for the reset modes (--before/--after), header-only so
 * that code which only reads them from a command line or espfabd.conf
 * (daemon/ctl) needs the protocol's headers, not its library: a client of
 * the control socket must not link the serial stack. The sequences
 * themselves are in reset.h. */
#ifndef ESPFAB_RESET_MODE_H
#define ESPFAB_RESET_MODE_H

#include <string.h>

#include "espfab/rom.h"

enum reset_mode {
	RESET_MODE_CLASSIC,  /* --before default_reset: DTR/RTS auto-program circuit */
	RESET_MODE_USB_JTAG, /* --before usb_reset: ESP USB-Serial/JTAG (VID 0x303A PID 0x1001) */
	RESET_MODE_NONE,     /* --before no_reset: fixture straps the chip, network ports */
};

enum reset_after {
	RESET_AFTER_HARD,    /* --after hard_reset: leave the loader, boot the application */
	RESET_AFTER_NONE,    /* --after no_reset: stay in the loader */
};

/* Parse the esptool words above; 0 or ROM_EINVAL. */
static inline int reset_mode_parse(const char *word, enum reset_mode *out)
{
	if (!strcmp(word, "default_reset"))
		*out = RESET_MODE_CLASSIC;
	else if (!strcmp(word, "usb_reset"))
		*out = RESET_MODE_USB_JTAG;
	else if (!strcmp(word, "no_reset"))
		*out = RESET_MODE_NONE;
	else
		return ROM_EINVAL;
	return ROM_OK;
}

static inline const char *reset_mode_name(enum reset_mode m)
{
	switch (m) {
	case RESET_MODE_CLASSIC: return "default_reset";
	case RESET_MODE_USB_JTAG: return "usb_reset";
	case RESET_MODE_NONE: return "no_reset";
	}
	return "?";
}

#endif
