/* The station's half of per-device identities (issue 13), on the main
 * thread: when a claimed record's product has an identity profile, decide
 * what the device's esp_secure_cert partition gets and prepare it.
 *   - no live certificate for the MAC (or one issued but never delivered,
 *     whose key was only in memory): generate a key pair, sign a
 *     certificate with the profile's CA, record it (store_cert_add, audited)
 *     and hand the worker the partition image (IDENT_WRITE);
 *   - a live one whose key the store keeps: the same image again;
 *   - a delivered one without a kept key: the device must still carry it;
 *     the worker checks that before writing anything (IDENT_CHECK).
 * The CA is read from the profile's files (or "credential:NAME" in
 * $CREDENTIALS_DIRECTORY) the first time a product needs it and kept for
 * the daemon's life; a failure is retried on the next device.
 */
#ifndef ESPFABD_STATION_IDENT_H
#define ESPFABD_STATION_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/store.h"
#include "jobq.h"

struct station_ident;

int station_ident_new(struct station_ident **out);
void station_ident_free(struct station_ident *si); /* NULL is fine */

struct station_ident_ctx {
	const char *station, *port, *mac;
	int64_t job_id;
};

/* For record r just claimed: sets rep->ident, ident_offset, ident_len and
 * appends the partition image (or the certificate, for a check) to
 * rep->data after the NVS image already there (rep->len grows). 0 also when
 * the product has no profile (rep->ident = JOBQ_IDENT_NONE). On error msg
 * says why in one line (never key material) and rep is as it was. */
int station_ident_prepare(struct station_ident *si, struct store *st, const struct store_record *r,
			  const struct station_ident_ctx *c, struct jobq_msg *rep, char *msg, size_t cap);

#endif
