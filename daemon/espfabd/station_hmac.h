/* The station's half of NVS encryption with the HMAC eFuse scheme (issue
 * 12, docs/efuse.md), on the main thread. pipeline_hmac.h is the worker's.
 *   work:    the product's setting goes with the work reply (precheck);
 *   prepare: at claim time, the device's key: the sealed one when the
 *            store keeps it from an earlier run, else a fresh one from
 *            OpenSSL's CSPRNG (RAND_priv_bytes), made durable as state
 *            key-burning (sealed when the product asks) before the reply
 *            can reach the worker; the XTS keys for the image derived from
 *            it. A device in rework, or whose key is burnt and not kept, is
 *            refused (and marked rework) before anything is sent;
 *   append:  the key after the rest of the claim reply;
 *   on_req:  a worker's state change (key-burnt, refused, rework);
 *   done:    a verified device's state.
 * Keys are never logged; the caller wipes key and xts.
 */
#ifndef ESPFABD_STATION_HMAC_H
#define ESPFABD_STATION_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/nvs.h"
#include "espfab/store.h"
#include "jobq.h"

struct station_hmac_ctx {
	const char *station, *port, *chip, *mac, *product, *record_id;
	int64_t product_id, batch_id, job_id;
};

/* rep->hmac for the product's work reply (0: plain). */
uint32_t station_hmac_work(struct store *st, int64_t product_id);
/* *hmac = 0 for a plain product (key and xts untouched). 0, or -1 with msg. */
int station_hmac_prepare(struct store *st, const struct station_hmac_ctx *c, uint32_t *hmac, uint8_t key[32],
			 uint8_t xts[NVS_XTS_KEY_LEN], char *msg, size_t cap);
int station_hmac_append(struct jobq_msg *rep, uint32_t hmac, const uint8_t key[32], char *msg, size_t cap);
/* Stores m's change; fills rep (a JOBQ_HMAC_REP). */
void station_hmac_on_req(struct store *st, const struct station_hmac_ctx *c, const struct jobq_msg *m,
			 struct jobq_msg *rep);
int station_hmac_done(struct store *st, const struct station_hmac_ctx *c, uint32_t hmac, struct store_err *err);

#endif
