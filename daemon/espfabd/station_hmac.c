/* HMAC NVS encryption, the main thread's part. See station_hmac.h. */
#include "station_hmac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "espfab/efuse.h"
#include "espfab/store_hmac.h"
#include "log.h"
#include "pipeline_hmac.h"

uint32_t station_hmac_work(struct store *st, int64_t product_id)
{
	struct store_hmac_product hp;

	if (store_hmac_product_get(st, product_id, &hp, NULL))
		return 0;
	return PIPELINE_HMAC_MAKE(hp.key_block, hp.protect);
}

static void event_of(const struct station_hmac_ctx *c, uint32_t hmac, struct store_hmac_event *e, const char *note)
{
	memset(e, 0, sizeof(*e));
	e->station = c->station;
	e->port = c->port;
	e->chip = c->chip;
	e->mac = c->mac;
	e->product = c->product;
	e->record_id = c->record_id;
	e->product_id = c->product_id;
	e->batch_id = c->batch_id;
	e->job_id = c->job_id;
	e->key_block = PIPELINE_HMAC_BLOCK(hmac);
	e->purpose = EFUSE_PURPOSE_HMAC_UP;
	e->protect = PIPELINE_HMAC_PROTECT(hmac);
	e->note = note;
}

int station_hmac_prepare(struct store *st, const struct station_hmac_ctx *c, uint32_t *hmac, uint8_t key[32],
			 uint8_t xts[NVS_XTS_KEY_LEN], char *msg, size_t cap)
{
	struct store_hmac_product hp;
	struct store_hmac_device dev;
	struct store_hmac_event e;
	struct store_err serr = {0};
	struct nvs_err nerr;
	int rc = -1, srl;

	*hmac = 0;
	srl = store_hmac_product_get(st, c->product_id, &hp, &serr);
	if (srl == STORE_ENOTFOUND)
		return 0;
	if (srl) {
		snprintf(msg, cap, "NVS encryption: %s", serr.msg);
		return -1;
	}
	*hmac = PIPELINE_HMAC_MAKE(hp.key_block, hp.protect);
	if (store_hmac_device_get(st, c->mac, hp.key_block, &dev, &serr)) {
		snprintf(msg, cap, "device HMAC key: %s", serr.msg);
		goto out;
	}
	*hmac |= (uint32_t)dev.state << 12;
	if (dev.state == STORE_HMAC_REWORK) {
		snprintf(msg, cap, "device %s is marked for rework (BLOCK_KEY%u, see its audit): set it aside", c->mac,
			 hp.key_block);
		goto out;
	}
	if (dev.has_key) {
		/* An earlier run's key, burnt or perhaps burnt: never a new one. */
		memcpy(key, dev.key, 32);
		*hmac |= PIPELINE_HMAC_SEALED;
	} else if (dev.state == STORE_HMAC_DONE) {
		/* Finished in an earlier batch: its image cannot be rebuilt, and
		 * it needs none. Left alone, not rework. */
		snprintf(msg, cap,
			 "device %s is already provisioned with its HMAC key in BLOCK_KEY%u (not kept by the product): "
			 "left alone, nothing written",
			 c->mac, hp.key_block);
		goto out;
	} else if (dev.state == STORE_HMAC_BURNT) {
		snprintf(msg, cap,
			 "device %s already carries its HMAC key in BLOCK_KEY%u and the product keeps no sealed copy: "
			 "its image cannot be built; marked for rework",
			 c->mac, hp.key_block);
		event_of(c, *hmac, &e, "HMAC key burnt and not kept: the NVS image cannot be rebuilt");
		store_hmac_set(st, &e, STORE_HMAC_REWORK, NULL, &serr);
		goto out;
	} else {
		if (RAND_priv_bytes(key, 32) != 1) {
			snprintf(msg, cap, "HMAC key: the CSPRNG failed");
			goto out;
		}
		/* Durable (with the round's commit, before the reply) ahead of
		 * any burn: a crash from here on finds key-burning. */
		event_of(c, *hmac, &e, NULL);
		if (store_hmac_set(st, &e, STORE_HMAC_BURNING, hp.seal ? key : NULL, &serr)) {
			snprintf(msg, cap, "device HMAC key: %s", serr.msg);
			goto out;
		}
		if (hp.seal)
			*hmac |= PIPELINE_HMAC_SEALED;
	}
	if (nvs_key_from_hmac(key, 32, xts, &nerr)) {
		snprintf(msg, cap, "HMAC key derivation: %s", nerr.msg);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(&dev, sizeof(dev));
	if (rc)
		OPENSSL_cleanse(key, 32);
	return rc;
}

int station_hmac_append(struct jobq_msg *rep, uint32_t hmac, const uint8_t key[32], char *msg, size_t cap)
{
	uint8_t *d;

	rep->hmac = hmac;
	if (!hmac)
		return 0;
	d = malloc(rep->len + PIPELINE_HMAC_KEY_LEN);
	if (!d) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	memcpy(d, rep->data, rep->len);
	memcpy(d + rep->len, key, PIPELINE_HMAC_KEY_LEN);
	OPENSSL_cleanse(rep->data, rep->len);
	free(rep->data);
	rep->data = d;
	rep->len += PIPELINE_HMAC_KEY_LEN;
	return 0;
}

void station_hmac_on_req(struct store *st, const struct station_hmac_ctx *c, const struct jobq_msg *m,
			 struct jobq_msg *rep)
{
	struct store_hmac_event e;
	struct store_err serr = {0};
	enum store_hmac_state to = (enum store_hmac_state)m->a;

	memset(rep, 0, sizeof(*rep));
	rep->kind = JOBQ_HMAC_REP;
	rep->job_id = m->job_id;
	event_of(c, m->hmac, &e, m->text[0] ? m->text : NULL);
	if (to != STORE_HMAC_BURNT && to != STORE_HMAC_REWORK && to != STORE_HMAC_REFUSED) {
		rep->rc = -1;
		snprintf(rep->text, sizeof(rep->text), "device HMAC key: a worker cannot ask for %s",
			 store_hmac_state_name(to));
		return;
	}
	rep->rc = store_hmac_set(st, &e, to, NULL, &serr) ? -1 : 0;
	if (rep->rc)
		snprintf(rep->text, sizeof(rep->text), "device HMAC key: %s", serr.msg);
	log_msg(to == STORE_HMAC_BURNT ? LOG_INFO : LOG_WARNING,
		&(struct log_fields){.port = c->port, .mac = c->mac, .batch = c->batch_id},
		"BLOCK_KEY%u: %s%s%.300s", PIPELINE_HMAC_BLOCK(m->hmac), store_hmac_state_name(to),
		m->text[0] ? " - " : "", m->text);
}

int station_hmac_done(struct store *st, const struct station_hmac_ctx *c, uint32_t hmac, struct store_err *err)
{
	struct store_hmac_event e;

	if (!hmac)
		return 0;
	event_of(c, hmac, &e, NULL);
	return store_hmac_set(st, &e, STORE_HMAC_DONE, NULL, err);
}
