/* HMAC key burn on the device. See pipeline_hmac.h and docs/efuse.md. */
#include "pipeline_hmac.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/efuse.h"
#include "espfab/store_hmac.h"

int pipeline_hmac_precheck(const struct jobq_msg *work, const char *chip, char *msg, size_t cap)
{
	if (!work->u.work.hmac || efuse_layout_for(chip))
		return 0;
	snprintf(msg, cap,
		 "the product encrypts its NVS with an HMAC eFuse key, and this %s has no HMAC peripheral espfab "
		 "can burn (EFUSE_ENOHMAC; supported: ESP32-C3, C6, H2, S3): nothing claimed, nothing burnt",
		 chip);
	return -1;
}

int pipeline_hmac_take(struct jobq_msg *rep, struct pipeline_hmac *ph, char *msg, size_t cap)
{
	struct nvs_err nerr;

	memset(ph, 0, sizeof(*ph));
	if (!rep->u.claim.hmac)
		return 0;
	if (!rep->data || rep->len < PIPELINE_HMAC_KEY_LEN) {
		snprintf(msg, cap, "HMAC encryption: claim reply of %zu bytes holds no key", rep->len);
		return -1;
	}
	rep->len -= PIPELINE_HMAC_KEY_LEN;
	memcpy(ph->key, rep->data + rep->len, PIPELINE_HMAC_KEY_LEN);
	OPENSSL_cleanse(rep->data + rep->len, PIPELINE_HMAC_KEY_LEN);
	if (nvs_key_from_hmac(ph->key, PIPELINE_HMAC_KEY_LEN, ph->xts, &nerr)) {
		pipeline_hmac_clear(ph);
		snprintf(msg, cap, "HMAC encryption: %s", nerr.msg);
		return -1;
	}
	ph->hmac = rep->u.claim.hmac;
	return 0;
}

void pipeline_hmac_clear(struct pipeline_hmac *ph)
{
	OPENSSL_cleanse(ph, sizeof(*ph));
}

/* The main thread stores the device's new state (durable) before the
 * worker goes on. */
static int tell(const struct pipeline_io *io, const struct pipeline_params *pp, const struct jobq_msg *result,
		uint32_t hmac, enum store_hmac_state to, const char *note)
{
	struct jobq_msg req, rep;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	req.kind = JOBQ_HMAC_REQ;
	req.worker = pp->worker;
	req.job_id = result->job_id;
	req.batch_id = result->batch_id;
	req.u.hmac.hmac = hmac;
	req.u.hmac.state = (int)to;
	snprintf(req.mac, sizeof(req.mac), "%s", result->mac);
	snprintf(req.chip, sizeof(req.chip), "%s", result->chip);
	snprintf(req.u.hmac.record, sizeof(req.u.hmac.record), "%s", result->u.result.record);
	snprintf(req.u.hmac.note, sizeof(req.u.hmac.note), "%s", note ? note : "");
	rc = io->ask(io->ctx, &req, JOBQ_HMAC_REP, &rep, pp->timeout_ms) || rep.rc ? -1 : 0;
	jobq_msg_clear(&rep);
	return rc;
}

static void key_summary(const struct efuse_key_state *ks, unsigned k, char *buf, size_t cap)
{
	snprintf(buf, cap, "BLOCK_KEY%u: purpose %s, %s, read %s, write %s, purpose %s, RS errors %u%s", k,
		 efuse_purpose_name(ks->purpose),
		 ks->read_protected ? "read-protected" : ks->empty ? "empty" : "holds data",
		 ks->read_protected ? "protected" : "open", ks->write_protected ? "protected" : "open",
		 ks->purpose_write_protected ? "locked" : "open", ks->rs_errors, ks->rs_fail ? " (coding failure)" : "");
}

/* A device the station cannot finish: stored as rework (with the block's
 * summary), and said so. */
static int rework(const struct pipeline_io *io, const struct pipeline_params *pp, struct jobq_msg *result,
		  uint32_t hmac, const char *why, const char *summary)
{
	char note[400];

	snprintf(note, sizeof(note), "%.190s; %.199s", why, summary); /* both fit: no cut mid-character */
	if (tell(io, pp, result, hmac, STORE_HMAC_REWORK, note))
		snprintf(result->error, sizeof(result->error), "%.240s; storing the rework state failed: set it aside",
			 why);
	else
		snprintf(result->error, sizeof(result->error),
			 "%.240s: device marked for rework (%.180s); nothing written, its record is released", why,
			 summary);
	return -1;
}

int pipeline_hmac_burn(struct devsess *dev, const struct pipeline_hmac *ph, const struct pipeline_params *pp,
		       const struct pipeline_io *io, struct jobq_msg *result)
{
	struct flashop *f = devsess_flashop(dev);
	struct efuse_summary s;
	struct efuse_err err = {0};
	unsigned k = PIPELINE_HMAC_BLOCK(ph->hmac), protect = PIPELINE_HMAC_PROTECT(ph->hmac);
	unsigned prior = PIPELINE_HMAC_PRIOR(ph->hmac);
	int sealed = !!(ph->hmac & PIPELINE_HMAC_SEALED), e;
	char sum[200];

	if (!ph->hmac)
		return 0;
	if (!f || (e = efuse_read_summary(f, &s, &err))) {
		snprintf(result->error, sizeof(result->error), "eFuse summary: %s", f ? err.msg : "no ROM session");
		return -1;
	}
	const struct efuse_key_state *ks = &s.key[k];
	int pristine = ks->purpose == EFUSE_PURPOSE_USER && ks->empty && !ks->read_protected && !ks->write_protected &&
		       !ks->rs_errors && !ks->rs_fail;
	int present = ks->purpose == EFUSE_PURPOSE_HMAC_UP && (ks->read_protected || !ks->empty);
	int half = ks->purpose == EFUSE_PURPOSE_USER && !ks->empty && !ks->read_protected && !ks->write_protected &&
		   !ks->purpose_write_protected && !ks->rs_errors && !ks->rs_fail;
	key_summary(ks, k, sum, sizeof(sum));

	if (present) {
		/* A key from an earlier run: never burnt twice. */
		if (!sealed)
			return rework(io, pp, result, ph->hmac, "the key block already carries an HMAC_UP key and the "
				      "product keeps no sealed copy: its image cannot be built", sum);
		if (prior == STORE_HMAC_BURNT || prior == STORE_HMAC_DONE)
			return 0;
		return tell(io, pp, result, ph->hmac, STORE_HMAC_BURNT, "found burnt: finished with the sealed key")
			       ? (snprintf(result->error, sizeof(result->error), "storing key-burnt failed"), -1)
			       : 0;
	}
	if (half && prior != STORE_HMAC_NONE && prior != STORE_HMAC_REFUSED) {
		/* The key block was burnt, BLOCK0 was not (a crash in between). */
		if (!sealed)
			return rework(io, pp, result, ph->hmac, "the key block was burnt but not its purpose (BLOCK0) and "
				      "the product keeps no sealed copy of the key", sum);
		e = efuse_finish_key(f, k, EFUSE_PURPOSE_HMAC_UP, ph->key, protect, &err);
	} else if (pristine && (prior == STORE_HMAC_BURNT || prior == STORE_HMAC_DONE)) {
		return rework(io, pp, result, ph->hmac, "the store says this MAC's key was burnt, the chip's block is "
			      "free: another chip with the same MAC?", sum);
	} else {
		e = efuse_burn_key(f, k, EFUSE_PURPOSE_HMAC_UP, ph->key, protect, &err);
	}
	if (e == 0) {
		if (tell(io, pp, result, ph->hmac, STORE_HMAC_BURNT, NULL)) {
			snprintf(result->error, sizeof(result->error),
				 "key burnt into BLOCK_KEY%u, but storing key-burnt failed: nothing written", k);
			return -1;
		}
		return 0;
	}
	/* The burn's own checks refused with nothing programmed. */
	if (e == EFUSE_ENOTFREE || e == EFUSE_EPURPOSE || e == EFUSE_ESTATE || e == EFUSE_ENOHMAC ||
	    e == EFUSE_EKEYPRESENT) {
		/* after an earlier attempt the odd state may be ours */
		if (prior != STORE_HMAC_NONE && prior != STORE_HMAC_REFUSED)
			return rework(io, pp, result, ph->hmac, err.msg, sum);
		tell(io, pp, result, ph->hmac, STORE_HMAC_REFUSED, err.msg);
		snprintf(result->error, sizeof(result->error), "%s (%s)", err.msg, efuse_error_name(e));
		return -1;
	}
	/* Programming started and did not verify, or the link broke: the
	 * block's state is unknown. With a sealed key the next run can tell;
	 * without, the device cannot be finished. */
	if (!sealed)
		return rework(io, pp, result, ph->hmac, err.msg, sum);
	snprintf(result->error, sizeof(result->error), "eFuse burn: %s (%s): left in key-burning, the next run decides",
		 err.msg, efuse_error_name(e));
	return -1;
}
