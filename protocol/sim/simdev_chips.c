/* The chips espfab-sim models: identification values, register addresses
 * and ROM traits as Espressif's tools read them. Sources:
 *  [T] esptool v4.8.1 targets/<chip>.py (magic, eFuse/MAC, SPI, UART, RTC/LP
 *      watchdog registers, UARTDEV_BUF_NO);
 *  [L] esptool v4.8.1 loader.py command() / cmds.py detect_chip (unknown
 *      commands, S2's 12-byte security info, re-sync after an unknown one);
 *  [B] ROM banners as printed in esptool --trace logs of real boards.
 * docs/rom-behaviour.md lists each behaviour with its source and its test. */
#include <string.h>

#include "simdev_int.h"

#define S2_STYLE_SPI(base) (base), 0x18, 0x20, 0x58

const struct chip_desc simdev_chips[] = {
	[SIMDEV_CHIP_ESP32] = {
		.name = "ESP32", .magic = 0x00F01D83u,
		.sec_info_len = 0, /* [L] the ESP32 ROM predates GET_SECURITY_INFO */
		.resync_after_unknown = 1, /* [L] "ESP32/ESP8266 are reset after an unsupported command" */
		.mac_lo_addr = 0x3FF5A004u, .mac_hi_addr = 0x3FF5A008u,
		.spi_base = 0x3FF42000u, .spi_usr_offs = 0x1C, .spi_usr2_offs = 0x24, .spi_w0_offs = 0x80,
		.uart_clkdiv = 0x3FF40014u, .begin_words = 4, .xtal_hz = XTAL_HZ, .rom_xtal_hz = ESP32_ROM_XTAL,
		.banner = "ets Jun  8 2016 00:22:57\r\n\r\n"
			  "rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32S2] = {
		.name = "ESP32-S2", .magic = 0x000007C6u,
		.sec_info_len = 12, /* [L] flags, crypt cnt, 7 key purposes: no chip id */
		.mac_lo_addr = 0x3F41A044u, .mac_hi_addr = 0x3F41A048u,
		S2_STYLE_SPI(0x3F402000u),
		.uart_clkdiv = 0x3F400014u, .begin_words = 5, .xtal_hz = XTAL_HZ, .rom_xtal_hz = XTAL_HZ,
		.banner = "ESP-ROM:esp32s2-rc4-20191025\r\nBuild:Oct 25 2019\r\n"
			  "rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0/1))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32S3] = {
		.name = "ESP32-S3", .magic = 0x00000009u, .sec_info_len = 20, .sec_info_id = 9,
		.mac_lo_addr = 0x60007044u, .mac_hi_addr = 0x60007048u,
		S2_STYLE_SPI(0x60002000u),
		.uart_clkdiv = 0x60000014u, .begin_words = 5, .xtal_hz = XTAL_HZ, .rom_xtal_hz = XTAL_HZ,
		.uartdev_buf_no = 0x3FCEF14Cu, .usb_jtag_no = 4,
		.wdt_config0 = 0x60008098u, .wdt_wprotect = 0x600080B0u,
		.swd_conf = 0x600080B4u, .swd_wprotect = 0x600080B8u,
		.swd_wkey = RTC_SWD_WKEY, .swd_auto_feed = RTC_SWD_AUTO_FEED_EN,
		.banner = "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
			  "rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32C2] = {
		/* ESP8684 modules carry a 26 MHz crystal; the C2 ROM computes a new
		 * baud divider as if it were 40 MHz [T esp32c2.py change_baud] */
		.name = "ESP32-C2", .magic = 0x6F51306Fu, .sec_info_len = 20, .sec_info_id = 12,
		.mac_lo_addr = 0x60008840u, .mac_hi_addr = 0x60008844u,
		S2_STYLE_SPI(0x60002000u),
		.uart_clkdiv = 0x60000014u, .begin_words = 5, .xtal_hz = XTAL26_HZ, .rom_xtal_hz = XTAL_HZ,
		.banner = "ESP-ROM:esp8684-api2-20220127\r\nBuild:Jan 27 2022\r\n"
			  "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(UART0))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32C3] = {
		.name = "ESP32-C3", .magic = 0x1B31506Fu, .sec_info_len = 20, .sec_info_id = 5,
		.mac_lo_addr = 0x60008844u, .mac_hi_addr = 0x60008848u,
		S2_STYLE_SPI(0x60002000u),
		.uart_clkdiv = 0x60000014u, .begin_words = 5, .xtal_hz = XTAL_HZ, .rom_xtal_hz = XTAL_HZ,
		.uartdev_buf_no = 0x3FCDF07Cu, .usb_jtag_no = 3,
		.wdt_config0 = 0x60008090u, .wdt_wprotect = 0x600080A8u,
		.swd_conf = 0x600080ACu, .swd_wprotect = 0x600080B0u,
		.swd_wkey = RTC_SWD_WKEY, .swd_auto_feed = RTC_SWD_AUTO_FEED_EN,
		.banner = "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n"
			  "rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0/1))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32C6] = {
		.name = "ESP32-C6", .magic = 0x2CE0806Fu, .sec_info_len = 20, .sec_info_id = 13,
		.mac_lo_addr = 0x600B0844u, .mac_hi_addr = 0x600B0848u,
		S2_STYLE_SPI(0x60003000u),
		.uart_clkdiv = 0x60000014u, .begin_words = 5, .xtal_hz = XTAL_HZ, .rom_xtal_hz = XTAL_HZ,
		.uartdev_buf_no = 0x4087F580u, .usb_jtag_no = 3,
		/* LP_WDT: the SWD key equals the WDT key, auto-feed is bit 18 [T] */
		.wdt_config0 = 0x600B1C00u, .wdt_wprotect = 0x600B1C18u,
		.swd_conf = 0x600B1C1Cu, .swd_wprotect = 0x600B1C20u,
		.swd_wkey = RTC_WDT_WKEY, .swd_auto_feed = 1u << 18,
		.banner = "ESP-ROM:esp32c6-20220919\r\nBuild:Sep 19 2022\r\n"
			  "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART/SDIO_FEI_FEO))\r\n"
			  "waiting for download\r\n",
	},
	[SIMDEV_CHIP_ESP32H2] = {
		/* 32 MHz crystal, known to the ROM; UARTDEV_BUF_NO inherited from
		 * the C6 class in esptool [T esp32h2.py] */
		.name = "ESP32-H2", .magic = 0xD7B73E80u, .sec_info_len = 20, .sec_info_id = 16,
		.mac_lo_addr = 0x600B0844u, .mac_hi_addr = 0x600B0848u,
		S2_STYLE_SPI(0x60003000u),
		.uart_clkdiv = 0x60000014u, .begin_words = 5, .xtal_hz = XTAL32_HZ, .rom_xtal_hz = XTAL32_HZ,
		.uartdev_buf_no = 0x4087F580u, .usb_jtag_no = 3,
		.wdt_config0 = 0x600B1C00u, .wdt_wprotect = 0x600B1C1Cu,
		.swd_conf = 0x600B1C20u, .swd_wprotect = 0x600B1C24u,
		.swd_wkey = RTC_WDT_WKEY, .swd_auto_feed = 1u << 18,
		.banner = "ESP-ROM:esp32h2-20221101\r\nBuild:Nov  1 2022\r\n"
			  "rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART0))\r\n"
			  "waiting for download\r\n",
	},
};

static const struct {
	const char *key, *alt;
	enum simdev_chip chip;
} chip_keys[] = {
	{ "esp32", "esp32", SIMDEV_CHIP_ESP32 },
	{ "esp32s2", "esp32-s2", SIMDEV_CHIP_ESP32S2 },
	{ "esp32s3", "esp32-s3", SIMDEV_CHIP_ESP32S3 },
	{ "esp32c2", "esp32-c2", SIMDEV_CHIP_ESP32C2 },
	{ "esp32c3", "esp32-c3", SIMDEV_CHIP_ESP32C3 },
	{ "esp32c6", "esp32-c6", SIMDEV_CHIP_ESP32C6 },
	{ "esp32h2", "esp32-h2", SIMDEV_CHIP_ESP32H2 },
};

int simdev_chip_parse(const char *s, enum simdev_chip *out)
{
	for (size_t i = 0; i < sizeof(chip_keys) / sizeof(chip_keys[0]); i++) {
		if (!strcmp(s, chip_keys[i].key) || !strcmp(s, chip_keys[i].alt)) {
			*out = chip_keys[i].chip;
			return 0;
		}
	}
	return SIMDEV_EINVAL;
}

const char *simdev_chip_name(enum simdev_chip chip)
{
	switch (chip) {
	case SIMDEV_CHIP_ESP32:
	case SIMDEV_CHIP_ESP32S2:
	case SIMDEV_CHIP_ESP32S3:
	case SIMDEV_CHIP_ESP32C2:
	case SIMDEV_CHIP_ESP32C3:
	case SIMDEV_CHIP_ESP32C6:
	case SIMDEV_CHIP_ESP32H2:
		return simdev_chips[chip].name;
	}
	return "?";
}

int simdev_chip_valid(int chip)
{
	return chip >= SIMDEV_CHIP_ESP32 && chip <= SIMDEV_CHIP_ESP32H2;
}
