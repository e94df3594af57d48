/* eFuse over the ROM loader: read the key blocks, their purposes and
 * protection bits, and burn a key the way espefuse (esptool v4.8.1) does.
 *
 * Chips: ESP32-C3, C6, H2 and S3, the ones with the HMAC peripheral. They
 * share one controller layout (espefuse efuse/<chip>/mem_definition.py and
 * efuse_defs/<chip>.yaml) and differ only in where it sits:
 *   BLOCK0 at +0x02C (6 words: WR_DIS, RD_DIS + REPEAT_DATA0..4),
 *   BLOCK1..10 at +0x044, +0x05C, then 8 words each from +0x07C;
 *   BLOCK_KEY0..5 = BLOCK4..9; KEY_PURPOSE_n: 4 bits at BLOCK0 word 2 bit 24
 *   (keys 0, 1) and word 3 bit 0 (keys 2..5); RD_DIS bit n protects KEYn,
 *   WR_DIS bit 23+n the KEYn data and bit 8+n the KEY_PURPOSE_n field.
 * Key blocks are Reed-Solomon coded: 32 data bytes + 12 check bytes, the
 * check bytes programmed through EFUSE_PGM_CHECK_VALUE0..2 (reedsolo
 * RSCodec(12), as espefuse computes them).
 *
 * Secrets: key bytes given to efuse_burn_key() are never logged, never put
 * in an error message, and the module's copies are wiped. Reads of a
 * read-protected block return zeros on the chip; a summary never carries
 * key block contents at all, only whether a block reads as empty.
 *
 * Every function returns 0 or a negative code: ROM_E* (rom.h) for transport
 * and ROM failures, EFUSE_E* below for refusals; *err (may be NULL) gets a
 * one-line message.
 */
#ifndef ESPFAB_EFUSE_H
#define ESPFAB_EFUSE_H

#include <stdint.h>

/* Kept free of chip.h and flashop.h: espfab-sim's engine shares the pure
 * part (layouts, RS coding) and has its own chip table. */
struct flashop;

enum efuse_error {
	EFUSE_ENOHMAC = -100,   /* the chip has no HMAC peripheral / no model here */
	EFUSE_ENOTFREE = -101,  /* the key block holds data or is protected */
	EFUSE_EPURPOSE = -102,  /* KEY_PURPOSE_n is set to another purpose */
	EFUSE_ESTATE = -103,    /* a previous burn left an unexpected state */
	EFUSE_EVERIFY = -104,   /* read back differs from what was programmed */
	EFUSE_EKEYPRESENT = -105, /* the block already carries a key of this purpose
	                           * (read-protected, or readable and not empty) */
	EFUSE_EBUSY = -106,     /* the controller never went idle */
};

/* "EFUSE_ENOTFREE", ...; ROM_E* codes by rom_error_name(). Static string. */
const char *efuse_error_name(int e);

#define EFUSE_BLOCKS 11
#define EFUSE_KEY_BLOCKS 6
#define EFUSE_KEY_FIRST_BLOCK 4   /* BLOCK_KEY0 */
#define EFUSE_KEY_LEN 32
#define EFUSE_RS_LEN 12

/* KEY_PURPOSE values (espefuse esp32c3/fields.py KEY_PURPOSES). */
enum efuse_purpose {
	EFUSE_PURPOSE_USER = 0,
	EFUSE_PURPOSE_RESERVED = 1,
	EFUSE_PURPOSE_XTS_AES_256_KEY_1 = 2, /* S3 only */
	EFUSE_PURPOSE_XTS_AES_256_KEY_2 = 3, /* S3 only */
	EFUSE_PURPOSE_XTS_AES_128_KEY = 4,
	EFUSE_PURPOSE_HMAC_DOWN_ALL = 5,
	EFUSE_PURPOSE_HMAC_DOWN_JTAG = 6,
	EFUSE_PURPOSE_HMAC_DOWN_DIGITAL_SIGNATURE = 7,
	EFUSE_PURPOSE_HMAC_UP = 8,
	EFUSE_PURPOSE_SECURE_BOOT_DIGEST0 = 9,
	EFUSE_PURPOSE_SECURE_BOOT_DIGEST1 = 10,
	EFUSE_PURPOSE_SECURE_BOOT_DIGEST2 = 11,
};

struct efuse_err {
	int code;
	char msg[224];
};

/* Where one chip's controller is and how it reports RS errors. Static data. */
struct efuse_layout {
	const char *chip;               /* chip_desc name: "ESP32-C3" */
	uint32_t base;                  /* DR_REG_EFUSE_BASE */
	uint32_t wr_tim_conf1, wr_tim_conf2; /* offsets: S3 differs */
	int c3_fail_shift;              /* C3 reports block n's fail bit at 4n+3 */
};

/* Register offsets from the base (espefuse mem_definition.py). */
#define EFUSE_PGM_DATA0 0x000u
#define EFUSE_CHECK_VALUE0 0x020u
#define EFUSE_BLK0_RD 0x02Cu
#define EFUSE_RD_RS_ERR0 0x1C0u
#define EFUSE_RD_RS_ERR1 0x1C4u
#define EFUSE_CONF 0x1CCu
#define EFUSE_STATUS 0x1D0u
#define EFUSE_CMD 0x1D4u
#define EFUSE_DAC_CONF 0x1E8u
#define EFUSE_WRITE_OP_CODE 0x5A5Au
#define EFUSE_READ_OP_CODE 0x5AA5u
#define EFUSE_CMD_READ 0x1u
#define EFUSE_CMD_PGM 0x2u
#define EFUSE_WR_DIS_RD_DIS 0           /* WR_DIS bit protecting RD_DIS */
#define EFUSE_WR_DIS_PURPOSE(n) (8 + (n))
#define EFUSE_WR_DIS_BLOCK(b) (19 + (b)) /* blocks 1..10: bits 20..29 */

/* By chip name ("ESP32-C3"); NULL when espfab has no eFuse model of the
 * chip (ESP32, S2, C2, ...). */
const struct efuse_layout *efuse_layout_for(const char *chip_name);
/* Offset of block b's first read register; its length in words. */
uint32_t efuse_block_rd_offset(unsigned block);
unsigned efuse_block_words(unsigned block);
/* RS error count and fail flag of block b (1..10) from the two registers. */
void efuse_rs_status(const struct efuse_layout *l, unsigned block, uint32_t err0, uint32_t err1,
		     unsigned *num_errors, int *fail);
/* Reed-Solomon check bytes of a 32-byte block, as reedsolo.RSCodec(12)
 * (GF(2^8), polynomial 0x11D, generator 2, first root 1) appends them. */
void efuse_rs_encode(const uint8_t data[EFUSE_KEY_LEN], uint8_t check[EFUSE_RS_LEN]);
/* "HMAC_UP", ... ; "?" for an unknown value. Parse returns 0 or -1. */
const char *efuse_purpose_name(unsigned purpose);
int efuse_purpose_parse(const char *s, enum efuse_purpose *out);
/* "BLOCK_KEY0".."BLOCK_KEY5" or "BLOCK4".."BLOCK9" -> key index 0..5. */
int efuse_key_block_parse(const char *s, unsigned *key_index);

struct efuse_key_state {
	unsigned purpose;             /* KEY_PURPOSE_n */
	int read_protected;           /* RD_DIS bit n */
	int write_protected;          /* WR_DIS bit for the block's data */
	int purpose_write_protected;  /* WR_DIS bit for KEY_PURPOSE_n */
	int empty;                    /* readable and all zero (unknown if read-protected) */
	unsigned rs_errors;           /* RS errors the controller reports */
	int rs_fail;
};

struct efuse_summary {
	const struct efuse_layout *layout;
	uint32_t blk0[6];             /* BLOCK0 read registers (no secrets there) */
	uint32_t wr_dis, rd_dis;
	int rd_dis_write_protected;
	struct efuse_key_state key[EFUSE_KEY_BLOCKS];
};

/* Read BLOCK0, the key blocks (only to tell empty from not: the contents
 * are wiped before returning) and the RS error registers. */
int efuse_read_summary(struct flashop *f, struct efuse_summary *s, struct efuse_err *err);

#define EFUSE_PROTECT_READ 0x1u   /* RD_DIS bit of the block (HMAC keys: yes) */
#define EFUSE_PROTECT_WRITE 0x2u  /* WR_DIS bit of the block's data */

/* Burn key into BLOCK_KEY<key_index> with the given purpose, as espefuse's
 * burn_key: check that the block is free (readable, all zero, not write-
 * protected, purpose USER and writable), program the key block (8 data words
 * + 3 RS words), re-read it and compare (unless the chip hides it), then
 * program BLOCK0 once with KEY_PURPOSE_n, its WR_DIS bit and the requested
 * protection bits, and re-read everything. Nothing is programmed when a
 * check fails. The purpose field is always write-protected afterwards (as
 * espefuse does). */
int efuse_burn_key(struct flashop *f, unsigned key_index, enum efuse_purpose purpose,
		   const uint8_t key[EFUSE_KEY_LEN], unsigned protect, struct efuse_err *err);

/* Finish a half burn: the key block holds key (readable, RS good) but
 * BLOCK0 was never programmed (purpose USER, writable, no protection), as
 * a crash between efuse_burn_key's two program commands leaves it. Checks
 * that the block's data is exactly key, then programs BLOCK0 as
 * efuse_burn_key's second step and re-reads it. EFUSE_ESTATE, nothing
 * programmed, for any other state or another key. */
int efuse_finish_key(struct flashop *f, unsigned key_index, enum efuse_purpose purpose,
		     const uint8_t key[EFUSE_KEY_LEN], unsigned protect, struct efuse_err *err);

#endif
