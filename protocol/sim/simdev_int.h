/* Internals of the simdev engine, shared by its source files only. */
#ifndef ESPFAB_SIMDEV_INT_H
#define ESPFAB_SIMDEV_INT_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "espfab/simdev.h"
#include "espfab/slip.h"
#include "espfab/le.h"
#include "simdev_efuse.h"

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


/* One chip family's ROM as espfab-sim models it. The sources of each value
 * are cited in simdev_chips.c and docs/rom-behaviour.md. */
struct chip_desc {
	const char *name;
	uint32_t magic;       /* READ_REG 0x40001000 */
	/* GET_SECURITY_INFO: reply data length (0: the ROM does not know the
	 * command, 12: ESP32-S2 without chip id, 20: with chip id) and the id */
	unsigned sec_info_len;
	uint32_t sec_info_id;
	/* After a command it does not know the ROM needs a fresh SYNC before it
	 * answers again (esptool's detect_chip: ESP32 and ESP8266 only) */
	int resync_after_unknown;
	uint32_t mac_lo_addr; /* eFuse word holding MAC bytes 2..5 */
	uint32_t mac_hi_addr; /* eFuse word holding MAC bytes 0..1 in its low 16 bits */
	uint32_t spi_base, spi_usr_offs, spi_usr2_offs, spi_w0_offs;
	uint32_t uart_clkdiv;
	unsigned begin_words; /* FLASH_BEGIN words: ESP32 4, S2 and later 5 */
	uint32_t xtal_hz;     /* the crystal the UART really runs from */
	uint32_t rom_xtal_hz; /* what the ROM believes its clock is when it sets a new baud */
	/* USB-Serial/JTAG (0 = the chip has none): where the ROM keeps the
	 * console number and its USB value, and the RTC watchdog registers */
	uint32_t uartdev_buf_no, usb_jtag_no;
	uint32_t wdt_config0, wdt_wprotect, swd_conf, swd_wprotect;
	uint32_t swd_wkey, swd_auto_feed; /* C6/H2: LP_WDT key and bit 18 */
	const char *banner;
};

#define RTC_WDT_WKEY 0x50D83AA1u
#define RTC_SWD_WKEY 0x8F1D312Au
#define RTC_SWD_AUTO_FEED_EN (1u << 31)
#define RTC_WDT_EN (1u << 31)

/* ESP32 eFuse block 0 read registers (esptool targets/esp32.py): word 0
 * holds FLASH_CRYPT_CNT in bits 20..26, word 6 ABS_DONE_0 (secure boot v1)
 * in bit 4. The ESP32 ROM has no GET_SECURITY_INFO: this is how a client
 * learns that flash encryption is on. */
#define ESP32_EFUSE_BLK0_WORD0 0x3FF5A000u
#define ESP32_EFUSE_BLK0_WORD6 0x3FF5A018u
#define ESP32_FLASH_CRYPT_CNT_SHIFT 20
#define ESP32_ABS_DONE_0 (1u << 4)

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
#define XTAL26_HZ 26000000u
#define XTAL32_HZ 32000000u

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
	struct sdefuse efuse; /* survives resets: fuses are fuses */

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

	/* The ROM reuses its last response header for a command it does not
	 * know: remember it. need_sync: ESP32 ignores all but SYNC after one. */
	uint8_t last_op;
	uint32_t last_val;
	int need_sync;

	uint64_t rng;
	struct inject inj[MAX_INJECT];
	struct simdev_stats stats;
	struct simdev_line_event lines[LINE_LOG_MAX];
	size_t nlines;
};

/* ---- little helpers ---------------------------------------------------- */

static inline uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* One byte's time on the wire at the ROM's baud (0: timing off). */
static inline uint64_t byte_ns(const struct simdev *d)
{
	if (!d->cfg.timing || !d->baud)
		return 0;
	return 10000000000ull / d->baud;
}

/* More than 3 % apart: the receiver reads noise. */
static inline int baud_mismatch(const struct simdev *d)
{
	uint64_t a = d->host_baud, b = d->baud;

	if (!a || !b)
		return 0;
	return (a > b ? a - b : b - a) * 100 > b * 3;
}

/* Shared by the engine's files (simdev.c: reset, boot, the byte streams and
 * the public API; simdev_regs.c: registers and the SPI flash commands;
 * simdev_out.c: what the ROM sends; simdev_cmd.c: the ROM commands;
 * simdev_chips.c: the chip table). */
extern const struct chip_desc simdev_chips[];
void sd_respond(struct simdev *d, uint64_t t, uint8_t cmd, uint32_t val, const uint8_t *data, size_t dlen,
		uint8_t status, uint8_t error);
void sd_respond_err(struct simdev *d, uint64_t t, uint8_t cmd, uint8_t error);
void sd_emit_text(struct simdev *d, uint64_t t, const char *s);
void sd_reg_set(struct simdev *d, uint32_t addr, uint32_t val);
/* The registers as the ROM leaves them after a reset (eFuses excepted). */
void sd_regs_reset(struct simdev *d);
void sd_spi_user_command(struct simdev *d);
void sd_set_rom_baud(struct simdev *d, uint32_t requested, int from_rom_estimate);
void sd_flash_session_end(struct simdev *d);
void sd_handle_request(struct simdev *d, uint64_t t_arrived, const uint8_t *f, size_t n);

#endif
