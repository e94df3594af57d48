/* Reset sequences over the port seam (see reset.h for the line convention). */
#include <string.h>

#include "espfab/reset.h"

int reset_after_parse(const char *word, enum reset_after *out)
{
	if (!strcmp(word, "hard_reset"))
		*out = RESET_AFTER_HARD;
	else if (!strcmp(word, "no_reset"))
		*out = RESET_AFTER_NONE;
	else
		return ROM_EINVAL;
	return ROM_OK;
}

static int lines(struct port *p, int dtr, int rts)
{
	int e;

	if (p->cancelled)
		return ROM_ECANCELED;
	e = p->ops->set_lines(p, dtr, rts);
	switch (e) {
	case PORT_OK: return ROM_OK;
	case PORT_EINVAL: return ROM_ENOLINES;
	case PORT_ECANCELED: return ROM_ECANCELED;
	case PORT_ENODEV: return ROM_ENODEV;
	case PORT_ETIMEDOUT: return ROM_ETIMEDOUT;
	case PORT_EIO: return ROM_EIO;
	}
	return ROM_EIO;
}

static int pause_ms(struct port *p, uint32_t ms)
{
	p->ops->sleep_ms(p, ms);
	return p->cancelled ? ROM_ECANCELED : ROM_OK;
}

#define TRY(x) do { int e_ = (x); if (e_) return e_; } while (0)

int reset_classic(struct port *p, uint32_t hold_ms)
{
	/* esptool's UnixTightReset: every step one TIOCMSET */
	TRY(lines(p, 0, 0));
	TRY(lines(p, 1, 1));
	TRY(lines(p, 0, 1)); /* IO0 high, EN low: chip held in reset */
	TRY(pause_ms(p, 100));
	TRY(lines(p, 1, 0)); /* IO0 low, EN released: boots into download mode */
	TRY(pause_ms(p, hold_ms));
	TRY(lines(p, 0, 0)); /* release IO0 */
	return ROM_OK;
}

int reset_usb_jtag(struct port *p)
{
	TRY(lines(p, 0, 0)); /* idle */
	TRY(pause_ms(p, 100));
	TRY(lines(p, 1, 0)); /* IO0 low */
	TRY(pause_ms(p, 100));
	/* Enter reset through (1,1), never (0,0): the USB-Serial/JTAG
	 * peripheral maps (0,0) to "no reset, IO0 high". */
	TRY(lines(p, 1, 1));
	TRY(lines(p, 0, 1));
	TRY(pause_ms(p, 100));
	TRY(lines(p, 0, 0)); /* out of reset */
	return ROM_OK;
}

int reset_enter_loader(struct port *p, enum reset_mode m, unsigned attempt)
{
	switch (m) {
	case RESET_MODE_CLASSIC:
		/* esptool alternates the default and the slow-board delay */
		return reset_classic(p, attempt % 2 ? 550 : 50);
	case RESET_MODE_USB_JTAG:
		return reset_usb_jtag(p);
	case RESET_MODE_NONE:
		return ROM_OK;
	}
	return ROM_EINVAL;
}

int reset_hard_rts(struct port *p)
{
	TRY(lines(p, 0, 1)); /* EN low, IO0 released */
	TRY(pause_ms(p, 100));
	TRY(lines(p, 0, 0));
	return ROM_OK;
}

int reset_disable_watchdogs(struct rom *r, const struct chip_desc *c)
{
	uint32_t v = 0;

	if (!c->has_usb_jtag || !c->wdt.wdt_config0)
		return ROM_OK;
	TRY(rom_write_reg(r, c->wdt.wdt_wprotect, c->wdt.wdt_wkey)); /* unlock */
	TRY(rom_write_reg(r, c->wdt.wdt_config0, 0));                  /* RTC WDT off */
	TRY(rom_write_reg(r, c->wdt.wdt_wprotect, 0));                 /* lock */
	if (!c->wdt.swd_conf)
		return ROM_OK;
	TRY(rom_write_reg(r, c->wdt.swd_wprotect, c->wdt.swd_wkey));
	TRY(rom_read_reg(r, c->wdt.swd_conf, &v));
	TRY(rom_write_reg(r, c->wdt.swd_conf, v | c->wdt.swd_auto_feed)); /* SWD feeds itself */
	TRY(rom_write_reg(r, c->wdt.swd_wprotect, 0));
	return ROM_OK;
}

int reset_watchdog(struct rom *r, const struct chip_desc *c)
{
	int e;

	if (!c->wdt.wdt_config0)
		return ROM_ECHIP;
	TRY(rom_write_reg(r, c->wdt.wdt_wprotect, c->wdt.wdt_wkey));
	TRY(rom_write_reg(r, c->wdt.wdt_config1, 2000)); /* timeout in slow-clock ticks */
	/* enable, stage 0 action = reset system, flash-boot mod, as esptool */
	e = rom_write_reg(r, c->wdt.wdt_config0, (1u << 31) | (5u << 28) | (1u << 8) | 2u);
	if (e && e != ROM_ETIMEDOUT && e != ROM_ENODEV)
		return e;
	(void)rom_write_reg(r, c->wdt.wdt_wprotect, 0); /* may not answer: the chip resets */
	return ROM_OK;
}
