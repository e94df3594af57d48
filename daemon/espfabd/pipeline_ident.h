/* The worker's half of per-device identities (issue 13): the
 * esp_secure_cert partition next to the NVS image. See station_ident.h for
 * what the main thread decides.
 *   take:  split the claim reply's data into NVS image and identity part;
 *   check: (IDENT_CHECK, before anything is written) the device's partition
 *          must hold the certificate the store has for it;
 *   write: (IDENT_WRITE, after the NVS image) write the whole partition,
 *          check the ROM's MD5, read the TLV chain back and walk it: every
 *          CRC good, the device certificate the one issued.
 */
#ifndef ESPFABD_PIPELINE_IDENT_H
#define ESPFABD_PIPELINE_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "jobq.h"
#include "devsess.h"

struct pipeline_ident {
	enum jobq_ident mode;
	uint32_t offset;
	uint8_t *data; /* the image (secret) or the certificate's DER */
	size_t len;
};

/* Moves the identity part out of rep (rep->len shrinks to the NVS image).
 * 0, or -1 with msg when rep is inconsistent or out of memory. */
int pipeline_ident_take(struct jobq_msg *rep, struct pipeline_ident *pi, char *msg, size_t cap);
void pipeline_ident_clear(struct pipeline_ident *pi); /* wipes */

int pipeline_ident_check(struct devsess *dev, const struct pipeline_ident *pi, char *msg, size_t cap);
int pipeline_ident_write(struct devsess *dev, const struct pipeline_ident *pi, char *msg, size_t cap);

#endif
