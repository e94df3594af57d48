/* Facts about the ESP32-family chips the ROM client supports.
 *
 * Register addresses and identification values follow Espressif's esptool
 * target definitions (esptool/targets/<chip>.py, v4.8) and the ROM protocol
 * documentation; every value here is a hardware fact, not a tunable.
 * The table is constant data: safe to share between threads.
 */
#ifndef ESPFAB_CHIP_H
#define ESPFAB_CHIP_H

#include <stdint.h>

enum chip_id {
	CHIP_UNKNOWN = 0,
	CHIP_ESP32,
	CHIP_ESP32S2,
	CHIP_ESP32S3,
	CHIP_ESP32C2,
	CHIP_ESP32C3,
	CHIP_ESP32C6,
	CHIP_ESP32H2,
	CHIP_ESP8266, /* recognised only to say it is not supported */
	CHIP_ESP32C5, /* recognised only to say it is not supported (yet) */
	CHIP_ESP32C61,
	CHIP_ESP32P4,
};

/* Where the ROM's SPI user-command registers are (for RDID, see
 * esptool's run_spiflash_command). */
struct chip_spi_regs {
	uint32_t base;
	uint32_t usr, usr1, usr2, mosi_dlen, miso_dlen, w0; /* offsets from base */
};

/* RTC watchdog and super-watchdog registers: over USB-Serial/JTAG the ROM
 * feeds neither, so they must be disabled after connecting (esptool's
 * disable_watchdogs) and the RTC WDT is what resets the chip out of
 * download mode (esptool's watchdog_reset). 0 = not present. */
struct chip_wdt_regs {
	uint32_t wdt_config0, wdt_config1, wdt_wprotect, wdt_wkey;
	uint32_t swd_conf, swd_wprotect, swd_wkey, swd_auto_feed;
};

struct chip_desc {
	enum chip_id id;
	const char *name;          /* "ESP32-S3" */
	const char *key;           /* "esp32s3" */
	uint32_t image_chip_id;    /* GET_SECURITY_INFO chip id (and image header) */
	uint32_t magic[4];         /* values of the register at 0x40001000, 0-terminated */
	uint32_t mac_reg;          /* first MAC eFuse word (see chip_mac_from_words) */
	uint32_t mac_reg2;         /* second MAC eFuse word */
	int mac_esp32_layout;      /* 1: ESP32 block-0 layout (CRC byte in word 2) */
	struct chip_spi_regs spi;
	struct chip_wdt_regs wdt;
	uint32_t uart_clkdiv_reg;
	/* ROM .bss variable naming the console in use, and its value when that
	 * is the USB-Serial/JTAG (esptool's uses_usb_jtag_serial); 0 = unknown */
	uint32_t uartdev_buf_no, uart_no_usb_jtag;
	uint32_t bootloader_offset;
	int flash_begin_encrypted_word; /* ROM's FLASH_BEGIN takes a 5th word */
	/* The ROM knows GET_SECURITY_INFO (S2 and later; esptool's
	 * get_security_info, esp32s3_or_newer_function_only for the chip id) */
	int rom_has_security_info;
	/* After a command it does not know, the ROM answers nothing but SYNC
	 * until synced again (ESP32, ESP8266: esptool cmds.py detect_chip) */
	int resync_after_unsupported;
	/* ESP32 only (no GET_SECURITY_INFO): eFuse words with FLASH_CRYPT_CNT
	 * and the secure boot ABS_DONE bit (esptool targets/esp32.py) */
	uint32_t efuse_crypt_cnt_reg, efuse_crypt_cnt_mask, efuse_sb_reg, efuse_sb_mask;
	int has_usb_jtag;          /* has the USB-Serial/JTAG peripheral */
	int supported;             /* the client supports writing to it */
};

/* Magic register read when GET_SECURITY_INFO gives no chip id. */
#define CHIP_MAGIC_REG 0x40001000u

/* Lookups return NULL when nothing matches. Returned pointers are static. */
const struct chip_desc *chip_by_id(enum chip_id id);
const struct chip_desc *chip_by_image_id(uint32_t image_chip_id);
/* By GET_SECURITY_INFO chip id, supported or not (to name the chip). */
const struct chip_desc *chip_by_security_id(uint32_t chip_id);
const struct chip_desc *chip_by_magic(uint32_t magic);
const struct chip_desc *chip_by_key(const char *key);

/* Build the 6-byte MAC from the two eFuse words as the chip stores it. */
void chip_mac_from_words(const struct chip_desc *c, uint32_t w1, uint32_t w2, uint8_t mac[6]);

/* Flash size in bytes from the RDID capacity byte (bits 16..23 of the JEDEC
 * id as esptool reads it), or 0 when the byte is not a known capacity. */
uint32_t chip_flash_size_from_id(uint32_t jedec_id);

#endif
