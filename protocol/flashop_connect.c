/* Flash operations: open a port, reset into the ROM loader and SYNC. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashop_int.h"

void flashop_options_init(struct flashop_options *o)
{
	memset(o, 0, sizeof(*o));
	o->baud = 115200;
	o->before = RESET_MODE_CLASSIC;
	o->connect_attempts = 4;
	o->reopen_ms = 5000;
}

const struct flashop_info *flashop_info(const struct flashop *f)
{
	return &f->info;
}

const struct rom_diag *flashop_diag(const struct flashop *f)
{
	return rom_diag(f->rom);
}

const struct rom_stats *flashop_stats(const struct flashop *f)
{
	return rom_stats(f->rom);
}

struct port *flashop_port(const struct flashop *f)
{
	return f->port;
}

void flashop_cancel(struct flashop *f)
{
	if (f)
		port_cancel(f->port);
}

void flashop_close(struct flashop *f)
{
	if (!f)
		return;
	rom_free(f->rom);
	port_close(f->port);
	free(f);
}

static int reopen(struct flashop *f)
{
	struct port *p = f->port;
	int e = p->ops->reopen(p, p->ops->now_ms(p) + f->opt.reopen_ms);

	if (e == PORT_ECANCELED)
		return rom_fail(f->rom, ROM_ECANCELED, "cancelled while waiting for %s to come back", p->name);
	if (e)
		return rom_fail(f->rom, ROM_ENODEV, "%s did not come back within %u ms after the reset",
				p->name, (unsigned)f->opt.reopen_ms);
	return ROM_OK;
}

/* Say why nothing answered, from what the chip printed, as esptool's
 * _connect_attempt does (loader.py v4.8.1): a boot log whose "boot:0xNN"
 * is not followed by "waiting for download" is a chip that booted its
 * application (the strap did not hold IO0 low); "waiting for download"
 * without a SYNC reply means the host-to-chip line is down. */
static int no_sync(struct flashop *f, unsigned attempts)
{
	struct port *p = f->port;
	char log[160];
	const char *boot;

	snprintf(log, sizeof(log), "%s", rom_diag(f->rom)->boot_log);
	boot = strstr(log, "boot:0x");
	if (strstr(log, "waiting for download"))
		return rom_fail(f->rom, ROM_ENOSYNC,
				"%s is in download mode (the ROM printed \"waiting for download\") but no SYNC reply "
				"came after %u attempts: the line to the chip's RX seems down", p->name, attempts);
	if (boot) {
		unsigned mode = (unsigned)strtoul(boot + 5, NULL, 16);
		return rom_fail(f->rom, ROM_ENOSYNC,
				"%s booted its application (boot:0x%02x), not the download mode (%s): IO0 was not "
				"held low at reset; check the auto-program circuit or the fixture's strap; chip printed: %s",
				p->name, mode, reset_mode_name(f->opt.before), log);
	}
	return rom_fail(f->rom, ROM_ENOSYNC, "no SYNC reply from %s after %u attempts (%s)%s%s", p->name, attempts,
			reset_mode_name(f->opt.before), log[0] ? "; chip printed: " : "", log);
}

int flashop_connect_loader(struct flashop *f)
{
	struct port *p = f->port;
	enum reset_mode mode = f->opt.before;
	unsigned attempts = f->opt.connect_attempts ? f->opt.connect_attempts : 4;
	int e = ROM_ENOSYNC;

	for (unsigned a = 0; a < attempts; a++) {
		if (mode != RESET_MODE_NONE) {
			e = reset_enter_loader(p, mode, a);
			if (e == ROM_ENOLINES) {
				/* TCP and ptys have no modem lines: like esptool over
				 * socket://, carry on as if the chip were strapped */
				mode = RESET_MODE_NONE;
			} else if (e == ROM_ENODEV && mode == RESET_MODE_USB_JTAG) {
				e = reopen(f);
				if (e)
					return e;
			} else if (e == ROM_ECANCELED) {
				return rom_fail(f->rom, e, "cancelled during the reset");
			} else if (e) {
				return rom_fail(f->rom, e, "reset of %s failed: %s", p->name, rom_strerror(e));
			}
		}
		f->can_reset = mode != RESET_MODE_NONE;
		/* What the chip printed since the reset says which mode it
		 * booted (esptool reads it before syncing): keep it as boot-log
		 * text, then start clean. */
		if (mode != RESET_MODE_NONE)
			(void)rom_drain(f->rom, 0, 1);
		if (p->ops->flush_input(p) == PORT_ENODEV && mode == RESET_MODE_USB_JTAG) {
			e = reopen(f);
			if (e)
				return e;
		}
		for (int s = 0; s < SYNC_TRIES; s++) {
			e = rom_sync(f->rom);
			if (!e)
				return ROM_OK;
			if (e == ROM_ECANCELED || e == ROM_ESTUB || e == ROM_EIO)
				return e;
			if (e == ROM_ENODEV) {
				/* USB-Serial/JTAG re-enumerates after the reset */
				if (mode != RESET_MODE_USB_JTAG)
					return e;
				e = reopen(f);
				if (e)
					return e;
			}
		}
		if (a + 1 < attempts)
			rom_note_retry(f->rom);
	}
	return no_sync(f, attempts);
}

int flashop_attach(struct port *p, const struct flashop_options *o, struct flashop **out,
		   struct rom_diag *diag)
{
	struct flashop *f = NULL;
	int e;

	*out = NULL;
	if (diag)
		memset(diag, 0, sizeof(*diag));
	if (!p || !o) {
		port_close(p);
		if (diag) {
			diag->error = ROM_EINVAL;
			snprintf(diag->msg, sizeof(diag->msg), "no port");
		}
		return ROM_EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f || rom_new(p, &f->rom)) {
		free(f);
		port_close(p);
		if (diag) {
			diag->error = ROM_ENOMEM;
			snprintf(diag->msg, sizeof(diag->msg), "out of memory");
		}
		return ROM_ENOMEM;
	}
	f->port = p;
	f->opt = *o;
	if (!f->opt.reopen_ms)
		f->opt.reopen_ms = 5000;
	e = flashop_connect_loader(f);
	if (!e)
		e = flashop_identify(f);
	if (e) {
		if (diag)
			*diag = *rom_diag(f->rom);
		flashop_close(f);
		return e;
	}
	*out = f;
	return ROM_OK;
}

int flashop_open(const char *port_name, const struct flashop_options *o, struct flashop **out,
		 struct rom_diag *diag)
{
	struct port *p = NULL;
	char msg[200];
	int e;

	*out = NULL;
	if (diag)
		memset(diag, 0, sizeof(*diag));
	/* SYNC always at 115200; the rate changes after identification */
	e = port_open(port_name, 115200, &p, msg, sizeof(msg));
	if (e) {
		if (diag) {
			diag->error = ROM_EPORT;
			diag->sys_errno = errno;
			snprintf(diag->msg, sizeof(diag->msg), "%s", msg[0] ? msg : "cannot open port");
		}
		return ROM_EPORT;
	}
	{
		struct flashop_options oo = *o;
		uint16_t vid, pid;
		/* esptool picks the USB-Serial/JTAG sequence for default_reset
		 * when the port is Espressif's own USB device */
		if (oo.before == RESET_MODE_CLASSIC && port_usb_ids(p, &vid, &pid) == PORT_OK &&
		    vid == PORT_USB_JTAG_VID && pid == PORT_USB_JTAG_PID)
			oo.before = RESET_MODE_USB_JTAG;
		return flashop_attach(p, &oo, out, diag);
	}
}

