/* Flash operations: connect, identify, read, write, verify, erase, leave. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/flashop.h"
#include "le.h"

#define SYNC_TRIES 5
#define BLOCK_ATTEMPTS 3    /* esptool's WRITE_BLOCK_ATTEMPTS */
#define READ_ATTEMPTS 3

struct flashop {
	struct port *port;
	struct rom *rom;
	struct flashop_options opt;
	struct flashop_info info;
	int can_reset; /* the reset mode really drives lines (not degraded to none) */
	int have_magic;
	uint32_t magic; /* the register at 0x40001000, once read */
};

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

static int connect_loader(struct flashop *f)
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
	{
		char log[160];
		snprintf(log, sizeof(log), "%s", rom_diag(f->rom)->boot_log);
		return rom_fail(f->rom, ROM_ENOSYNC,
				"no SYNC reply from %s after %u attempts (%s)%s%s", p->name, attempts,
				reset_mode_name(f->opt.before), log[0] ? "; chip printed: " : "", log);
	}
}

/* Identification reads and writes are idempotent, and replies carry no
 * checksum: a reply lost to one flipped bit costs one retry, not the job.
 * (Not for the probe after a baud change, whose silence means "wrong rate".) */
static int retry_ok(int e)
{
	return e == ROM_ETIMEDOUT || e == ROM_EPROTO || e == ROM_EFAILED;
}

static int rd(struct flashop *f, uint32_t addr, uint32_t *v)
{
	int e = rom_read_reg(f->rom, addr, v);

	if (retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_read_reg(f->rom, addr, v);
	}
	return e;
}

static int wr(struct flashop *f, uint32_t addr, uint32_t v)
{
	int e = rom_write_reg(f->rom, addr, v);

	if (retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_write_reg(f->rom, addr, v);
	}
	return e;
}

static int detect_chip(struct flashop *f)
{
	struct flashop_info *in = &f->info;
	uint32_t magic = 0;
	int e;

	e = rom_get_security_info(f->rom, &in->security);
	if (e == ROM_ETIMEDOUT || e == ROM_EPROTO) {
		rom_note_retry(f->rom);
		e = rom_get_security_info(f->rom, &in->security);
	}
	if (e == ROM_OK) {
		in->have_security = 1;
		if (in->security.have_chip_id) {
			in->chip = chip_by_image_id(in->security.chip_id);
			if (!in->chip)
				return rom_fail(f->rom, ROM_ECHIP, "unsupported chip (GET_SECURITY_INFO chip id %u)",
						(unsigned)in->security.chip_id);
			return ROM_OK;
		}
		/* 12-byte reply: ESP32-S2, confirmed by the magic register below */
	} else if (e != ROM_EUNSUPPORTED && e != ROM_EFAILED) {
		return e;
	}
	/* ESP32 rejects GET_SECURITY_INFO; the magic register tells */
	e = rd(f, CHIP_MAGIC_REG, &magic);
	if (e)
		return e;
	f->magic = magic;
	f->have_magic = 1;
	in->chip = chip_by_magic(magic);
	if (!in->chip)
		return rom_fail(f->rom, ROM_ECHIP, "unknown chip (magic register 0x%08x)", (unsigned)magic);
	if (!in->chip->supported)
		return rom_fail(f->rom, ROM_ECHIP, "%s is not supported (magic register 0x%08x)",
				in->chip->name, (unsigned)magic);
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

	if ((e = rd(f, usr, &old_usr)) || (e = rd(f, usr2, &old_usr2)))
		return e;
	if ((e = wr(f, miso, 24 - 1)) ||
	    (e = wr(f, usr, (1u << 31) | (1u << 28))) || /* USR_COMMAND | USR_MISO */
	    (e = wr(f, usr2, (7u << 28) | 0x9F)) ||      /* 8-bit command RDID */
	    (e = wr(f, w0, 0)) ||
	    (e = wr(f, cmd_reg, 1u << 18)))              /* SPI_CMD_USR */
		return e;
	for (i = 0; i < 10; i++) {
		if ((e = rd(f, cmd_reg, &v)))
			return e;
		if (!(v & (1u << 18)))
			break;
	}
	if (i == 10)
		return rom_fail(f->rom, ROM_EFLASHID, "RDID: SPI command did not complete");
	if ((e = rd(f, w0, &v)))
		return e;
	if ((e = wr(f, usr, old_usr)) || (e = wr(f, usr2, old_usr2)))
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
		if ((e = rd(f, 0x3FF5F06Cu, &cali)) || (e = rd(f, 0x3FF5A010u, &efuse4)))
			return e;
		double cal = (double)((cali >> 7) & 0x01FFFFFFu) * 15625.0 * (double)(efuse4 & 0xFF) / 40.0;
		double valid = cal > 33e6 ? 40e6 : 26e6;
		/* a chip (or simulator) without the calibration values: no correction */
		if (cal > 0 && cal / valid > 0.5 && cal / valid < 2.0)
			*rom_baud = (uint32_t)((double)baud * cal / valid);
	} else if (c->id == CHIP_ESP32C2) {
		/* ESP32-C2 ROMs assume 40 MHz; with a 26 MHz crystal ask for 40/26 more */
		uint32_t div = 0;
		if ((e = rd(f, c->uart_clkdiv_reg, &div)))
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
		if ((e = rd(f, CHIP_MAGIC_REG, &f->magic)))
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
		if ((e = rd(f, c->mac_reg, &cur[0])) || (e = rd(f, c->mac_reg2, &cur[1])))
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
		if ((e = connect_loader(f)))
			return e;
		/* a fresh boot re-arms the USB-Serial/JTAG watchdogs */
		if (f->info.usb_jtag && !f->info.secure_download &&
		    (e = reset_disable_watchdogs(f->rom, f->info.chip)))
			return e;
		want = next;
	}
}

static int identify(struct flashop *f)
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
		if ((e = rd(f, c->uartdev_buf_no, &no)))
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
	if (retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_spi_attach(f->rom);
	}
	if (e)
		return e;
	if (f->opt.flash_size) {
		in->flash_size = f->opt.flash_size;
	} else {
		if (in->secure_download)
			return rom_fail(f->rom, ROM_ESECURE,
					"flash size cannot be detected in secure download mode: give --flash-size");
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
	if (retry_ok(e)) {
		rom_note_retry(f->rom);
		e = rom_spi_set_params(f->rom, in->flash_size);
	}
	return e;
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
	e = connect_loader(f);
	if (!e)
		e = identify(f);
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

static int check_range(struct flashop *f, uint32_t off, uint64_t len, const char *what)
{
	if ((uint64_t)off + len > f->info.flash_size)
		return rom_fail(f->rom, ROM_ERANGE, "%s: 0x%x+0x%llx is beyond the %u-byte flash", what,
				(unsigned)off, (unsigned long long)len, (unsigned)f->info.flash_size);
	return ROM_OK;
}

static int md5_local(const uint8_t *data, size_t len, uint8_t out[16])
{
	unsigned int n = 0;

	return EVP_Digest(data, len, out, &n, EVP_md5(), NULL) == 1 && n == 16 ? 0 : -1;
}

static void hex16(const uint8_t d[16], char out[33])
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[32] = '\0';
}

int flashop_verify(struct flashop *f, uint32_t off, const uint8_t *data, size_t len)
{
	uint8_t want[16], got[16];
	char hw[33], hg[33];
	int e;

	if (len == 0 || len > 0xFFFFFFFFu)
		return rom_fail(f->rom, ROM_EINVAL, "verify: empty region");
	if ((e = check_range(f, off, len, "verify")))
		return e;
	if (f->info.secure_download)
		return rom_fail(f->rom, ROM_ESECURE, "verify: SPI_FLASH_MD5 is not available in secure download mode");
	if (md5_local(data, len, want))
		return rom_fail(f->rom, ROM_ENOMEM, "verify: MD5 unavailable");
	if ((e = rom_flash_md5(f->rom, off, (uint32_t)len, got)))
		return e;
	if (memcmp(want, got, 16)) {
		/* The reply carries no checksum: a bit flipped on the way back
		 * would fail a good write. Ask once more; only a device that
		 * says the same thing twice is believed. */
		uint8_t again[16];
		if ((e = rom_flash_md5(f->rom, off, (uint32_t)len, again)))
			return e;
		if (!memcmp(want, again, 16))
			return ROM_OK;
		memcpy(got, again, 16);
	}
	if (memcmp(want, got, 16)) {
		hex16(want, hw);
		hex16(got, hg);
		return rom_fail(f->rom, ROM_EVERIFY, "verify of 0x%x+0x%zx failed: device MD5 %s, expected %s",
				(unsigned)off, len, hg, hw);
	}
	return ROM_OK;
}

static int retryable(int e)
{
	return e == ROM_ETIMEDOUT || e == ROM_EPROTO || e == ROM_EFAILED;
}

static int read_blocks(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len, flashop_progress_fn cb,
		       void *ctx)
{
	int e;

	if (len == 0)
		return rom_fail(f->rom, ROM_EINVAL, "read: empty region");
	if ((e = check_range(f, off, len, "read")))
		return e;
	for (uint32_t done = 0; done < len;) {
		uint32_t n = len - done < ROM_READ_SLOW_BLOCK ? len - done : ROM_READ_SLOW_BLOCK;
		for (int a = 0; a < READ_ATTEMPTS; a++) {
			e = rom_read_flash_slow(f->rom, off + done, buf + done, n);
			if (!e || !retryable(e))
				break;
			rom_note_retry(f->rom);
		}
		if (e)
			return e;
		done += n;
		if (cb)
			cb(ctx, done, len);
	}
	return ROM_OK;
}

int flashop_read_unchecked(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len)
{
	return read_blocks(f, off, buf, len, NULL, NULL);
}

int flashop_read(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len, flashop_progress_fn cb,
		 void *ctx)
{
	uint8_t want[16], got[16];
	int e;

	if ((e = read_blocks(f, off, buf, len, cb, ctx)))
		return e;
	/* The ROM's replies carry no checksum: compare with its own MD5 so a
	 * corrupted reply never passes as flash content. */
	if (off % 4 == 0 && len % 4 == 0 && !f->info.secure_download) {
		if ((e = rom_flash_md5(f->rom, off, len, want)))
			return e;
		if (md5_local(buf, len, got))
			return rom_fail(f->rom, ROM_ENOMEM, "read: MD5 unavailable");
		if (memcmp(want, got, 16))
			return rom_fail(f->rom, ROM_EVERIFY,
					"read of 0x%x+0x%x: data received differs from the device's MD5 (corrupted replies)",
					(unsigned)off, (unsigned)len);
	}
	return ROM_OK;
}

static int send_blocks(struct flashop *f, int deflate, const uint8_t *src, size_t srclen, size_t total_unc,
		       uint32_t timeout_ms, flashop_progress_fn cb, void *ctx)
{
	uint8_t block[ROM_FLASH_BLOCK];
	uint32_t nblocks = (uint32_t)((srclen + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
	int e = ROM_OK;

	for (uint32_t seq = 0; seq < nblocks; seq++) {
		size_t at = (size_t)seq * ROM_FLASH_BLOCK;
		size_t n = srclen - at < ROM_FLASH_BLOCK ? srclen - at : ROM_FLASH_BLOCK;
		size_t send = n;

		memcpy(block, src + at, n);
		if (!deflate && n < ROM_FLASH_BLOCK) {
			/* plain blocks are always full: pad with erased-flash bytes */
			memset(block + n, 0xFF, ROM_FLASH_BLOCK - n);
			send = ROM_FLASH_BLOCK;
		}
		for (int a = 0; a < BLOCK_ATTEMPTS; a++) {
			/* a retried block keeps its sequence number */
			e = rom_flash_data(f->rom, deflate, block, send, seq, timeout_ms);
			if (!e || !retryable(e))
				break;
			rom_note_retry(f->rom);
		}
		if (e)
			break;
		if (cb)
			cb(ctx, deflate ? (uint64_t)total_unc * (seq + 1) / nblocks : (uint64_t)(at + n), total_unc);
	}
	OPENSSL_cleanse(block, sizeof(block));
	return e;
}

int flashop_write(struct flashop *f, uint32_t off, const uint8_t *data, size_t len, unsigned flags,
		  flashop_progress_fn cb, void *ctx)
{
	uint8_t *img = NULL, *z = NULL;
	uLongf zlen = 0;
	size_t total, pad, zcap = 0;
	uint32_t start;
	int deflate = 0, e;

	if (len == 0)
		return rom_fail(f->rom, ROM_EINVAL, "write: empty image");
	if (off % 4)
		return rom_fail(f->rom, ROM_ERANGE, "write: offset 0x%x is not 4-byte aligned", (unsigned)off);
	/* The ROM erases whole sectors from a sector boundary: start there and
	 * fill the gap with 0xFF; pad the end to a 4-byte multiple. */
	start = off & ~(uint32_t)(ROM_SECTOR - 1);
	pad = off - start;
	total = (pad + len + 3) & ~(size_t)3;
	if ((e = check_range(f, start, total, "write")))
		return e;
	img = malloc(total);
	if (!img) {
		e = rom_fail(f->rom, ROM_ENOMEM, "write: out of memory");
		goto out;
	}
	memset(img, 0xFF, total);
	memcpy(img + pad, data, len);
	if (!(flags & FLASHOP_NO_COMPRESS)) {
		zcap = compressBound(total);
		z = malloc(zcap);
		if (!z) {
			e = rom_fail(f->rom, ROM_ENOMEM, "write: out of memory");
			goto out;
		}
		zlen = zcap;
		if (compress2(z, &zlen, img, total, 9) != Z_OK) {
			e = rom_fail(f->rom, ROM_EDEFLATE, "write: zlib failed");
			goto out;
		}
		deflate = zlen < total; /* whichever puts fewer bytes on the wire */
	}
	if (deflate) {
		/* the ROM wants the uncompressed size rounded up to its block size */
		uint32_t wsize = (uint32_t)((total + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK * ROM_FLASH_BLOCK);
		uint32_t nb = (uint32_t)((zlen + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
		e = rom_flash_begin(f->rom, 1, wsize, nb, ROM_FLASH_BLOCK, start,
				    f->info.chip->flash_begin_encrypted_word, rom_erase_timeout_ms(wsize));
		if (!e)
			/* one compressed block can inflate to the whole image: its
			 * programming time follows the uncompressed size */
			e = send_blocks(f, 1, z, zlen, total, rom_erase_timeout_ms((uint32_t)total), cb, ctx);
	} else {
		uint32_t nb = (uint32_t)((total + ROM_FLASH_BLOCK - 1) / ROM_FLASH_BLOCK);
		e = rom_flash_begin(f->rom, 0, (uint32_t)total, nb, ROM_FLASH_BLOCK, start,
				    f->info.chip->flash_begin_encrypted_word, rom_erase_timeout_ms((uint32_t)total));
		if (!e)
			e = send_blocks(f, 0, img, total, total, ROM_DEFAULT_TIMEOUT_MS, cb, ctx);
	}
	/* No FLASH_END here: it would make the ROM leave the loader. */
	if (!e && (flags & FLASHOP_VERIFY))
		e = flashop_verify(f, start, img, total);
out:
	if (z) {
		OPENSSL_cleanse(z, zcap);
		free(z);
	}
	if (img) {
		OPENSSL_cleanse(img, total);
		free(img);
	}
	return e;
}

int flashop_erase(struct flashop *f, uint32_t off, uint32_t size, flashop_progress_fn cb, void *ctx)
{
	uint8_t *ff;
	int e;

	if (off % ROM_SECTOR || size % ROM_SECTOR || size == 0)
		return rom_fail(f->rom, ROM_ERANGE, "erase: 0x%x+0x%x is not a whole number of 4 KiB sectors",
				(unsigned)off, (unsigned)size);
	if ((e = check_range(f, off, size, "erase")))
		return e;
	ff = malloc(size);
	if (!ff)
		return rom_fail(f->rom, ROM_ENOMEM, "erase: out of memory");
	memset(ff, 0xFF, size);
	/* The ROM has no region erase (that is a stub command); FLASH_DEFL_BEGIN
	 * erases the region and the 0xFF stream compresses to a few bytes. */
	e = flashop_write(f, off, ff, size, FLASHOP_VERIFY, cb, ctx);
	free(ff);
	return e;
}

int flashop_hard_reset(struct flashop *f)
{
	int e;

	if (f->info.usb_jtag && f->info.chip && f->info.chip->has_usb_jtag) {
		/* A core reset does not re-sample the strapping pins on USB-JTAG:
		 * only a watchdog reset leaves download mode. */
		return reset_watchdog(f->rom, f->info.chip);
	}
	e = reset_hard_rts(f->port);
	if (e != ROM_ENOLINES) {
		if (e)
			return rom_fail(f->rom, e, "hard reset failed: %s", rom_strerror(e));
		return ROM_OK;
	}
	/* No modem lines (TCP, pty): leave the loader the way esptool's run()
	 * does, FLASH_BEGIN of nothing then FLASH_END "run user code". The ROM
	 * may not answer the last one. */
	e = rom_flash_begin(f->rom, 0, 0, 0, ROM_FLASH_BLOCK, 0, f->info.chip->flash_begin_encrypted_word,
			    ROM_DEFAULT_TIMEOUT_MS);
	if (e)
		return e;
	return rom_flash_end(f->rom, 0, 1, 0);
}

int flashop_parse_size(const char *s, uint32_t *out)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return ROM_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return ROM_EINVAL;
	if (*end) {
		unsigned long long mul;
		char u = (char)toupper((unsigned char)*end);
		if (u == 'K')
			mul = 1024;
		else if (u == 'M')
			mul = 1024 * 1024;
		else
			return ROM_EINVAL;
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return ROM_EINVAL;
		v *= mul;
	}
	if (v == 0 || v > 0xFFFFFFFFull)
		return ROM_EINVAL;
	*out = (uint32_t)v;
	return ROM_OK;
}
