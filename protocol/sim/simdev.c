/* The virtual ESP32 ROM loader: framing, timing, reset, registers and the
 * public API (the commands are in simdev_cmd.c, the chips in simdev_chips.c). */
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

static const char *const noise_lines[] = {
	"\r\n",
	"ets Jun  8 2016 00:22:57\r\n",
	"I (12) boot: noise on the line\r\n",
	"\x1b[0;32m~~\x1b[0m\r\n",
	"invalid header: 0xffffffff\r\n",
};



static uint64_t rng_next(struct simdev *d)
{
	/* splitmix64: tiny, seedable, good enough to pick bits to flip */
	uint64_t z = (d->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(struct simdev *d)
{
	return (double)(rng_next(d) >> 11) / 9007199254740992.0;
}

static uint64_t byte_ns(const struct simdev *d)
{
	if (!d->cfg.timing || !d->baud)
		return 0;
	return 10000000000ull / d->baud;
}

static int baud_mismatch(const struct simdev *d)
{
	uint64_t a = d->host_baud, b = d->baud;

	if (!a || !b)
		return 0;
	return (a > b ? a - b : b - a) * 100 > b * 3;
}

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

/* ---- registers --------------------------------------------------------- */

static struct reg *reg_find(struct simdev *d, uint32_t addr, int create)
{
	for (size_t i = 0; i < d->nregs; i++)
		if (d->regs[i].addr == addr)
			return &d->regs[i];
	if (!create || d->nregs == MAX_REGS)
		return NULL;
	d->regs[d->nregs].addr = addr;
	d->regs[d->nregs].val = 0;
	return &d->regs[d->nregs++];
}

void sd_reg_set(struct simdev *d, uint32_t addr, uint32_t val)
{
	struct reg *r = reg_find(d, addr, 1);

	if (r)
		r->val = val;
}

uint32_t simdev_reg_read(const struct simdev *d, uint32_t addr)
{
	if (sdefuse_owns(&d->efuse, addr))
		return sdefuse_read(&d->efuse, addr);
	if (addr == d->chip->uart_clkdiv)
		/* integer part in bits 0-19, fraction in 20-23; esptool's
		 * get_crystal_freq multiplies the integer part by the host baud */
		return (d->div16 >> 4 & 0xFFFFFu) | (d->div16 & 15u) << 20;
	for (size_t i = 0; i < d->nregs; i++)
		if (d->regs[i].addr == addr)
			return d->regs[i].val;
	return 0;
}

static void regs_reset(struct simdev *d)
{
	const uint8_t *m = d->cfg.mac;

	d->nregs = 0;
	sdefuse_reset(&d->efuse);
	sd_reg_set(d, 0x40001000u, d->chip->magic);
	sd_reg_set(d, d->chip->mac_lo_addr, (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]);
	/* ESP32 keeps a CRC8 in the top byte of this word; esptool trims it. */
	sd_reg_set(d, d->chip->mac_hi_addr, (uint32_t)m[0] << 8 | m[1]);
	if (d->cfg.usb_jtag) {
		sd_reg_set(d, d->chip->uartdev_buf_no, d->chip->usb_jtag_no);
		sd_reg_set(d, d->chip->wdt_config0, RTC_WDT_EN);
	}
	if (d->chip == &simdev_chips[SIMDEV_CHIP_ESP32]) {
		sd_reg_set(d, ESP32_RTCCALICFG1, ESP32_CALI_VALUE << 7);
		sd_reg_set(d, ESP32_EFUSE_WORD4, ESP32_CK8M);
		/* no GET_SECURITY_INFO here: the eFuses say it */
		sd_reg_set(d, ESP32_EFUSE_BLK0_WORD0, (uint32_t)(d->cfg.flash_crypt_cnt & 0x7F) << ESP32_FLASH_CRYPT_CNT_SHIFT);
		if (d->cfg.security_flags & SIMDEV_SEC_SECURE_BOOT)
			sd_reg_set(d, ESP32_EFUSE_BLK0_WORD6, ESP32_ABS_DONE_0);
	}
}

/* The UART runs from the real 40 MHz crystal; the ROM computes the divider
 * from the clock it believes in. */
void sd_set_rom_baud(struct simdev *d, uint32_t requested, int from_rom_estimate)
{
	uint64_t xtal = d->chip->xtal_hz;
	uint64_t clk = from_rom_estimate ? d->chip->rom_xtal_hz : xtal;

	d->div16 = (uint32_t)(clk * 16 / requested);
	if (!d->div16)
		d->div16 = 1;
	/* exact when the ROM knows its clock; otherwise what the divider gives */
	d->baud = clk == xtal ? requested : (uint32_t)(xtal * 16 / d->div16);
}

static uint32_t flash_rdid(const struct simdev *d)
{
	unsigned cap = 0;

	while (((size_t)1 << cap) < d->flash_size)
		cap++;
	/* manufacturer 0xEF, memory type 0x40, capacity = log2(bytes): what a
	 * Winbond W25Q part answers and esptool maps to a size */
	return 0xEFu | 0x40u << 8 | (uint32_t)cap << 16;
}

/* esptool's run_spiflash_command: writes USR/USR2/W0, sets SPI_CMD_USR in
 * the CMD register, polls until it clears, then reads W0. */
void sd_spi_user_command(struct simdev *d)
{
	uint32_t base = d->chip->spi_base;
	uint32_t cmd = simdev_reg_read(d, base + d->chip->spi_usr2_offs) & 0xFFFF;
	uint32_t w0 = base + d->chip->spi_w0_offs;
	uint32_t data = simdev_reg_read(d, w0);

	switch (cmd & 0xFF) {
	case 0x9F: /* RDID */
		sd_reg_set(d, w0, flash_rdid(d));
		break;
	case 0x05: /* RDSR */
		sd_reg_set(d, w0, d->spi_status[0]);
		break;
	case 0x35: /* RDSR2 */
		sd_reg_set(d, w0, d->spi_status[1]);
		break;
	case 0x15: /* RDSR3 */
		sd_reg_set(d, w0, d->spi_status[2]);
		break;
	case 0x01: /* WRSR (8 or 16 bits) */
		d->spi_status[0] = (uint8_t)data;
		d->spi_status[1] = (uint8_t)(data >> 8);
		break;
	case 0x31:
		d->spi_status[1] = (uint8_t)data;
		break;
	case 0x11:
		d->spi_status[2] = (uint8_t)data;
		break;
	default: /* WREN, WRDI, WEVSR, SFDP...: accepted, no data */
		break;
	}
	sd_reg_set(d, base, simdev_reg_read(d, base) & ~(1u << 18));
}

/* ---- output ------------------------------------------------------------ */

static int txq_push(struct simdev *d, uint8_t b, uint64_t t)
{
	if (d->txq_head + d->txq_len == d->txq_cap) {
		if (d->txq_head) {
			memmove(d->txq, d->txq + d->txq_head, d->txq_len * sizeof(*d->txq));
			d->txq_head = 0;
		}
		if (d->txq_len == d->txq_cap) {
			size_t cap = d->txq_cap ? d->txq_cap * 2 : 1024;
			struct txbyte *n;

			/* a host that never reads must not grow us without bound */
			if (cap > (1u << 22))
				return -1;
			n = realloc(d->txq, cap * sizeof(*n));
			if (!n)
				return -1;
			d->txq = n;
			d->txq_cap = cap;
		}
	}
	d->txq[d->txq_head + d->txq_len++] = (struct txbyte){ .t = t, .b = b };
	return 0;
}

/* Queue raw bytes on the device's TX line starting no earlier than t. */
static void emit(struct simdev *d, uint64_t t, const uint8_t *buf, size_t len, int corrupt)
{
	uint64_t bt = byte_ns(d);
	int garble = baud_mismatch(d);

	d->tx_free = max64(d->tx_free, t);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = buf[i];

		if (corrupt && d->cfg.corrupt_rate > 0 && rng_unit(d) < d->cfg.corrupt_rate) {
			b ^= (uint8_t)(1u << (rng_next(d) & 7));
			d->stats.corrupted++;
		}
		if (garble) {
			/* received at the wrong rate: noise, never a frame delimiter */
			b = (uint8_t)(b ^ 0x5A);
			if (b == SLIP_END || b == SLIP_ESC)
				b = 0x00;
			d->stats.garbled++;
		}
		d->tx_free += bt;
		if (txq_push(d, b, d->tx_free) == 0)
			d->stats.bytes_tx++;
	}
}

void sd_emit_text(struct simdev *d, uint64_t t, const char *s)
{
	emit(d, t, (const uint8_t *)s, strlen(s), 0);
}

/* Response: 01, cmd, u16 len, u32 value, data, then the 4 status bytes
 * (status, error, 2 reserved) every ESP32-family ROM sends. */
void sd_respond(struct simdev *d, uint64_t t, uint8_t cmd, uint32_t val, const uint8_t *data,
		    size_t dlen, uint8_t status, uint8_t error)
{
	uint8_t pkt[8 + 64 + 4];
	uint8_t enc[SLIP_ENCODED_MAX(sizeof(pkt))];
	size_t n = 8 + dlen + 4, elen;

	if (dlen > 64)
		return;
	pkt[0] = 0x01;
	pkt[1] = cmd;
	pkt[2] = (uint8_t)(dlen + 4);
	pkt[3] = (uint8_t)((dlen + 4) >> 8);
	le_put32(pkt + 4, val);
	if (dlen)
		memcpy(pkt + 8, data, dlen);
	pkt[8 + dlen] = status;
	pkt[9 + dlen] = error;
	pkt[10 + dlen] = 0;
	pkt[11 + dlen] = 0;
	if (d->cfg.garbage) {
		const char *line = noise_lines[rng_next(d) % (sizeof(noise_lines) / sizeof(noise_lines[0]))];

		sd_emit_text(d, t, line);
	}
	/* the ROM keeps this header: an unknown command is answered under it */
	d->last_op = cmd;
	d->last_val = val;
	elen = slip_encode(pkt, n, enc);
	emit(d, t, enc, elen, 1);
	d->stats.responses++;
	d->stats.last_status = status;
	d->stats.last_error = error;
}

void sd_respond_err(struct simdev *d, uint64_t t, uint8_t cmd, uint8_t error)
{
	sd_respond(d, t, cmd, 0, NULL, 0, 1, error);
}

/* ---- flash ------------------------------------------------------------- */

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
	regs_reset(d);
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
	regs_reset(d);
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

