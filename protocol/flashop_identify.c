/* Flash operations: identify the chip (magic, security, MAC), switch the
 * baud rate, detect and set the flash size. */
#include <stdio.h>
#include <string.h>

#include "flashop_int.h"
#include "espfab/le.h"

/* Identification reads and writes are idempotent, and replies carry no
 * checksum: a reply lost to one flipped bit costs one retry, not the job.
 * (Not for the probe after a baud change, whose silence means "wrong rate".) */
int flashop_retry_ok(int e)
{
	return e == ROM_ETIMEDOUT || e == ROM_EPROTO || e == ROM_EFAILED;
}

int flashop_rd(struct flashop *f, uint32_t addr, uint32_t *v)
{
	int e = rom_read_reg(f->rom, addr, v);

	if (flashop_retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_read_reg(f->rom, addr, v);
	}
	return e;
}

int flashop_wr(struct flashop *f, uint32_t addr, uint32_t v)
{
	int e = rom_write_reg(f->rom, addr, v);

	if (flashop_retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_write_reg(f->rom, addr, v);
	}
	return e;
}

/* After a command the ROM did not know, the ESP32 and ESP8266 ROMs answer
 * nothing but SYNC until they are synced again (esptool cmds.py
 * detect_chip reconnects "ESP32/ESP8266 are reset after an unsupported
 * command"); later ROMs carry on. Before the chip is known, assume the
 * worst. */
static int after_unsupported(struct flashop *f)
{
	int e = ROM_ENOSYNC;

	if (f->info.chip && !f->info.chip->resync_after_unsupported)
		return ROM_OK;
	for (int i = 0; i < 3 && e; i++) {
		e = rom_sync(f->rom);
		if (e == ROM_ECANCELED || e == ROM_ENODEV || e == ROM_EIO)
			return e;
	}
	return e ? rom_fail(f->rom, ROM_ENOSYNC, "no SYNC reply after an unsupported command") : ROM_OK;
}

static int security_info(struct flashop *f, struct rom_security *sec)
{
	int e = rom_get_security_info(f->rom, sec);

	if (e == ROM_ETIMEDOUT || e == ROM_EPROTO) {
		rom_note_retry(f->rom);
		e = rom_get_security_info(f->rom, sec);
	}
	return e;
}

/* The ESP32 ROM has no GET_SECURITY_INFO: its eFuses say whether flash
 * encryption (FLASH_CRYPT_CNT, odd bit count) and secure boot v1 (ABS_DONE_0)
 * are on, as esptool's ESP32ROM get_flash_encryption_enabled /
 * get_secure_boot_enabled read them. */
static int esp32_efuse_security(struct flashop *f)
{
	const struct chip_desc *c = f->info.chip;
	uint32_t w0 = 0, w6 = 0;
	int e;

	if ((e = flashop_rd(f, c->efuse_crypt_cnt_reg, &w0)) || (e = flashop_rd(f, c->efuse_sb_reg, &w6)))
		return e;
	f->info.flash_encrypted = __builtin_popcount(w0 & c->efuse_crypt_cnt_mask) & 1;
	f->info.secure_boot = !!(w6 & c->efuse_sb_mask);
	return ROM_OK;
}

/* The magic register first: every ROM answers READ_REG outside secure
 * download mode, and it names the chip in one round trip. GET_SECURITY_INFO
 * then goes only to chips whose ROM has it (S2 and later), so an ESP32 costs
 * no unsupported command, no re-sync and no timeout. A READ_REG refused as
 * unknown means secure download mode (esptool's connect(): the magic read's
 * UnsupportedCommandError sets secure_download_mode): only the security
 * info's chip id can tell the chip then. */
static int detect_chip(struct flashop *f)
{
	struct flashop_info *in = &f->info;
	const struct chip_desc *by_magic = NULL, *by_id = NULL;
	uint32_t magic = 0;
	int e;

	e = flashop_rd(f, CHIP_MAGIC_REG, &magic);
	if (e == ROM_OK) {
		f->magic = magic;
		f->have_magic = 1;
		by_magic = chip_by_magic(magic);
		if (by_magic && !by_magic->supported)
			return rom_fail(f->rom, ROM_ECHIP, "%s is not supported (magic register 0x%08x)",
					by_magic->name, (unsigned)magic);
		if (by_magic && !by_magic->rom_has_security_info) {
			in->chip = by_magic;
			return esp32_efuse_security(f);
		}
	} else if (e == ROM_EUNSUPPORTED) {
		if ((e = after_unsupported(f)))
			return e;
	} else {
		return e;
	}
	e = security_info(f, &in->security);
	if (e == ROM_EUNSUPPORTED && by_magic) {
		/* a ROM that should know the command: carry on without flags */
		in->chip = by_magic;
		return after_unsupported(f);
	}
	if (e == ROM_EUNSUPPORTED && f->have_magic)
		return rom_fail(f->rom, ROM_ECHIP, "unknown chip (magic register 0x%08x, no GET_SECURITY_INFO)",
				(unsigned)magic);
	if (e == ROM_EUNSUPPORTED)
		return rom_fail(f->rom, ROM_ECHIP, "the ROM refuses both READ_REG and GET_SECURITY_INFO");
	if (e)
		return e;
	in->have_security = 1;
	if (in->security.have_chip_id) {
		by_id = chip_by_security_id(in->security.chip_id);
		if (!by_id)
			return rom_fail(f->rom, ROM_ECHIP, "unknown chip (GET_SECURITY_INFO chip id %u)",
					(unsigned)in->security.chip_id);
		if (!by_id->supported)
			return rom_fail(f->rom, ROM_ECHIP, "%s is not supported (GET_SECURITY_INFO chip id %u)",
					by_id->name, (unsigned)in->security.chip_id);
		/* a disagreeing magic is settled by cross_check_chip() */
		in->chip = by_id;
		return ROM_OK;
	}
	/* 12 bytes, no chip id: only the ESP32-S2 ROM answers so */
	in->chip = chip_by_id(CHIP_ESP32S2);
	if (f->have_magic && by_magic != in->chip)
		return rom_fail(f->rom, ROM_ECHIP,
				"12-byte GET_SECURITY_INFO (ESP32-S2) but magic register 0x%08x", (unsigned)magic);
	return ROM_OK;
}

/* RDID (0x9F) through the SPI peripheral's user-command registers, the way
 * esptool's run_spiflash_command does on the ROM path. */
static int read_flash_id(struct flashop *f, uint32_t *id)
{
	const struct chip_spi_regs *s = &f->info.chip->spi;
	uint32_t cmd_reg = s->base, usr = s->base + s->usr, usr2 = s->base + s->usr2;
	uint32_t w0 = s->base + s->w0, miso = s->base + s->miso_dlen;
	uint32_t old_usr = 0, old_usr2 = 0, v = 0;
	int e, i;

	if ((e = flashop_rd(f, usr, &old_usr)) || (e = flashop_rd(f, usr2, &old_usr2)))
		return e;
	if ((e = flashop_wr(f, miso, 24 - 1)) ||
	    (e = flashop_wr(f, usr, (1u << 31) | (1u << 28))) || /* USR_COMMAND | USR_MISO */
	    (e = flashop_wr(f, usr2, (7u << 28) | 0x9F)) ||      /* 8-bit command RDID */
	    (e = flashop_wr(f, w0, 0)) ||
	    (e = flashop_wr(f, cmd_reg, 1u << 18)))              /* SPI_CMD_USR */
		return e;
	for (i = 0; i < 10; i++) {
		if ((e = flashop_rd(f, cmd_reg, &v)))
			return e;
		if (!(v & (1u << 18)))
			break;
	}
	if (i == 10)
		return rom_fail(f->rom, ROM_EFLASHID, "RDID: SPI command did not complete");
	if ((e = flashop_rd(f, w0, &v)))
		return e;
	if ((e = flashop_wr(f, usr, old_usr)) || (e = flashop_wr(f, usr2, old_usr2)))
		return e;
	*id = v & 0xFFFFFF;
	return ROM_OK;
}

/* The rate to ask the ROM for so that the UART really runs at baud. */
static int rom_side_baud(struct flashop *f, uint32_t baud, uint32_t *rom_baud)
{
	const struct chip_desc *c = f->info.chip;
	int e;

	*rom_baud = baud;
	if (c->id == CHIP_ESP32) {
		/* The ESP32 ROM computes its divider from the 8 MHz clock it
		 * calibrated, which drifts: esptool scales the request by
		 * (ROM's crystal estimate / true crystal). */
		uint32_t cali = 0, efuse4 = 0;
		if ((e = flashop_rd(f, 0x3FF5F06Cu, &cali)) || (e = flashop_rd(f, 0x3FF5A010u, &efuse4)))
			return e;
		double cal = (double)((cali >> 7) & 0x01FFFFFFu) * 15625.0 * (double)(efuse4 & 0xFF) / 40.0;
		double valid = cal > 33e6 ? 40e6 : 26e6;
		/* a chip (or simulator) without the calibration values: no correction */
		if (cal > 0 && cal / valid > 0.5 && cal / valid < 2.0)
			*rom_baud = (uint32_t)((double)baud * cal / valid);
	} else if (c->id == CHIP_ESP32C2) {
		/* ESP32-C2 ROMs assume 40 MHz; with a 26 MHz crystal ask for 40/26 more */
		uint32_t div = 0;
		if ((e = flashop_rd(f, c->uart_clkdiv_reg, &div)))
			return e;
		double est = (double)f->port->baud * (double)(div & 0xFFFFF) / 1e6;
		if (est > 0 && est <= 33)
			*rom_baud = (uint32_t)((uint64_t)baud * 40 / 26);
	}
	return ROM_OK;
}

/* One question the ROM answers: the magic register (it doubles as the
 * cross-check of the chip id), or in secure download mode, where registers
 * are not readable, the security info. */
static int probe(struct flashop *f)
{
	struct rom_security sec;
	int e;

	if (f->info.secure_download)
		return rom_get_security_info(f->rom, &sec);
	e = rom_read_reg(f->rom, CHIP_MAGIC_REG, &f->magic);
	f->have_magic = !e;
	return e;
}

/* Replies carry no checksum, so a flipped bit in the one reply that names
 * the chip would send every later register access to the wrong addresses.
 * Where the magic register knows the chip, it must agree with the chip id;
 * otherwise ask for the security info once more. */
static int cross_check_chip(struct flashop *f)
{
	struct flashop_info *in = &f->info;
	const struct chip_desc *m;
	struct rom_security again;
	int e;

	if (in->secure_download || !in->security.have_chip_id)
		return ROM_OK;
	if (!f->have_magic) {
		if ((e = flashop_rd(f, CHIP_MAGIC_REG, &f->magic)))
			return e;
		f->have_magic = 1;
	}
	m = chip_by_magic(f->magic);
	if (!m || m == in->chip)
		return ROM_OK;
	if ((e = rom_get_security_info(f->rom, &again)))
		return e;
	if (again.have_chip_id && chip_by_image_id(again.chip_id) == m) {
		in->security = again;
		in->chip = m;
		return ROM_OK;
	}
	return rom_fail(f->rom, ROM_ECHIP, "chip id %u disagrees with the magic register 0x%08x (%s)",
			(unsigned)again.chip_id, (unsigned)f->magic, m->name);
}

/* The MAC is the device's identity for the station: read both words until
 * two readings agree (a corrupted reply must not become a device). */
static int read_mac(struct flashop *f)
{
	const struct chip_desc *c = f->info.chip;
	uint32_t w[2][2];
	int e;

	for (int i = 0; i < 4; i++) {
		uint32_t *cur = w[i % 2];
		if ((e = flashop_rd(f, c->mac_reg, &cur[0])) || (e = flashop_rd(f, c->mac_reg2, &cur[1])))
			return e;
		if (i > 0 && w[0][0] == w[1][0] && w[0][1] == w[1][1]) {
			chip_mac_from_words(c, cur[0], cur[1], f->info.mac);
			f->info.mac_valid = 1;
			return ROM_OK;
		}
	}
	return rom_fail(f->rom, ROM_EPROTO, "MAC eFuse words read differently four times (corrupted replies)");
}

/* CHANGE_BAUDRATE, then check the link at the new rate. Some USB-UART
 * bridges (CH34x) cannot do 921600: when the first question at the new rate
 * goes unanswered, reset back to the ROM's 115200, sync again and try the
 * next lower rate (460800, 230400). Without a working reset the ROM cannot
 * be brought back, so that is an error naming the rate. */
static int switch_baud(struct flashop *f)
{
	static const uint32_t ladder[] = {460800, 230400};
	uint32_t want = f->opt.baud;
	int e;

	for (;;) {
		uint32_t rb = want;
		if ((e = rom_side_baud(f, want, &rb)) || (e = rom_change_baud(f->rom, rb, want)))
			return e;
		e = probe(f);
		if (!e)
			return ROM_OK;
		if (e != ROM_ETIMEDOUT && e != ROM_EPROTO)
			return e;
		uint32_t next = 0;
		for (size_t i = 0; i < sizeof(ladder) / sizeof(ladder[0]) && !next; i++)
			if (ladder[i] < want)
				next = ladder[i];
		if (!f->can_reset || !next)
			return rom_fail(f->rom, ROM_ETIMEDOUT,
					"no answer at %u baud after CHANGE_BAUDRATE (the serial bridge may not support it): "
					"use a lower --baud", (unsigned)want);
		rom_note_retry(f->rom);
		if (f->port->ops->set_baud(f->port, 115200))
			return rom_fail(f->rom, ROM_EIO, "cannot set %s back to 115200", f->port->name);
		if ((e = flashop_connect_loader(f)))
			return e;
		/* a fresh boot re-arms the USB-Serial/JTAG watchdogs */
		if (f->info.usb_jtag && !f->info.secure_download &&
		    (e = reset_disable_watchdogs(f->rom, f->info.chip)))
			return e;
		want = next;
	}
}

int flashop_identify(struct flashop *f)
{
	struct flashop_info *in = &f->info;
	const struct chip_desc *c;
	int e;

	if ((e = detect_chip(f)))
		return e;
	c = in->chip;
	if (in->have_security) {
		in->secure_boot = !!(in->security.flags & ROM_SEC_SECURE_BOOT);
		in->secure_download = !!(in->security.flags & ROM_SEC_SECURE_DOWNLOAD);
		in->jtag_disabled = !!(in->security.flags & (ROM_SEC_SOFT_DIS_JTAG | ROM_SEC_HARD_DIS_JTAG));
		in->flash_encrypted = rom_security_flash_encrypted(&in->security);
	}
	in->usb_jtag = f->opt.before == RESET_MODE_USB_JTAG;
	if (!in->usb_jtag && !in->secure_download && c->uartdev_buf_no) {
		/* esptool's uses_usb_jtag_serial: the ROM notes its console */
		uint32_t no = 0;
		if ((e = flashop_rd(f, c->uartdev_buf_no, &no)))
			return e;
		in->usb_jtag = no == c->uart_no_usb_jtag;
	}
	if (in->usb_jtag && !in->secure_download) {
		if ((e = reset_disable_watchdogs(f->rom, c)))
			return e;
	}
	/* Switch early so the rest of the session runs at the fast rate. */
	if (f->opt.baud && f->opt.baud != f->port->baud) {
		if (in->secure_download && c->id == CHIP_ESP32C2) {
			/* ESPTOOL-1231: the C2 cannot change baud in secure download mode */
		} else if ((e = switch_baud(f))) {
			return e;
		}
	}
	in->baud = f->port->baud;
	if ((e = cross_check_chip(f)))
		return e;
	c = in->chip;
	/* the eFuse registers are not readable in secure download mode */
	if (!in->secure_download && (e = read_mac(f)))
		return e;
	e = rom_spi_attach(f->rom);
	if (flashop_retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_spi_attach(f->rom);
	}
	if (e)
		return e;
	if (f->opt.flash_size) {
		in->flash_size = f->opt.flash_size;
	} else {
		/* No RDID in secure download mode (it needs register access):
		 * identification still succeeds (chip, security); flash
		 * operations then ask for the size (flash_size 0). */
		if (in->secure_download)
			return ROM_OK;
		if ((e = read_flash_id(f, &in->flash_id)))
			return e;
		if (in->flash_id == 0 || in->flash_id == 0xFFFFFF)
			return rom_fail(f->rom, ROM_EFLASHID, "SPI flash does not answer (RDID 0x%06x)",
					(unsigned)in->flash_id);
		in->flash_size = chip_flash_size_from_id(in->flash_id);
		if (!in->flash_size)
			return rom_fail(f->rom, ROM_EFLASHID,
					"unknown flash capacity byte 0x%02x (RDID 0x%06x): give --flash-size",
					(unsigned)((in->flash_id >> 16) & 0xFF), (unsigned)in->flash_id);
		in->flash_size_detected = 1;
	}
	/* Without this the ROM assumes 2 MiB and writes beyond fail. */
	e = rom_spi_set_params(f->rom, in->flash_size);
	if (flashop_retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_spi_set_params(f->rom, in->flash_size);
	}
	return e;
}

