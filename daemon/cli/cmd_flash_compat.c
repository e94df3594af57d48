/* esptool spellings for espfab flash. See cmd_flash_compat.h. */
#include "cmd_flash_compat.h"

#include <stdio.h>
#include <string.h>

static const char *const modes[] = {"qio", "qout", "dio", "dout"};
static const char *const sizes[] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB", "128MB"};

const char *flash_compat_command(const char *word)
{
	static const struct {
		const char *esptool, *espfab;
	} map[] = {
		{"chip_id", "chip-id"},         {"read_mac", "read-mac"},         {"flash_id", "flash-id"},
		{"write_flash", "write"},       {"write-flash", "write"},         {"verify_flash", "verify"},
		{"verify-flash", "verify"},     {"read_flash", "read"},           {"read-flash", "read"},
		{"erase_region", "erase"},      {"erase-region", "erase"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(word, map[i].esptool))
			return map[i].espfab;
	return word;
}

const char *flash_compat_value(const char *v, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; v[i] && i + 1 < cap; i++)
		buf[i] = v[i] == '-' ? '_' : v[i];
	buf[i] = '\0';
	return buf;
}

int flash_compat_mode_ok(const char *mode)
{
	if (!strcmp(mode, "keep"))
		return 0;
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(mode, modes[i]))
			return 0;
	return -1;
}

int flash_compat_freq_ok(const char *freq)
{
	static const char *const freqs[] = {"keep", "80m", "64m", "60m", "48m", "40m", "32m",
					    "30m",  "26m", "24m", "20m", "16m", "15m", "12m"};

	for (size_t i = 0; i < sizeof(freqs) / sizeof(freqs[0]); i++)
		if (!strcmp(freq, freqs[i]))
			return 0;
	return -1;
}

uint32_t flash_compat_boot_offset(const char *chip_name)
{
	/* ESP32 and ESP32-S2 keep the first 4 KiB for the ROM's own use. */
	if (!strcmp(chip_name, "ESP32") || !strcmp(chip_name, "ESP32-S2"))
		return 0x1000;
	return 0;
}

int flash_compat_check_header(const uint8_t *img, size_t len, const char *file, const char *mode, const char *size,
			      char *msg, size_t cap)
{
	/* Not an image header: esptool leaves it alone too. */
	if (len < 24 || img[0] != 0xE9)
		return 0;
	if (mode && strcmp(mode, "keep")) {
		size_t m = 0;
		while (m < 4 && strcmp(modes[m], mode))
			m++;
		if (m < 4 && img[2] != m) {
			snprintf(msg, cap,
				 "--flash-mode %s but %s's header says %s: esptool would rewrite it, espfab writes images as "
				 "they are (give --flash-mode keep, or an image built for %s)",
				 mode, file, img[2] < 4 ? modes[img[2]] : "unknown", mode);
			return -1;
		}
	}
	if (size && strcmp(size, "keep") && strcmp(size, "detect")) {
		size_t z = 0;
		while (z < 8 && strcmp(sizes[z], size))
			z++;
		if (z < 8 && (img[3] >> 4) != z) {
			snprintf(msg, cap,
				 "--flash-size %s but %s's header says %s: esptool would rewrite it, espfab writes images as "
				 "they are (give --flash-size keep, or an image built for %s)",
				 size, file, (img[3] >> 4) < 8 ? sizes[img[3] >> 4] : "unknown", size);
			return -1;
		}
	}
	return 0;
}
