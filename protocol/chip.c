/* Chip table: values from esptool's target classes (v4.8); each ROM
 * behaviour the table encodes is listed with its source in docs/rom-behaviour.md. */
#include <stddef.h>
#include <string.h>

#include "espfab/chip.h"

#define SPI_S2_STYLE(b) {(b), 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58}
#define WDT_KEY 0x50D83AA1u
#define SWD_KEY_RTC 0x8F1D312Au

static const struct chip_desc chips[] = {
	{
		.id = CHIP_ESP32, .name = "ESP32", .key = "esp32", .image_chip_id = 0,
		.magic = {0x00F01D83u},
		/* ESP32: MAC in efuse block 0 words 1 and 2 (word 2 carries a CRC byte) */
		.mac_reg = 0x3FF5A004u, .mac_reg2 = 0x3FF5A008u, .mac_esp32_layout = 1,
		.spi = {0x3FF42000u, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x80},
		.uart_clkdiv_reg = 0x3FF40014u, .bootloader_offset = 0x1000,
		.resync_after_unsupported = 1,
		/* EFUSE_BLK0_RDATA0 FLASH_CRYPT_CNT[26:20], RDATA6 ABS_DONE_0 */
		.efuse_crypt_cnt_reg = 0x3FF5A000u, .efuse_crypt_cnt_mask = 0x7Fu << 20,
		.efuse_sb_reg = 0x3FF5A018u, .efuse_sb_mask = 1u << 4,
		.supported = 1,
	},
	{
		.id = CHIP_ESP32S2, .name = "ESP32-S2", .key = "esp32s2", .image_chip_id = 2,
		.magic = {0x000007C6u},
		.mac_reg = 0x3F41A044u, .mac_reg2 = 0x3F41A048u,
		.spi = SPI_S2_STYLE(0x3F402000u),
		.wdt = {0x3F408094u, 0x3F408098u, 0x3F4080ACu, WDT_KEY, 0, 0, 0, 0},
		.uart_clkdiv_reg = 0x3F400014u, .bootloader_offset = 0x1000,
		.flash_begin_encrypted_word = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP32S3, .name = "ESP32-S3", .key = "esp32s3", .image_chip_id = 9,
		.magic = {0x9u},
		.mac_reg = 0x60007044u, .mac_reg2 = 0x60007048u,
		.spi = SPI_S2_STYLE(0x60002000u),
		.wdt = {0x60008098u, 0x6000809Cu, 0x600080B0u, WDT_KEY,
			0x600080B4u, 0x600080B8u, SWD_KEY_RTC, 1u << 31},
		.uart_clkdiv_reg = 0x60000014u, .bootloader_offset = 0x0,
		.uartdev_buf_no = 0x3FCEF14Cu, .uart_no_usb_jtag = 4,
		.flash_begin_encrypted_word = 1, .has_usb_jtag = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP32C2, .name = "ESP32-C2", .key = "esp32c2", .image_chip_id = 12,
		.magic = {0x6F51306Fu, 0x7C41A06Fu, 0x0C21E06Fu},
		.mac_reg = 0x60008840u, .mac_reg2 = 0x60008844u,
		.spi = SPI_S2_STYLE(0x60002000u),
		.wdt = {0x60008084u, 0x60008088u, 0x6000809Cu, WDT_KEY, 0, 0, 0, 0},
		.uart_clkdiv_reg = 0x60000014u, .bootloader_offset = 0x0,
		.flash_begin_encrypted_word = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP32C3, .name = "ESP32-C3", .key = "esp32c3", .image_chip_id = 5,
		.magic = {0x6921506Fu, 0x1B31506Fu, 0x4881606Fu, 0x4361606Fu},
		.mac_reg = 0x60008844u, .mac_reg2 = 0x60008848u,
		.spi = SPI_S2_STYLE(0x60002000u),
		.wdt = {0x60008090u, 0x60008094u, 0x600080A8u, WDT_KEY,
			0x600080ACu, 0x600080B0u, SWD_KEY_RTC, 1u << 31},
		.uart_clkdiv_reg = 0x60000014u, .bootloader_offset = 0x0,
		.uartdev_buf_no = 0x3FCDF07Cu, .uart_no_usb_jtag = 3,
		.flash_begin_encrypted_word = 1, .has_usb_jtag = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP32C6, .name = "ESP32-C6", .key = "esp32c6", .image_chip_id = 13,
		.magic = {0x2CE0806Fu},
		.mac_reg = 0x600B0844u, .mac_reg2 = 0x600B0848u,
		.spi = SPI_S2_STYLE(0x60003000u),
		/* C6 moved the watchdogs to LP_WDT; the SWD key equals the WDT key */
		.wdt = {0x600B1C00u, 0x600B1C04u, 0x600B1C18u, WDT_KEY,
			0x600B1C1Cu, 0x600B1C20u, WDT_KEY, 1u << 18},
		.uart_clkdiv_reg = 0x60000014u, .bootloader_offset = 0x0,
		.uartdev_buf_no = 0x4087F580u, .uart_no_usb_jtag = 3,
		.flash_begin_encrypted_word = 1, .has_usb_jtag = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP32H2, .name = "ESP32-H2", .key = "esp32h2", .image_chip_id = 16,
		.magic = {0xD7B73E80u},
		.mac_reg = 0x600B0844u, .mac_reg2 = 0x600B0848u,
		.spi = SPI_S2_STYLE(0x60003000u),
		.wdt = {0x600B1C00u, 0x600B1C04u, 0x600B1C1Cu, WDT_KEY,
			0x600B1C20u, 0x600B1C24u, WDT_KEY, 1u << 18},
		.uart_clkdiv_reg = 0x60000014u, .bootloader_offset = 0x0,
		/* esptool's ESP32H2ROM inherits UARTDEV_BUF_NO from ESP32C6ROM */
		.uartdev_buf_no = 0x4087F580u, .uart_no_usb_jtag = 3,
		.flash_begin_encrypted_word = 1, .has_usb_jtag = 1, .rom_has_security_info = 1, .supported = 1,
	},
	{
		.id = CHIP_ESP8266, .name = "ESP8266", .key = "esp8266", .image_chip_id = 0xFFFFFFFFu,
		.magic = {0xFFF0C101u},
		.resync_after_unsupported = 1,
		.supported = 0,
	},
	/* Known by name so the operator is told which chip it is; not driven
	 * (their register maps are not modelled or tested here). */
	{
		.id = CHIP_ESP32C5, .name = "ESP32-C5", .key = "esp32c5", .image_chip_id = 23,
		.magic = {0x1101406Fu}, .bootloader_offset = 0x2000, .rom_has_security_info = 1,
	},
	{
		.id = CHIP_ESP32C61, .name = "ESP32-C61", .key = "esp32c61", .image_chip_id = 20,
		.magic = {0x33F0206Fu, 0x2421606Fu}, .rom_has_security_info = 1,
	},
	{
		/* its magic register reads 0 or 0x0ADDBAD0: known by chip id only */
		.id = CHIP_ESP32P4, .name = "ESP32-P4", .key = "esp32p4", .image_chip_id = 18,
		.bootloader_offset = 0x2000, .rom_has_security_info = 1,
	},
};

#define NCHIPS (sizeof(chips) / sizeof(chips[0]))

const struct chip_desc *chip_by_id(enum chip_id id)
{
	for (size_t i = 0; i < NCHIPS; i++)
		if (chips[i].id == id)
			return &chips[i];
	return NULL;
}

const struct chip_desc *chip_by_image_id(uint32_t image_chip_id)
{
	for (size_t i = 0; i < NCHIPS; i++)
		if (chips[i].supported && chips[i].id != CHIP_ESP32 && chips[i].image_chip_id == image_chip_id)
			return &chips[i];
	return NULL;
}

const struct chip_desc *chip_by_security_id(uint32_t chip_id)
{
	for (size_t i = 0; i < NCHIPS; i++)
		if (chips[i].rom_has_security_info && chips[i].id != CHIP_ESP32S2 && chips[i].image_chip_id == chip_id)
			return &chips[i];
	return NULL;
}

const struct chip_desc *chip_by_magic(uint32_t magic)
{
	for (size_t i = 0; i < NCHIPS; i++)
		for (size_t k = 0; k < 4 && chips[i].magic[k]; k++)
			if (chips[i].magic[k] == magic)
				return &chips[i];
	return NULL;
}

const struct chip_desc *chip_by_key(const char *key)
{
	for (size_t i = 0; i < NCHIPS; i++)
		if (!strcmp(chips[i].key, key))
			return &chips[i];
	return NULL;
}

void chip_mac_from_words(const struct chip_desc *c, uint32_t w1, uint32_t w2, uint8_t mac[6])
{
	/* esptool packs (hi, lo) big-endian and drops the top two bytes: on the
	 * ESP32 hi = block-0 word 2 (its top bytes are a CRC), on later chips
	 * hi = MAC word 1 (only the bottom 16 bits are MAC). */
	uint32_t hi = w2;
	uint32_t lo = w1;

	(void)c; /* both layouts reduce to the same packing; kept for new chips */

	mac[0] = (uint8_t)(hi >> 8);
	mac[1] = (uint8_t)hi;
	mac[2] = (uint8_t)(lo >> 24);
	mac[3] = (uint8_t)(lo >> 16);
	mac[4] = (uint8_t)(lo >> 8);
	mac[5] = (uint8_t)lo;
}

uint32_t chip_flash_size_from_id(uint32_t jedec_id)
{
	unsigned cap = (jedec_id >> 16) & 0xFF;

	/* esptool's DETECTED_FLASH_SIZES: 0x12..0x1C and 0x32..0x3A are
	 * 2^cap bytes; 0x20..0x22 (some vendors) mean 64..256 MiB. */
	if (cap >= 0x12 && cap <= 0x1C)
		return 1u << cap;
	if (cap >= 0x32 && cap <= 0x3A)
		return 1u << (cap - 0x20);
	if (cap >= 0x20 && cap <= 0x22)
		return 1u << (cap - 0x20 + 26);
	return 0;
}
