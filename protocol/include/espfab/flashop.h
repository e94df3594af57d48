/* Flash operations over the ROM loader: what the daemon and `espfab flash` call.
 *
 * Typical worker:
 *
 *     struct flashop_options o;
 *     struct flashop *f;
 *     struct rom_diag d;
 *     flashop_options_init(&o);
 *     o.before = RESET_MODE_CLASSIC; o.baud = 921600;
 *     if (flashop_open("/dev/ttyUSB0", &o, &f, &d))   // reset, sync, identify, attach
 *             fail(d.msg);
 *     flashop_info(f)->chip->name, ->mac, ->flash_size ...
 *     flashop_write(f, 0x9000, img, len, FLASHOP_VERIFY, progress, ctx);
 *     flashop_hard_reset(f);                            // leave the loader
 *     flashop_close(f);
 *
 * One struct flashop per port, owned by one thread; no globals, so N ports
 * run in N threads of one process. flashop_cancel() is the only call allowed
 * from another thread: every call in progress (or later) on that port then
 * returns ROM_ECANCELED promptly. Every call returns 0 or a negative ROM_E*
 * code (rom.h); flashop_diag() has the details: the failing command, the
 * ROM's status and error bytes verbatim, errno, and a one-line message.
 * Data buffers stay the caller's; the module wipes its own copies (NVS
 * images carry secrets) and never logs payload bytes.
 */
#ifndef ESPFAB_FLASHOP_H
#define ESPFAB_FLASHOP_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/chip.h"
#include "espfab/port.h"
#include "espfab/reset.h"
#include "espfab/rom.h"

struct flashop_options {
	uint32_t baud;             /* rate after connecting; 0 or 115200 = no change */
	enum reset_mode before;    /* how to enter the loader */
	uint32_t flash_size;       /* bytes; 0 = detect by RDID */
	unsigned connect_attempts; /* resets (each followed by up to 5 SYNCs); 0 = 4 */
	uint32_t reopen_ms;        /* USB-Serial/JTAG re-enumeration deadline; 0 = 5000 */
};

/* Defaults: 115200, classic reset, detect flash size. */
void flashop_options_init(struct flashop_options *o);

struct flashop_info {
	const struct chip_desc *chip;
	uint8_t mac[6];
	int mac_valid;             /* 0 in secure download mode */
	uint32_t flash_id;         /* JEDEC id from RDID (0 when not read) */
	uint32_t flash_size;       /* bytes, as given to SPI_SET_PARAMS; 0 in secure
	                            * download mode without opt.flash_size (unknown:
	                            * flash operations fail with ROM_ESECURE) */
	int flash_size_detected;   /* 1 = from RDID, 0 = given by the caller */
	int have_security;         /* GET_SECURITY_INFO answered */
	struct rom_security security;
	int secure_boot, secure_download, flash_encrypted, jtag_disabled;
	uint32_t baud;             /* rate in force */
	int usb_jtag;              /* talking through the chip's USB-Serial/JTAG (the
	                            * ROM says so, or --before usb_reset): watchdogs
	                            * disabled, hard reset by watchdog */
};

typedef void (*flashop_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct flashop;

/* Open the port by name (port_open), reset into the loader, SYNC, identify
 * the chip, switch baud, read MAC and security flags, SPI_ATTACH, and
 * SPI_SET_PARAMS with the real flash size. On Espressif's USB-Serial/JTAG
 * (303A:1001) RESET_MODE_CLASSIC becomes RESET_MODE_USB_JTAG, as in esptool;
 * on ports without modem lines (TCP, ptys) it degrades to RESET_MODE_NONE. On failure *out is NULL, *diag (may be
 * NULL) says why, and everything is released. */
int flashop_open(const char *port_name, const struct flashop_options *o, struct flashop **out,
		 struct rom_diag *diag);
/* Same over an already open port, which the flashop then owns (closed on
 * failure too). Tests pass the simulator's fake port here. */
int flashop_attach(struct port *p, const struct flashop_options *o, struct flashop **out,
		   struct rom_diag *diag);

const struct flashop_info *flashop_info(const struct flashop *f);
const struct rom_diag *flashop_diag(const struct flashop *f);
const struct rom_stats *flashop_stats(const struct flashop *f);
struct port *flashop_port(const struct flashop *f);

/* Read len bytes at off (READ_FLASH_SLOW, 64 bytes a request). When off and
 * len are 4-byte aligned the result is checked against the ROM's MD5 of the
 * region: the ROM's replies carry no checksum. */
int flashop_read(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len, flashop_progress_fn cb,
		 void *ctx);
/* The same without the MD5 check, for a caller that reads in steps until
 * it knows how much it needs and then checks the whole with
 * flashop_verify() (one MD5 round trip instead of one per step). */
int flashop_read_unchecked(struct flashop *f, uint32_t off, uint8_t *buf, uint32_t len);

#define FLASHOP_NO_COMPRESS 0x1u /* plain FLASH_DATA even when zlib would be smaller */
#define FLASHOP_VERIFY 0x2u      /* SPI_FLASH_MD5 of the written region afterwards */
/* The data is meant to sit in flash as it is although flash encryption is
 * on (an NVS image encrypted by NVS encryption in a partition without the
 * encrypted flag). Without it a write to such a device is ROM_EENCRYPTED. */
#define FLASHOP_PLAINTEXT_OK 0x4u
/* Write data at off (4-byte aligned). The start is padded back to the
 * sector with 0xFF (the ROM erases whole sectors), the end to 4 bytes.
 * Sent compressed (FLASH_DEFL_*) when zlib makes it smaller, unless
 * FLASHOP_NO_COMPRESS. Never sends FLASH_END (the ROM may stop answering).
 * cb(ctx, done, total) reports uncompressed bytes; may be NULL. */
int flashop_write(struct flashop *f, uint32_t off, const uint8_t *data, size_t len, unsigned flags,
		  flashop_progress_fn cb, void *ctx);
/* Compare the device's MD5 of [off, off+len) with MD5 of data:
 * ROM_EVERIFY on mismatch (both digests in the message). */
int flashop_verify(struct flashop *f, uint32_t off, const uint8_t *data, size_t len);
/* Erase [off, off+size), both sector-aligned, and check it reads as 0xFF. */
int flashop_erase(struct flashop *f, uint32_t off, uint32_t size, flashop_progress_fn cb, void *ctx);

/* One 32-bit register through READ_REG / WRITE_REG (mask all ones, no
 * delay), with one retry of a reply lost to noise: what the eFuse module
 * drives the controller with. ROM_ESECURE in secure download mode. */
int flashop_read_reg(struct flashop *f, uint32_t addr, uint32_t *v);
int flashop_write_reg(struct flashop *f, uint32_t addr, uint32_t v);

/* Leave the loader and boot the application: RTS pulse on the classic
 * circuit, RTC watchdog reset over USB-Serial/JTAG, and on ports without
 * modem lines (TCP, ptys) FLASH_BEGIN(0) + FLASH_END(run) as esptool's
 * run(). The flashop is of no further use except flashop_close(). */
int flashop_hard_reset(struct flashop *f);

/* Thread-safe: makes every current and later call return ROM_ECANCELED. */
void flashop_cancel(struct flashop *f);
/* Close the port and free everything; flashop_close(NULL) is fine. */
void flashop_close(struct flashop *f);

/* Parse "4MB", "16M", "0x400000", "2097152" into bytes; 0 or ROM_EINVAL. */
int flashop_parse_size(const char *s, uint32_t *out);

#endif
