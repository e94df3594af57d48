/* The worker's half of NVS encryption with the HMAC eFuse scheme (issue
 * 12, docs/efuse.md). station_hmac.h says what the main thread decides at
 * claim time (fresh key or the sealed one; state key-burning stored).
 *   precheck: before the claim, a chip without an eFuse model (no HMAC
 *             peripheral) is refused: nothing claimed, nothing burnt;
 *   take:     the HMAC key out of the claim reply, XTS keys derived;
 *   burn:     after the claim, before the record is marked sent: read the
 *             key block's state and burn (or finish a half burn, or skip a
 *             burn that already happened when the key is the sealed one),
 *             each change of the device's state made durable first by the
 *             main thread (key-burnt, refused, rework);
 *   the read-back is then decoded with the derived keys (pipeline.c).
 * The key and XTS keys are wiped by pipeline_hmac_clear.
 */
#ifndef ESPFABD_PIPELINE_HMAC_H
#define ESPFABD_PIPELINE_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/nvs.h"
#include "jobq.h"
#include "pipeline.h"
#include "romio.h"

#define PIPELINE_HMAC_KEY_LEN 32u

/* struct jobq_msg.hmac */
#define PIPELINE_HMAC_ON 0x80000000u
#define PIPELINE_HMAC_BLOCK(h) ((h) & 0xFu)          /* BLOCK_KEY0..5 */
#define PIPELINE_HMAC_PROTECT(h) (((h) >> 4) & 0x3u) /* EFUSE_PROTECT_* */
#define PIPELINE_HMAC_SEALED 0x100u                  /* the key is the store's sealed copy */
#define PIPELINE_HMAC_PRIOR(h) (((h) >> 12) & 0xFu)  /* enum store_hmac_state before this claim */
#define PIPELINE_HMAC_MAKE(block, protect) (PIPELINE_HMAC_ON | ((block) & 0xFu) | (((protect) & 3u) << 4))

struct pipeline_hmac {
	uint32_t hmac; /* 0: plain */
	uint8_t key[PIPELINE_HMAC_KEY_LEN];
	uint8_t xts[NVS_XTS_KEY_LEN];
};

/* 0, or -1 with msg: the product encrypts and the chip cannot carry the key. */
int pipeline_hmac_precheck(const struct jobq_msg *work, const char *chip, char *msg, size_t cap);
/* Moves the key out of rep (rep->len shrinks). 0, or -1 with msg. */
int pipeline_hmac_take(struct jobq_msg *rep, struct pipeline_hmac *ph, char *msg, size_t cap);
void pipeline_hmac_clear(struct pipeline_hmac *ph); /* wipes */

/* The burn step (see the top). result carries job, MAC, chip for the
 * requests; on failure result->text says why (never key bytes). */
int pipeline_hmac_burn(struct romio *dev, const struct pipeline_hmac *ph, const struct pipeline_params *pp,
		       const struct pipeline_io *io, struct jobq_msg *result);

#endif
