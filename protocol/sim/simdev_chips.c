/* The chips espfab-sim models: identification values, register addresses
 * and ROM traits, as Espressif's tools read them (sources per line). */
#include <string.h>

#include "simdev_int.h"

/* Addresses as esptool's chip classes read them (targets/esp32*.py). */
const struct chip_desc simdev_chips[] = {
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

