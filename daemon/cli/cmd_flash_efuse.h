/* espfab flash efuse-summary: the eFuse key blocks, their purposes and
 * protection bits (cmd_flash_efuse.c). Kept out of cmd_flash.c so that
 * file only dispatches. */
#ifndef ESPFAB_CMD_FLASH_EFUSE_H
#define ESPFAB_CMD_FLASH_EFUSE_H

#include <jansson.h>

#include "espfab/flashop.h"

/* Read and report. Text on stdout, or (json) members added to out. On
 * failure returns a ROM_E* code with the reason in *d (no output made). */
int cli_efuse_summary(struct flashop *f, int json, json_t *out, struct rom_diag *d);

#endif
