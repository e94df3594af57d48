/* espfab-sim's eFuse controller (ESP32-C3, C6, H2, S3), internal to the
 * engine. Model, after the TRMs' eFuse chapters and espefuse's
 * emulate_efuse_controller.py (esptool v4.8.1):
 *  - the fuses: BLOCK0 (6 words) and BLOCK1..10 (data + 3 RS check words);
 *    programming only sets bits (0 -> 1), never clears them;
 *  - PGM_DATA0..7 and PGM_CHECK_VALUE0..2 hold what the next program command
 *    burns; CONF must hold the write op code 0x5A5A for CMD PGM (bit 1, block
 *    number in bits 2..5) and the read op code 0x5AA5 for CMD READ (bit 0);
 *    a command with the wrong op code does nothing; commands complete at
 *    once (CMD reads 0);
 *  - the read registers show what the last READ command (or the last reset)
 *    loaded: a burn is not visible until READ;
 *  - WR_DIS: bit 0 keeps RD_DIS, bits 8..13 KEY_PURPOSE_0..5, bits 20..29
 *    blocks 1..10 from changing (other BLOCK0 fields' bits are not modelled);
 *  - RD_DIS bit n: block 4+n reads as zeros (the fuses keep their value);
 *  - RS: blocks 1..10 whose burnt check words are not the RS code of their
 *    data report a coding failure in RD_RS_ERR0/1 (at the C3's shifted fail
 *    bits on the C3); no error correction is modelled.
 * Persisted (when a path is set) after every program command, atomically:
 * "espfab-efuse 1\n" then 11 x 11 little-endian words (the burnt fuses). */
#ifndef ESPFAB_SIMDEV_EFUSE_H
#define ESPFAB_SIMDEV_EFUSE_H

#include <stdint.h>

#include "espfab/efuse.h"

#define SDEFUSE_WORDS 11
#define SDEFUSE_MAGIC "espfab-efuse 1\n"
#define SDEFUSE_FILE_LEN (15 + EFUSE_BLOCKS * SDEFUSE_WORDS * 4)

struct sdefuse {
	const struct efuse_layout *l; /* NULL: the chip has no eFuse model here */
	uint32_t fuse[EFUSE_BLOCKS][SDEFUSE_WORDS];
	uint32_t rd[EFUSE_BLOCKS][8]; /* read registers as of the last READ */
	uint32_t rs_err0, rs_err1;
	uint32_t pgm[SDEFUSE_WORDS];
	uint32_t conf, dac_conf, tim1, tim2;
	unsigned programs;            /* PGM commands acted on (tests) */
	const char *path;             /* persistence file or NULL (not owned) */
	int io_failed;                /* the last save failed */
};

/* Fresh, all-zero fuses for chip (l may be NULL: an inert model). */
void sdefuse_init(struct sdefuse *e, const struct efuse_layout *l);
/* Load the fuses from path (a missing file = fresh fuses, written at once).
 * 0, or -1 with a one-line message in msg naming the file. */
int sdefuse_load(struct sdefuse *e, const char *path, char *msg, size_t msg_len);
/* Write the fuses to e->path (tmp file + rename). 0 or -1 (errno set). */
int sdefuse_save(struct sdefuse *e);
/* Set BLOCK1's MAC words as the factory did (MAC from the configuration). */
void sdefuse_set_mac(struct sdefuse *e, uint32_t lo, uint32_t hi);
/* Chip reset: PGM registers and CONF cleared, eFuses read again. */
void sdefuse_reset(struct sdefuse *e);
/* 1 when addr is one of the controller's registers. */
int sdefuse_owns(const struct sdefuse *e, uint32_t addr);
uint32_t sdefuse_read(const struct sdefuse *e, uint32_t addr);
/* A register write; returns -1 when a program command could not be
 * persisted (the ROM then reports a failure). */
int sdefuse_write(struct sdefuse *e, uint32_t addr, uint32_t val);

#endif
