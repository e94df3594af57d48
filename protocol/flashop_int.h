/* Internals of the flash operations module, shared by its files only:
 * flashop_connect.c (open, reset into the loader, SYNC), flashop_identify.c
 * (chip, security, MAC, baud, flash size), flashop.c (read, write, verify). */
#ifndef ESPFAB_FLASHOP_INT_H
#define ESPFAB_FLASHOP_INT_H

#include "espfab/flashop.h"

#define SYNC_TRIES 5
#define BLOCK_ATTEMPTS 3    /* esptool's WRITE_BLOCK_ATTEMPTS */
#define READ_ATTEMPTS 3

struct flashop {
	struct port *port;
	struct rom *rom;
	struct flashop_options opt;
	struct flashop_info info;
	int can_reset; /* the reset mode really drives lines (not degraded to none) */
	int have_magic;
	uint32_t magic; /* the register at 0x40001000, once read */
};

/* Reset into the loader (opt.before) and SYNC, with the connect retries. */
int flashop_connect_loader(struct flashop *f);
/* Identify the chip and prepare the flash (after a connect). */
int flashop_identify(struct flashop *f);
/* READ_REG / WRITE_REG with one retry of a reply lost to noise. */
int flashop_rd(struct flashop *f, uint32_t addr, uint32_t *v);
int flashop_wr(struct flashop *f, uint32_t addr, uint32_t v);
/* The identification retry rule (timeouts, malformed and failed replies). */
int flashop_retry_ok(int e);

#endif
