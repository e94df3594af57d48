/* espfab flash's command line (cmd_flash_args.c), shared with the
 * operations in cmd_flash.c. */
#ifndef ESPFAB_CMD_FLASH_H
#define ESPFAB_CMD_FLASH_H

#include <stdint.h>

#include "espfab/flashop.h"

#define MAX_FILES 16

struct fl_args {
	const char *port;
	uint32_t baud;
	enum reset_mode before;
	enum reset_after after;
	uint32_t flash_size;
	int json;
	int no_compress;
	int plaintext; /* write although flash encryption is on */
	int verify;
	uint32_t part_offset;
	const char *chip;         /* --chip: the device must be this one ("auto": any) */
	const char *flash_mode;   /* --flash-mode: checked against a bootloader's header */
	const char *flash_size_s; /* --flash-size as given, for the same check (NULL: keep/detect) */
	const char *cmd;
	char *pos[2 * MAX_FILES + 4]; /* positional arguments after the command word */
	int npos;
};

/* 0: run; 1: --help was printed (exit 0); else the exit status (2). */
int fl_parse_args(int argc, char **argv, struct fl_args *a);
/* One line "espfab flash: ..." on stderr; returns 2. */
int fl_fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A 32-bit number, decimal or 0x hex. */
int fl_parse_u32(const char *s, uint32_t *out);

#endif
