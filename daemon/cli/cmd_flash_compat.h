/* esptool's spellings for `espfab flash` (cmd_flash_compat.c): the words
 * esptool.py v4 (write_flash, --flash_mode) and esptool v5 (write-flash,
 * --flash-mode) use where they mean what espfab flash does, so scripts and
 * habits carry over. Pure functions, no I/O. */
#ifndef ESPFAB_CMD_FLASH_COMPAT_H
#define ESPFAB_CMD_FLASH_COMPAT_H

#include <stddef.h>
#include <stdint.h>

/* espfab flash's command for an esptool command word (write_flash -> write),
 * or word itself when it is not one. */
const char *flash_compat_command(const char *word);

/* esptool's option spellings (--flash_size, -fs, -z, -u, --no_stub) are
 * aliases in the option table of cmd_flash_args.c. */

/* esptool's option values with dashes (default-reset) as espfab spells
 * them (default_reset), into buf. */
const char *flash_compat_value(const char *v, char *buf, size_t cap);

/* 0 when mode is qio, qout, dio, dout or keep; freq a frequency or keep;
 * size a flash size, keep or detect. */
int flash_compat_mode_ok(const char *mode);
int flash_compat_freq_ok(const char *freq);

/* Where the chip's ROM looks for the second-stage bootloader. */
uint32_t flash_compat_boot_offset(const char *chip_name);

/* THE BOOTLOADER-HEADER RULE (as fwimg.c applies to a product's firmware):
 * esptool's write_flash rewrites the flash mode and size bytes (2 and 3) of
 * the image header of what it writes at the bootloader's offset with
 * --flash_mode/--flash_size; espfab writes images as they are, so it
 * refuses a mode or size that disagrees with the header (keep, detect and
 * NULL are not checked; frequency codes differ per chip: not checked).
 * 0, or -1 with a one-line message naming the file. */
int flash_compat_check_header(const uint8_t *img, size_t len, const char *file, const char *mode, const char *size,
			      char *msg, size_t cap);

#endif
