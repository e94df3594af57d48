/* The virtual ESP32 ROM loader: framing, timing, reset, registers, commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/simdev.h"
#include "espfab/slip.h"

#define SECTOR 4096u
#define PAGE 256u
#define MAX_REGS 256
#define LINE_LOG_MAX 1024
#define MAX_INJECT 8
/* The EN pin has an RC delay on every devkit: a line state must hold this long
 * before the chip leaves reset, so the brief (1,1) of two separate ioctls in
 * esptool's ClassicReset does not boot it. */
#define EN_RC_NS 1000000ull
/* ROM prints its banner a few ms after reset is released. */
#define BOOT_LOG_DELAY_NS 2000000ull

struct chip_desc {
	const char *name;
	uint32_t magic;       /* READ_REG 0x40001000 */
	int sec_info_id;      /* GET_SECURITY_INFO chip id, -1: command rejected */
	uint32_t mac_lo_addr; /* eFuse word holding MAC bytes 2..5 */
	uint32_t mac_hi_addr; /* eFuse word holding MAC bytes 0..1 in its low 16 bits */
	uint32_t spi_base, spi_usr_offs, spi_usr2_offs, spi_w0_offs;
	uint32_t uart_clkdiv;
	unsigned begin_words; /* FLASH_BEGIN words: ESP32 4, S2 and later 5 */
	uint32_t rom_xtal_hz; /* what the ROM believes its clock is when it sets a new baud */
	/* USB-Serial/JTAG (0 = the chip has none): where the ROM keeps the
	 * console number and its USB value, and the RTC watchdog registers */
	uint32_t uartdev_buf_no, usb_jtag_no;
	uint32_t wdt_config0, wdt_wprotect, swd_conf, swd_wprotect;
	const char *banner;
};

#define RTC_WDT_WKEY 0x50D83AA1u
#define RTC_SWD_WKEY 0x8F1D312Au
#define RTC_SWD_AUTO_FEED_EN (1u << 31)
#define RTC_WDT_EN (1u << 31)

/* The ESP32 ROM derives CHANGE_BAUDRATE's divider from a crystal frequency it
 * estimates with the drifting 8 MHz RC oscillator (RTCCALICFG1 x eFuse
 * CK8M_FREQ). esptool reads both and scales the rate it asks for. We model a
 * chip whose estimate is 4 % high: a client that does not correct lands
 * 3.8 % off and hears noise. cali 832 << 7, CK8M 128: 832 * 15625 * 128 / 40. */
#define ESP32_RTCCALICFG1 0x3FF5F06Cu
#define ESP32_CALI_VALUE 832u
#define ESP32_EFUSE_WORD4 0x3FF5A010u
#define ESP32_CK8M 128u
#define ESP32_ROM_XTAL (ESP32_CALI_VALUE * 15625u * ESP32_CK8M / 40u)
#define XTAL_HZ 40000000u

/* Addresses as esptool's chip classes read them (targets/esp32*.py). */
static const struct chip_desc chips[] = {
	[SIMDEV_CHIP_ESP32] = { "ESP32", 0x00F01D83u, -1, 0x3FF5A004u, 0x3FF5A008u,
		0x3FF42000u, 0x1C, 0x24, 0x80, 0x3FF40014u, 4, ESP32_ROM_XTAL, 0, 0, 0, 0, 0, 0,
		"ets Jun  8 2016 00:22:57\r\n\r\n"
		"rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
		"waiting for download\r\n" },
	[SIMDEV_CHIP_ESP32S3] = { "ESP32-S3", 0x00000009u, 9, 0x60007044u, 0x60007048u,
		0x60002000u, 0x18, 0x20, 0x58, 0x60000014u, 5, 40000000u,
		0x3FCEF14Cu, 4, 0x60008098u, 0x600080B0u, 0x600080B4u, 0x600080B8u,
		"ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
		"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\n"
		"waiting for download\r\n" },
	[SIMDEV_CHIP_ESP32C3] = { "ESP32-C3", 0x1B31506Fu, 5, 0x60008844u, 0x60008848u,
		0x60002000u, 0x18, 0x20, 0x58, 0x60000014u, 5, 40000000u,
		0x3FCDF07Cu, 3, 0x60008090u, 0x600080A8u, 0x600080ACu, 0x600080B0u,
		"ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
		"rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0/1))\r\n"
		"waiting for download\r\n" },
};

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

enum fmode {
	FMODE_NONE = 0,
	FMODE_PLAIN,
	FMODE_DEFLATE,
};

struct txbyte {
	uint64_t t;
	uint8_t b;
};

struct reg {
	uint32_t addr, val;
};

struct inject {
	uint8_t cmd;
	uint8_t error;
	unsigned count;
};

struct simdev {
	struct simdev_config cfg;
	const struct chip_desc *chip;
	uint8_t *flash;
	size_t flash_size;
	int own_flash;
	size_t param_size; /* the ROM's idea of the flash size (SPI_SET_PARAMS) */
	enum simdev_state state;
	int dtr, rts;
	int boot_pending;
	uint64_t boot_at;
	uint32_t baud, host_baud;
	uint32_t div16; /* UART divider in 1/16ths, as the ROM programmed it */
	uint64_t rx_free, tx_free, busy_until;

	struct slip_decoder dec;
	uint8_t frame[SIMDEV_MAX_FRAME];

	struct txbyte *txq;
	size_t txq_head, txq_len, txq_cap;

	struct reg regs[MAX_REGS];
	size_t nregs;

	int attached;
	uint8_t spi_status[3];

	enum fmode fmode;
	uint32_t f_offset, f_size, f_blocks, f_block_size, f_next_seq;
	uint32_t f_written; /* deflate: bytes inflated so far */
	uint64_t f_last_page; /* 1 + index of the last page programmed, 0 = none */
	z_stream zs;
	int zs_live;

	/* USB-Serial/JTAG */
	int usb_dl_latch;     /* RTS rose while DTR was high: reset into download */
	unsigned usb_epoch;   /* bumped when the USB device re-enumerates */
	uint64_t usb_back_at; /* when the re-enumerated device is there again */
	int wdt_armed;
	uint64_t wdt_at;

	uint64_t rng;
	struct inject inj[MAX_INJECT];
	struct simdev_stats stats;
	struct simdev_line_event lines[LINE_LOG_MAX];
	size_t nlines;
};

/* ---- little helpers ---------------------------------------------------- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

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

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
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

int simdev_chip_parse(const char *s, enum simdev_chip *out)
{
	if (!strcmp(s, "esp32"))
		*out = SIMDEV_CHIP_ESP32;
	else if (!strcmp(s, "esp32s3") || !strcmp(s, "esp32-s3"))
		*out = SIMDEV_CHIP_ESP32S3;
	else if (!strcmp(s, "esp32c3") || !strcmp(s, "esp32-c3"))
		*out = SIMDEV_CHIP_ESP32C3;
	else
		return SIMDEV_EINVAL;
	return 0;
}

const char *simdev_chip_name(enum simdev_chip chip)
{
	switch (chip) {
	case SIMDEV_CHIP_ESP32:
	case SIMDEV_CHIP_ESP32S3:
	case SIMDEV_CHIP_ESP32C3:
		return chips[chip].name;
	}
	return "?";
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
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
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

static void reg_set(struct simdev *d, uint32_t addr, uint32_t val)
{
	struct reg *r = reg_find(d, addr, 1);

	if (r)
		r->val = val;
}

uint32_t simdev_reg_read(const struct simdev *d, uint32_t addr)
{
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
	reg_set(d, 0x40001000u, d->chip->magic);
	reg_set(d, d->chip->mac_lo_addr, (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]);
	/* ESP32 keeps a CRC8 in the top byte of this word; esptool trims it. */
	reg_set(d, d->chip->mac_hi_addr, (uint32_t)m[0] << 8 | m[1]);
	if (d->cfg.usb_jtag) {
		reg_set(d, d->chip->uartdev_buf_no, d->chip->usb_jtag_no);
		reg_set(d, d->chip->wdt_config0, RTC_WDT_EN);
	}
	if (d->chip == &chips[SIMDEV_CHIP_ESP32]) {
		reg_set(d, ESP32_RTCCALICFG1, ESP32_CALI_VALUE << 7);
		reg_set(d, ESP32_EFUSE_WORD4, ESP32_CK8M);
	}
}

/* The UART runs from the real 40 MHz crystal; the ROM computes the divider
 * from the clock it believes in. */
static void set_rom_baud(struct simdev *d, uint32_t requested, int from_rom_estimate)
{
	uint64_t clk = from_rom_estimate ? d->chip->rom_xtal_hz : XTAL_HZ;

	d->div16 = (uint32_t)(clk * 16 / requested);
	if (!d->div16)
		d->div16 = 1;
	/* exact when the ROM knows its clock; otherwise what the divider gives */
	d->baud = clk == XTAL_HZ ? requested : (uint32_t)((uint64_t)XTAL_HZ * 16 / d->div16);
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
static void spi_user_command(struct simdev *d)
{
	uint32_t base = d->chip->spi_base;
	uint32_t cmd = simdev_reg_read(d, base + d->chip->spi_usr2_offs) & 0xFFFF;
	uint32_t w0 = base + d->chip->spi_w0_offs;
	uint32_t data = simdev_reg_read(d, w0);

	switch (cmd & 0xFF) {
	case 0x9F: /* RDID */
		reg_set(d, w0, flash_rdid(d));
		break;
	case 0x05: /* RDSR */
		reg_set(d, w0, d->spi_status[0]);
		break;
	case 0x35: /* RDSR2 */
		reg_set(d, w0, d->spi_status[1]);
		break;
	case 0x15: /* RDSR3 */
		reg_set(d, w0, d->spi_status[2]);
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
	reg_set(d, base, simdev_reg_read(d, base) & ~(1u << 18));
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

static void emit_text(struct simdev *d, uint64_t t, const char *s)
{
	emit(d, t, (const uint8_t *)s, strlen(s), 0);
}

/* Response: 01, cmd, u16 len, u32 value, data, then the 4 status bytes
 * (status, error, 2 reserved) every ESP32-family ROM sends. */
static void respond(struct simdev *d, uint64_t t, uint8_t cmd, uint32_t val, const uint8_t *data,
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
	put_le32(pkt + 4, val);
	if (dlen)
		memcpy(pkt + 8, data, dlen);
	pkt[8 + dlen] = status;
	pkt[9 + dlen] = error;
	pkt[10 + dlen] = 0;
	pkt[11 + dlen] = 0;
	if (d->cfg.garbage) {
		const char *line = noise_lines[rng_next(d) % (sizeof(noise_lines) / sizeof(noise_lines[0]))];

		emit_text(d, t, line);
	}
	elen = slip_encode(pkt, n, enc);
	emit(d, t, enc, elen, 1);
	d->stats.responses++;
	d->stats.last_status = status;
	d->stats.last_error = error;
}

static void respond_err(struct simdev *d, uint64_t t, uint8_t cmd, uint8_t error)
{
	respond(d, t, cmd, 0, NULL, 0, 1, error);
}

/* ---- flash ------------------------------------------------------------- */

static void flash_session_end(struct simdev *d)
{
	if (d->zs_live) {
		inflateEnd(&d->zs);
		d->zs_live = 0;
	}
	d->fmode = FMODE_NONE;
}

/* Erase the sectors covering [off, off+size): the ROM erases whole sectors,
 * so bytes before an unaligned offset in the first sector are lost too. */
static uint64_t flash_erase(struct simdev *d, uint32_t off, uint32_t size)
{
	uint64_t start = off / SECTOR * (uint64_t)SECTOR;
	uint64_t end = ((uint64_t)off + size + SECTOR - 1) / SECTOR * SECTOR;
	uint64_t n;

	if (end > d->flash_size)
		end = d->flash_size;
	if (end <= start)
		return 0;
	memset(d->flash + start, 0xFF, (size_t)(end - start));
	n = (end - start) / SECTOR;
	d->stats.sectors_erased += n;
	return d->cfg.timing ? n * d->cfg.erase_ms * 1000000ull : 0;
}

/* NOR programming: a write can only clear bits. Each 256-byte page touched
 * costs one page-program time; a page shared with the previous write of the
 * same session (an unaligned block boundary, an inflate chunk) is counted once. */
static uint64_t flash_program(struct simdev *d, uint32_t off, const uint8_t *buf, size_t len)
{
	uint64_t first, last, n;

	for (size_t i = 0; i < len; i++)
		d->flash[off + i] &= buf[i];
	if (!len)
		return 0;
	first = off / PAGE;
	last = ((uint64_t)off + len - 1) / PAGE;
	if (d->f_last_page == first + 1)
		first++;
	n = last >= first ? last - first + 1 : 0;
	d->f_last_page = last + 1;
	d->stats.pages_programmed += n;
	return d->cfg.timing ? n * d->cfg.program_us * 1000ull : 0;
}

static int in_flash(const struct simdev *d, uint64_t off, uint64_t len)
{
	uint64_t lim = d->param_size < d->flash_size ? d->param_size : d->flash_size;

	return off <= lim && len <= lim - off;
}

/* ---- commands ---------------------------------------------------------- */

struct req {
	uint8_t cmd;
	uint16_t len;
	uint32_t chk;
	const uint8_t *data;
};

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t c = 0xEF;

	for (size_t i = 0; i < n; i++)
		c ^= p[i];
	return c;
}

/* Returns the ROM error byte (0 = success); *cost gets the modelled time. */
static uint8_t cmd_flash_begin(struct simdev *d, const struct req *r, int deflate, uint64_t *cost)
{
	uint32_t size, blocks, bsize, off;

	if (r->len != d->chip->begin_words * 4)
		return SIMDEV_ROM_EINVALID;
	if (!d->attached)
		return SIMDEV_ROM_EFAILED;
	size = get_le32(r->data);
	blocks = get_le32(r->data + 4);
	bsize = get_le32(r->data + 8);
	off = get_le32(r->data + 12);
	if (d->chip->begin_words == 5 && get_le32(r->data + 16) != 0)
		return SIMDEV_ROM_EFAILED; /* encrypted writes: no flash encryption here */
	if (off % 4 || bsize == 0 || bsize > 0x4000 || !in_flash(d, off, size))
		return SIMDEV_ROM_EFAILED;
	flash_session_end(d);
	*cost = flash_erase(d, off, size);
	d->f_offset = off;
	d->f_size = size;
	d->f_blocks = blocks;
	d->f_block_size = bsize;
	d->f_next_seq = 0;
	d->f_written = 0;
	d->f_last_page = 0;
	if (deflate) {
		memset(&d->zs, 0, sizeof(d->zs));
		if (inflateInit(&d->zs) != Z_OK)
			return SIMDEV_ROM_EDEFLATE;
		d->zs_live = 1;
		d->fmode = FMODE_DEFLATE;
	} else {
		d->fmode = FMODE_PLAIN;
	}
	return 0;
}

/* Common header checks of FLASH_DATA / FLASH_DEFL_DATA / MEM_DATA. A block
 * retried after a lost reply reuses its sequence number: accept seq-1 again
 * (1 = replay, nothing to do). */
static int data_header(struct simdev *d, const struct req *r, uint32_t *size, uint32_t *seq, uint8_t *err)
{
	if (r->len < 16) {
		*err = SIMDEV_ROM_EINVALID;
		return -1;
	}
	*size = get_le32(r->data);
	*seq = get_le32(r->data + 4);
	if (*size != (uint32_t)r->len - 16) {
		*err = SIMDEV_ROM_EINVALID;
		return -1;
	}
	if (checksum(r->data + 16, *size) != (uint8_t)r->chk) {
		*err = SIMDEV_ROM_ECRC;
		return -1;
	}
	(void)d;
	return 0;
}

static uint8_t cmd_flash_data(struct simdev *d, const struct req *r, uint64_t *cost)
{
	uint32_t size, seq;
	uint8_t err = 0;
	uint64_t off;

	if (data_header(d, r, &size, &seq, &err))
		return err;
	if (d->fmode != FMODE_PLAIN)
		return SIMDEV_ROM_EFAILED;
	if (size != d->f_block_size)
		return SIMDEV_ROM_EINVALID; /* the ROM wants every block padded */
	if (seq + 1 == d->f_next_seq)
		return 0;
	if (seq != d->f_next_seq)
		return SIMDEV_ROM_EINVALID;
	off = d->f_offset + (uint64_t)seq * d->f_block_size;
	if (!in_flash(d, off, size))
		return SIMDEV_ROM_EFLASHWR;
	*cost = flash_program(d, (uint32_t)off, r->data + 16, size);
	d->f_next_seq++;
	return 0;
}

static uint8_t cmd_defl_data(struct simdev *d, const struct req *r, uint64_t *cost)
{
	uint32_t size, seq;
	uint8_t err = 0;
	uint8_t out[4096];
	int zr = Z_OK;

	if (data_header(d, r, &size, &seq, &err))
		return err;
	if (d->fmode != FMODE_DEFLATE)
		return SIMDEV_ROM_EFAILED;
	if (size > d->f_block_size)
		return SIMDEV_ROM_EINVALID;
	if (seq + 1 == d->f_next_seq)
		return 0;
	if (seq != d->f_next_seq)
		return SIMDEV_ROM_EINVALID;
	if (!d->zs_live) /* stream already ended: trailing blocks are ignored */
		goto done;
	d->zs.next_in = (Bytef *)(uintptr_t)(r->data + 16);
	d->zs.avail_in = size;
	while (d->zs.avail_in > 0 || zr == Z_OK) {
		size_t got;

		d->zs.next_out = out;
		d->zs.avail_out = sizeof(out);
		zr = inflate(&d->zs, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return SIMDEV_ROM_EDEFLATE;
		got = sizeof(out) - d->zs.avail_out;
		if (got) {
			uint64_t off = (uint64_t)d->f_offset + d->f_written;

			/* the ROM only writes inside the region FLASH_DEFL_BEGIN erased */
			if ((uint64_t)d->f_written + got > d->f_size || !in_flash(d, off, got))
				return SIMDEV_ROM_EDEFLATE;
			*cost += flash_program(d, (uint32_t)off, out, got);
			d->f_written += (uint32_t)got;
		}
		if (zr == Z_STREAM_END) {
			inflateEnd(&d->zs);
			d->zs_live = 0;
			break;
		}
		if (zr == Z_BUF_ERROR || (got == 0 && d->zs.avail_in == 0))
			break;
	}
done:
	d->f_next_seq++;
	return 0;
}

static uint8_t cmd_md5(struct simdev *d, const struct req *r, uint8_t hex[32])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint32_t addr, size;

	if (r->len != 16)
		return SIMDEV_ROM_EINVALID;
	if (!d->attached)
		return SIMDEV_ROM_EFAILED;
	addr = get_le32(r->data);
	size = get_le32(r->data + 4);
	if (!in_flash(d, addr, size))
		return SIMDEV_ROM_EFLASHRD;
	if (!EVP_Digest(d->flash + addr, size, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return SIMDEV_ROM_EFAILED;
	/* the ROM answers 32 lowercase ASCII hex digits (the stub: 16 raw bytes) */
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = (uint8_t)digits[md[i] >> 4];
		hex[2 * i + 1] = (uint8_t)digits[md[i] & 15];
	}
	return 0;
}

static void do_reset(struct simdev *d, uint64_t t);

static void leave_loader(struct simdev *d)
{
	flash_session_end(d);
	d->state = SIMDEV_STATE_APP;
	d->stats.boots_app++;
}

/* Over USB-Serial/JTAG the ROM feeds neither the RTC watchdog nor the super
 * watchdog: both must be disabled (RWDT off, SWD auto-feed on) or the chip
 * resets in the middle of a long write. */
static int usb_wdt_live(const struct simdev *d)
{
	return (simdev_reg_read(d, d->chip->wdt_config0) & RTC_WDT_EN) ||
	       !(simdev_reg_read(d, d->chip->swd_conf) & RTC_SWD_AUTO_FEED_EN);
}

static uint8_t write_regs(struct simdev *d, const struct req *r, uint64_t *cost)
{
	if (r->len == 0 || r->len % 16)
		return SIMDEV_ROM_EINVALID;
	for (size_t i = 0; i < r->len; i += 16) {
		uint32_t addr = get_le32(r->data + i);
		uint32_t val = get_le32(r->data + i + 4);
		uint32_t mask = get_le32(r->data + i + 8);
		uint32_t delay = get_le32(r->data + i + 12);
		uint32_t old = simdev_reg_read(d, addr);

		if (addr == 0x40001000u || addr == d->chip->uart_clkdiv)
			continue; /* read-only for us */
		if (d->chip->wdt_config0 &&
		    (((addr == d->chip->wdt_config0) && simdev_reg_read(d, d->chip->wdt_wprotect) != RTC_WDT_WKEY) ||
		     ((addr == d->chip->swd_conf) && simdev_reg_read(d, d->chip->swd_wprotect) != RTC_SWD_WKEY)))
			continue; /* write-protected: the key register must hold the key */
		reg_set(d, addr, (old & ~mask) | (val & mask));
		if (d->wdt_armed && !usb_wdt_live(d))
			d->wdt_armed = 0;
		if (addr == d->chip->spi_base && (val & mask & (1u << 18)))
			spi_user_command(d);
		if (d->cfg.timing)
			*cost += (uint64_t)delay * 1000;
	}
	return 0;
}

static void handle_request(struct simdev *d, uint64_t t_arrived, const uint8_t *f, size_t n)
{
	struct req r;
	uint64_t t, cost = 0;
	uint8_t err = 0, buf[64];
	uint32_t val = 0;
	size_t dlen = 0;
	unsigned copies = 1;

	if (n < 8 || f[0] != 0x00) {
		d->stats.bad_frames++; /* our own echo or noise: the ROM ignores it */
		return;
	}
	r.cmd = f[1];
	r.len = (uint16_t)(f[2] | f[3] << 8);
	r.chk = get_le32(f + 4);
	r.data = f + 8;
	d->stats.requests++;
	d->stats.by_cmd[r.cmd]++;
	d->stats.last_cmd = r.cmd;
	if (d->cfg.drop_after >= 0 && d->stats.requests > (unsigned long long)d->cfg.drop_after) {
		d->stats.dropped++;
		return;
	}
	t = max64(t_arrived, d->busy_until);
	for (int i = 0; i < MAX_INJECT; i++) {
		if (d->inj[i].count && d->inj[i].cmd == r.cmd) {
			d->inj[i].count--;
			if (!d->inj[i].error) {
				d->stats.dropped++;
				return;
			}
			respond_err(d, t, r.cmd, d->inj[i].error);
			return;
		}
	}
	if ((size_t)r.len != n - 8) {
		respond_err(d, t, r.cmd, SIMDEV_ROM_EINVALID);
		return;
	}

	if ((d->cfg.security_flags & SIMDEV_SEC_SECURE_DOWNLOAD) &&
	    (r.cmd == SIMDEV_CMD_READ_REG || r.cmd == SIMDEV_CMD_WRITE_REG || r.cmd == SIMDEV_CMD_SPI_FLASH_MD5 ||
	     r.cmd == SIMDEV_CMD_READ_FLASH_SLOW)) {
		/* secure download mode: nothing on the chip may be read back */
		respond_err(d, t, r.cmd, SIMDEV_ROM_EINVALID);
		return;
	}

	switch (r.cmd) {
	case SIMDEV_CMD_SYNC: {
		static const uint8_t sync_hdr[4] = { 0x07, 0x07, 0x12, 0x20 };
		int ok = r.len == 36 && !memcmp(r.data, sync_hdr, 4);

		for (unsigned i = 4; ok && i < 36; i++)
			ok = r.data[i] == 0x55;
		if (!ok) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		val = SIMDEV_SYNC_VALUE;
		copies = SIMDEV_SYNC_REPLIES;
		break;
	}
	case SIMDEV_CMD_READ_REG:
		if (r.len != 4)
			err = SIMDEV_ROM_EINVALID;
		else
			val = simdev_reg_read(d, get_le32(r.data));
		break;
	case SIMDEV_CMD_WRITE_REG:
		err = write_regs(d, &r, &cost);
		break;
	case SIMDEV_CMD_SPI_ATTACH:
		/* ROM form: u32 pin config + u32 "is legacy" (the stub takes 4 bytes) */
		if (r.len != 8)
			err = SIMDEV_ROM_EINVALID;
		else
			d->attached = 1;
		break;
	case SIMDEV_CMD_SPI_SET_PARAMS: {
		uint32_t total;

		if (r.len != 24) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		total = get_le32(r.data + 4);
		if (total == 0 || total > 128u * 1024 * 1024)
			err = SIMDEV_ROM_EINVALID;
		else
			d->param_size = total;
		break;
	}
	case SIMDEV_CMD_FLASH_BEGIN:
		err = cmd_flash_begin(d, &r, 0, &cost);
		break;
	case SIMDEV_CMD_FLASH_DEFL_BEGIN:
		err = cmd_flash_begin(d, &r, 1, &cost);
		break;
	case SIMDEV_CMD_FLASH_DATA:
		err = cmd_flash_data(d, &r, &cost);
		break;
	case SIMDEV_CMD_FLASH_DEFL_DATA:
		err = cmd_defl_data(d, &r, &cost);
		break;
	case SIMDEV_CMD_FLASH_END:
	case SIMDEV_CMD_FLASH_DEFL_END:
		if (r.len != 4) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		/* the ROM answers, then leaves the loader (runs user code or reboots) */
		d->busy_until = t;
		respond(d, t, r.cmd, 0, NULL, 0, 0, 0);
		if (d->cfg.end_leaves_loader)
			leave_loader(d);
		else
			flash_session_end(d);
		return;
	case SIMDEV_CMD_SPI_FLASH_MD5:
		err = cmd_md5(d, &r, buf);
		if (!err)
			dlen = 32;
		break;
	case SIMDEV_CMD_READ_FLASH_SLOW: {
		uint32_t addr, len;

		if (r.len != 8) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		addr = get_le32(r.data);
		len = get_le32(r.data + 4);
		if (len > 64) {
			err = SIMDEV_ROM_EREADLEN;
			break;
		}
		if (!d->attached || !in_flash(d, addr, len)) {
			err = SIMDEV_ROM_EFLASHRD;
			break;
		}
		/* always a 64-byte buffer, whatever was asked (esptool relies on >= len) */
		memset(buf, 0xFF, sizeof(buf));
		memcpy(buf, d->flash + addr, len);
		dlen = 64;
		break;
	}
	case SIMDEV_CMD_CHANGE_BAUDRATE: {
		uint32_t nb;

		if (r.len != 8) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		nb = get_le32(r.data);
		if (nb < 300 || nb > 5000000) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		/* reply at the old rate, then switch */
		d->busy_until = t;
		respond(d, t, r.cmd, 0, NULL, 0, 0, 0);
		d->tx_free = max64(d->tx_free, t);
		set_rom_baud(d, nb, 1);
		return;
	}
	case SIMDEV_CMD_GET_SECURITY_INFO:
		if (d->chip->sec_info_id < 0) {
			/* the ESP32 ROM predates the command */
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		if (r.len != 0) {
			err = SIMDEV_ROM_EINVALID;
			break;
		}
		/* flags u32, flash_crypt_cnt u8, 7 key purposes, chip id u32, api u32 */
		memset(buf, 0, 20);
		put_le32(buf, d->cfg.security_flags);
		buf[4] = d->cfg.flash_crypt_cnt;
		put_le32(buf + 12, (uint32_t)d->chip->sec_info_id);
		dlen = 20;
		break;
	case SIMDEV_CMD_MEM_BEGIN:
		/* We cannot run uploaded code (no stub). Refuse at the first step:
		 * esptool's run_stub then fails at once with "Failed to enter RAM
		 * download mode"; refusing only MEM_END would leave it waiting
		 * forever for the stub's "OHAI". */
		err = r.len != 16 ? SIMDEV_ROM_EINVALID : SIMDEV_ROM_EFAILED;
		break;
	case SIMDEV_CMD_MEM_DATA: {
		uint32_t size, seq;

		if (data_header(d, &r, &size, &seq, &err))
			break;
		err = SIMDEV_ROM_EFAILED;
		break;
	}
	case SIMDEV_CMD_MEM_END:
		err = r.len != 8 ? SIMDEV_ROM_EINVALID : SIMDEV_ROM_EFAILED;
		break;
	default:
		/* unsupported: the ROM may repeat the error; clients must drain */
		err = SIMDEV_ROM_EINVALID;
		copies = 2;
		break;
	}
	d->busy_until = t + cost;
	d->stats.busy_ns += cost;
	for (unsigned i = 0; i < copies; i++)
		respond(d, d->busy_until, r.cmd, val, buf, err ? 0 : dlen, err ? 1 : 0, err);
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
	flash_session_end(d);
	slip_decoder_reset(&d->dec);
	d->state = SIMDEV_STATE_RESET;
	set_rom_baud(d, d->cfg.baud, 0);
	d->param_size = SIMDEV_ROM_DEFAULT_FLASH;
	d->attached = 0;
	d->rx_free = d->busy_until = t;
	d->wdt_armed = 0;
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
		emit_text(d, t + BOOT_LOG_DELAY_NS, d->chip->banner);
	} else {
		d->state = SIMDEV_STATE_APP;
		d->stats.boots_app++;
		emit_text(d, t + BOOT_LOG_DELAY_NS, app_log);
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
			handle_request(d, d->rx_free, d->dec.buf, d->dec.len);
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

int simdev_new(const struct simdev_config *cfg, struct simdev **out, struct simdev_err *err)
{
	struct simdev *d = NULL;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (cfg->chip != SIMDEV_CHIP_ESP32 && cfg->chip != SIMDEV_CHIP_ESP32S3 && cfg->chip != SIMDEV_CHIP_ESP32C3) {
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
	if ((cfg->security_flags || cfg->flash_crypt_cnt) && cfg->chip == SIMDEV_CHIP_ESP32)
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: the ESP32 ROM has no GET_SECURITY_INFO to report flags");
	if (cfg->usb_jtag && cfg->chip == SIMDEV_CHIP_ESP32)
		return seterr(err, SIMDEV_EINVAL, 0, "simdev: the ESP32 has no USB-Serial/JTAG");
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
	d->chip = &chips[cfg->chip];
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
	set_rom_baud(d, cfg->baud, 0);
	d->param_size = SIMDEV_ROM_DEFAULT_FLASH;
	d->spi_status[0] = d->spi_status[1] = d->spi_status[2] = 0;
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
	flash_session_end(d);
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
