/* The virtual ESP32 ROM loader: reset, boot, the byte streams and the
 * public API (registers in simdev_regs.c, output in simdev_out.c, the
 * commands in simdev_cmd.c, the chips in simdev_chips.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "espfab/err.h"
#include "simdev_int.h"

static const char app_log[] =
	"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
	"configsip: 0, SPIWP:0xee\r\nmode:DIO, clock div:2\r\n";

/* ---- config ------------------------------------------------------------ */

void simdev_config_default(struct simdev_config *cfg)
{
	static const uint8_t mac[6] = { 0x24, 0x0a, 0xc4, 0x00, 0x00, 0x01 };

	memset(cfg, 0, sizeof(*cfg));
	cfg->chip = SIMDEV_CHIP_ESP32;
	memcpy(cfg->mac, mac, sizeof(mac));
	cfg->flash_size = 4u * 1024 * 1024;
	cfg->baud = 115200;
	cfg->timing = 1;
	cfg->erase_ms = 45;
	cfg->program_us = 400;
	cfg->start_in_download = 1;
	cfg->end_leaves_loader = 1;
	cfg->drop_after = -1;
	cfg->seed = 1;
	cfg->wdt_ms = 2000;
}

int simdev_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return SIMDEV_EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

__attribute__((format(printf, 4, 5)))
static int seterr(struct simdev_err *err, int code, int e, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		err->sys_errno = e;
		va_start(ap, fmt);
		err_vformat(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- reset and boot ---------------------------------------------------- */

static void drop_tx_after(struct simdev *d, uint64_t t)
{
	while (d->txq_len && d->txq[d->txq_head + d->txq_len - 1].t > t)
		d->txq_len--;
	d->tx_free = t;
}

static void do_reset(struct simdev *d, uint64_t t)
{
	drop_tx_after(d, t);
	sd_flash_session_end(d);
	slip_decoder_reset(&d->dec);
	d->state = SIMDEV_STATE_RESET;
	sd_set_rom_baud(d, d->cfg.baud, 0);
	d->param_size = SIMDEV_ROM_DEFAULT_FLASH;
	d->attached = 0;
	d->rx_free = d->busy_until = t;
	d->wdt_armed = 0;
	d->last_op = 0;
	d->last_val = 0;
	d->need_sync = 0;
	sd_regs_reset(d);
	d->stats.resets++;
}

static void do_boot(struct simdev *d, uint64_t t, int dl)
{
	d->boot_pending = 0;
	d->rx_free = d->busy_until = t;
	if (d->cfg.usb_jtag && d->cfg.usb_reenum_ms) {
		/* the USB device drops off the bus and comes back as a new one */
		d->usb_epoch++;
		d->usb_back_at = t + (uint64_t)d->cfg.usb_reenum_ms * 1000000ull;
	}
	if (dl) {
		d->state = SIMDEV_STATE_DOWNLOAD;
		d->stats.boots_download++;
		if (d->cfg.usb_jtag && d->cfg.wdt_ms) {
			d->wdt_armed = 1;
			d->wdt_at = t + (uint64_t)d->cfg.wdt_ms * 1000000ull;
		}
		sd_emit_text(d, t + BOOT_LOG_DELAY_NS, d->chip->banner);
	} else {
		d->state = SIMDEV_STATE_APP;
		d->stats.boots_app++;
		sd_emit_text(d, t + BOOT_LOG_DELAY_NS, app_log);
	}
}

static int en_low(const struct simdev *d)
{
	return d->rts && !d->dtr;
}

static int io0_low(const struct simdev *d)
{
	/* USB-Serial/JTAG has no strapping circuit: the peripheral latches
	 * "download" when RTS rises while DTR is high (esptool's
	 * USBJTAGSerialReset goes (1,0) -> (1,1) -> (0,1) -> (0,0)) */
	if (d->cfg.strap_broken)
		return 0;
	if (d->cfg.usb_jtag)
		return d->usb_dl_latch;
	return d->dtr && !d->rts;
}

/* Settle a pending boot whose time has come (IO0 is sampled then), and the
 * USB watchdog if nobody disabled it. */
static void advance(struct simdev *d, uint64_t t)
{
	if (d->boot_pending && t >= d->boot_at)
		do_boot(d, d->boot_at, io0_low(d));
	if (d->wdt_armed && t >= d->wdt_at) {
		uint64_t at = d->wdt_at;
		unsigned reenum = d->cfg.usb_reenum_ms;

		/* a watchdog reset re-samples the straps (released: boot the app)
		 * and always re-enumerates the USB device */
		d->stats.wdt_resets++;
		do_reset(d, at);
		if (!reenum)
			d->cfg.usb_reenum_ms = 500;
		do_boot(d, at, 0);
		d->cfg.usb_reenum_ms = reenum;
	}
}

void simdev_advance(struct simdev *d, uint64_t t)
{
	advance(d, t);
}

void simdev_set_lines(struct simdev *d, uint64_t t, int dtr, int rts)
{
	int was_both;

	advance(d, t);
	was_both = d->dtr && d->rts;
	if (dtr >= 0)
		d->dtr = !!dtr;
	if (rts >= 0)
		d->rts = !!rts;
	if (d->cfg.usb_jtag && en_low(d) && d->state != SIMDEV_STATE_RESET)
		d->usb_dl_latch = was_both;
	if (d->nlines < LINE_LOG_MAX)
		d->lines[d->nlines++] = (struct simdev_line_event){ .t_ns = t, .dtr = d->dtr, .rts = d->rts };
	if (en_low(d)) {
		d->boot_pending = 0;
		if (d->state != SIMDEV_STATE_RESET)
			do_reset(d, t);
	} else if (d->state == SIMDEV_STATE_RESET && !d->boot_pending) {
		d->boot_pending = 1;
		d->boot_at = t + EN_RC_NS;
	}
}

void simdev_power_cycle(struct simdev *d, uint64_t t, int dl)
{
	advance(d, t);
	d->boot_pending = 0;
	do_reset(d, t);
	do_boot(d, t, dl);
}

/* ---- the byte streams -------------------------------------------------- */

void simdev_rx(struct simdev *d, uint64_t t, const uint8_t *buf, size_t len)
{
	uint64_t bt;

	advance(d, t);
	bt = byte_ns(d);
	d->stats.bytes_rx += len;
	if (d->state != SIMDEV_STATE_DOWNLOAD)
		return; /* in reset or running the app: nobody listens to the loader */
	if (baud_mismatch(d)) {
		d->stats.garbled += len;
		slip_decoder_reset(&d->dec);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		enum slip_status st;

		d->rx_free = max64(d->rx_free, t) + bt;
		st = slip_feed(&d->dec, buf[i]);
		if (st == SLIP_FRAME) {
			sd_handle_request(d, d->rx_free, d->dec.buf, d->dec.len);
			if (d->state != SIMDEV_STATE_DOWNLOAD)
				return;
		} else if (st != SLIP_MORE) {
			d->stats.bad_frames++;
		}
	}
}

size_t simdev_tx(struct simdev *d, uint64_t t, uint8_t *buf, size_t len)
{
	size_t n = 0;

	advance(d, t);
	while (n < len && d->txq_len && d->txq[d->txq_head].t <= t) {
		buf[n++] = d->txq[d->txq_head].b;
		d->txq_head++;
		d->txq_len--;
	}
	if (!d->txq_len)
		d->txq_head = 0;
	return n;
}

uint64_t simdev_next_event_ns(const struct simdev *d)
{
	uint64_t next = UINT64_MAX;

	if (d->txq_len)
		next = d->txq[d->txq_head].t;
	if (d->boot_pending && d->boot_at < next)
		next = d->boot_at;
	if (d->wdt_armed && d->wdt_at < next)
		next = d->wdt_at;
	return next;
}

void simdev_discard_tx(struct simdev *d, uint64_t t)
{
	advance(d, t);
	while (d->txq_len && d->txq[d->txq_head].t <= t) {
		d->txq_head++;
		d->txq_len--;
	}
	if (!d->txq_len)
		d->txq_head = 0;
}

void simdev_set_host_baud(struct simdev *d, uint32_t baud)
{
	d->host_baud = baud;
}

/* ---- lifecycle and knobs ----------------------------------------------- */

uint32_t simdev_efuse_get(const struct simdev *d, unsigned b, unsigned w)
{
	return d->efuse.l && b < EFUSE_BLOCKS && w < SDEFUSE_WORDS ? d->efuse.fuse[b][w] : 0;
}

void simdev_efuse_set(struct simdev *d, unsigned b, unsigned w, uint32_t bits)
{
	if (!d->efuse.l || b >= EFUSE_BLOCKS || w >= SDEFUSE_WORDS)
		return;
	d->efuse.fuse[b][w] |= bits;
	sdefuse_reset(&d->efuse);
	(void)sdefuse_save(&d->efuse);
}

unsigned simdev_efuse_programs(const struct simdev *d)
{
	return d->efuse.programs;
}

int simdev_new(const struct simdev_config *cfg, struct simdev **out, struct simdev_err *err)
{
	struct simdev *d = NULL;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!simdev_chip_valid(cfg->chip)) {
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: unknown chip %d", (int)cfg->chip);
	}
	if (cfg->flash_size < 256 * 1024 || cfg->flash_size > 16u * 1024 * 1024 ||
	    (cfg->flash_size & (cfg->flash_size - 1))) {
		return seterr(err, SIMDEV_EINVAL, 0,
			      "simdev: flash size %zu is not a power of two from 256KB to 16MB", cfg->flash_size);
	}
	if (cfg->baud < 300 || cfg->baud > 5000000) {
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: baud %u out of range 300..5000000", cfg->baud);
	}
	if ((cfg->security_flags & ~SIMDEV_SEC_SECURE_BOOT) && cfg->chip == SIMDEV_CHIP_ESP32)
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: the ESP32 has no secure download mode");
	if (cfg->flash_crypt_cnt > 0x7F && cfg->chip == SIMDEV_CHIP_ESP32)
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: the ESP32's FLASH_CRYPT_CNT has 7 bits");
	if (cfg->usb_jtag && !simdev_chips[cfg->chip].wdt_config0)
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: the %s has no USB-Serial/JTAG", simdev_chips[cfg->chip].name);
	/* OpenSSL loads its provider on the first digest of a process: a few
	 * ms of CPU that a ROM's first SPI_FLASH_MD5 does not cost. Paid here,
	 * it stays out of the timed session (32 boards starting at once spent
	 * their first ~40 ms of a batch on it, both cores busy). */
	{
		uint8_t md[EVP_MAX_MD_SIZE];
		(void)EVP_Digest("", 0, md, NULL, EVP_md5(), NULL);
	}
	if (!(cfg->corrupt_rate >= 0 && cfg->corrupt_rate <= 1)) {
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: corrupt rate %g not in [0,1]", cfg->corrupt_rate);
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		rc = seterr(err, SIMDEV_ENOMEM, ENOMEM, "simdev: %s", "out of memory");
		goto out;
	}
	d->cfg = *cfg;
	d->chip = &simdev_chips[cfg->chip];
	d->flash_size = cfg->flash_size;
	if (cfg->flash) {
		d->flash = cfg->flash;
	} else {
		d->flash = malloc(cfg->flash_size);
		if (!d->flash) {
			rc = seterr(err, SIMDEV_ENOMEM, ENOMEM, "simdev: %s", "out of memory for flash");
			goto out;
		}
		memset(d->flash, 0xFF, cfg->flash_size);
		d->own_flash = 1;
	}
	d->cfg.flash = d->flash;
	d->rng = cfg->seed;
	slip_decoder_init(&d->dec, d->frame, sizeof(d->frame));
	sd_set_rom_baud(d, cfg->baud, 0);
	d->param_size = SIMDEV_ROM_DEFAULT_FLASH;
	d->spi_status[0] = d->spi_status[1] = d->spi_status[2] = 0;
	sdefuse_init(&d->efuse, efuse_layout_for(d->chip->name));
	if (cfg->efuse_file && d->efuse.l) {
		char msg[sizeof(err->msg)];
		if (sdefuse_load(&d->efuse, cfg->efuse_file, msg, sizeof(msg))) {
			rc = seterr(err, SIMDEV_EIO, errno, "simdev: %s", msg);
			goto out;
		}
	}
	{
		const uint8_t *m = cfg->mac;
		/* the MAC lives in BLOCK1 on these chips */
		sdefuse_set_mac(&d->efuse, (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5],
				(uint32_t)m[0] << 8 | m[1]);
	}
	sd_regs_reset(d);
	if (cfg->start_in_download) {
		d->state = SIMDEV_STATE_DOWNLOAD;
	} else {
		d->state = SIMDEV_STATE_APP;
	}
	*out = d;
	d = NULL;
	rc = 0;
out:
	simdev_free(d);
	return rc;
}

void simdev_free(struct simdev *d)
{
	if (!d)
		return;
	sd_flash_session_end(d);
	if (d->own_flash)
		free(d->flash);
	free(d->txq);
	free(d);
}

enum simdev_state simdev_state(const struct simdev *d)
{
	return d->state;
}

uint32_t simdev_baud(const struct simdev *d)
{
	return d->baud;
}

uint8_t *simdev_flash(struct simdev *d, size_t *size)
{
	if (size)
		*size = d->flash_size;
	return d->flash;
}

void simdev_set_drop_after(struct simdev *d, long long n)
{
	/* counts from now on, so a test can arm it after connecting */
	d->cfg.drop_after = n < 0 ? -1 : (long long)d->stats.requests + n;
}

void simdev_set_corrupt(struct simdev *d, double rate, uint64_t seed)
{
	d->cfg.corrupt_rate = rate < 0 ? 0 : rate > 1 ? 1 : rate;
	d->cfg.seed = seed;
	d->rng = seed;
}

void simdev_set_garbage(struct simdev *d, int on)
{
	d->cfg.garbage = !!on;
}

void simdev_set_timing(struct simdev *d, int on, uint32_t erase_ms, uint32_t program_us)
{
	d->cfg.timing = !!on;
	d->cfg.erase_ms = erase_ms;
	d->cfg.program_us = program_us;
}

void simdev_inject(struct simdev *d, uint8_t cmd, unsigned count, uint8_t error)
{
	int free_slot = -1;

	for (int i = 0; i < MAX_INJECT; i++) {
		if (d->inj[i].count && d->inj[i].cmd == cmd) {
			free_slot = i;
			break;
		}
		if (!d->inj[i].count && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return;
	d->inj[free_slot] = (struct inject){ .cmd = cmd, .error = error, .count = count };
}

unsigned simdev_usb_epoch(const struct simdev *d)
{
	return d->usb_epoch;
}

uint64_t simdev_usb_back_ns(const struct simdev *d)
{
	return d->usb_back_at;
}

int simdev_usb_jtag(const struct simdev *d)
{
	return d->cfg.usb_jtag;
}

const struct simdev_stats *simdev_stats(const struct simdev *d)
{
	return &d->stats;
}

size_t simdev_line_log(const struct simdev *d, const struct simdev_line_event **ev)
{
	*ev = d->lines;
	return d->nlines;
}

