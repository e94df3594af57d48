/* The per-device provisioning sequence. See pipeline.h. */
#include "espfab/err.h"
#include "pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "espfab/nvs_decode.h"
#include "espfab/part.h"
#include "pipeline_hmac.h"
#include "pipeline_ident.h"

static const char *const step_names[PIPELINE_STEP_COUNT_] = {
	[PIPELINE_STEP_CONNECT] = "connect",   [PIPELINE_STEP_IDENTIFY] = "identify",
	[PIPELINE_STEP_FIRMWARE] = "firmware",
	[PIPELINE_STEP_TABLE] = "table",       [PIPELINE_STEP_CLAIM] = "claim",
	[PIPELINE_STEP_GENERATE] = "generate", [PIPELINE_STEP_WRITE] = "write",
	[PIPELINE_STEP_VERIFY] = "verify",     [PIPELINE_STEP_RESET] = "reset",
	[PIPELINE_STEP_AUDIT] = "audit",
};

_Static_assert(PIPELINE_STEP_COUNT_ <= JOBQ_NSTEPS, "a result carries one timing per step");

const char *pipeline_step_name(enum pipeline_step s)
{
	if ((unsigned)s < PIPELINE_STEP_COUNT_)
		return step_names[s];
	return "?";
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "label type/subtype 0xOFF+0xSIZE" for each entry, separated by "; ". */
static void table_summary(const struct part_table *t, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; t && i < t->count && n + 1 < cap; i++) {
		const struct part_entry *e = &t->entries[i];
		int w = snprintf(buf + n, cap - n, "%s%s %u/%u 0x%x+0x%x", i ? "; " : "", e->name, e->type,
				 e->subtype, e->offset, e->size);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int pipeline_check_table(const uint8_t *dev_table, size_t dev_len, uint32_t table_offset,
			 const uint8_t *prod_table, size_t prod_len, const char *label, uint32_t offset,
			 uint32_t size, char *msg, size_t cap)
{
	struct part_table *dev = NULL, *prod = NULL;
	struct part_opts o;
	struct part_err perr;
	const struct part_entry *e;
	char dsum[512], psum[512];
	int rc = -1;

	part_opts_init(&o);
	o.table_offset = table_offset;
	if (part_readback_parse(dev_table, dev_len, &o, PART_RB_NO_VERIFY, &dev, &perr)) {
		snprintf(msg, cap, "device partition table at 0x%x unreadable: %s", table_offset, perr.msg);
		goto out;
	}
	if (part_bin_parse(prod_table, prod_len, &o, &prod, &perr)) {
		snprintf(msg, cap, "product partition table unreadable: %s", perr.msg);
		goto out;
	}
	e = part_find_label(dev, label);
	if (e && e->offset == offset && e->size == size && e->type == PART_TYPE_DATA &&
	    e->subtype == PART_SUBTYPE_DATA_NVS) {
		rc = 0;
		goto out;
	}
	table_summary(dev, dsum, sizeof(dsum));
	table_summary(prod, psum, sizeof(psum));
	if (e)
		snprintf(msg, cap,
			 "partition table mismatch: '%s' is 0x%x+0x%x (type %u/%u) on the device, 0x%x+0x%x in the "
			 "product; device table: [%s]; product table: [%s]",
			 label, e->offset, e->size, e->type, e->subtype, offset, size, dsum, psum);
	else
		snprintf(msg, cap,
			 "partition table mismatch: no '%s' partition on the device; device table: [%s]; product "
			 "table: [%s]",
			 label, dsum, psum);
out:
	part_table_free(dev);
	part_table_free(prod);
	return rc;
}

/* The ROM loader reads 64 bytes per READ_FLASH_SLOW round trip, so the
 * table is read 64 bytes at a time up to its end marker (an entry starting
 * with FF FF) instead of all 0xC00 bytes, then checked once against the
 * ROM's MD5 of what was read: 4 round trips for a 3-partition table rather
 * than 48 (or 6 with a check per step). */
static int read_table(struct devsess *dev, uint32_t off, uint8_t *table, size_t *len, char *msg, size_t cap)
{
	size_t have = 0, end = 0;
	int rc;

	while (have < PART_TABLE_MAX_LEN && !end) {
		size_t n = PART_TABLE_MAX_LEN - have < 64 ? PART_TABLE_MAX_LEN - have : 64;
		if (devsess_read_unchecked(dev, off + (uint32_t)have, table + have, n, msg, cap))
			return -1;
		for (size_t e = have; e + 1 < have + n; e += PART_ENTRY_LEN)
			if (table[e] == 0xFF && table[e + 1] == 0xFF) {
				end = e + PART_ENTRY_LEN <= have + n ? e + PART_ENTRY_LEN : have + n;
				break;
			}
		have += n;
	}
	*len = end ? end : have;
	/* Secure download mode has no MD5: the bytes stand as read (as
	 * flashop_read() does there). */
	rc = devsess_verify(dev, off, table, have, msg, cap);
	return rc == 0 || rc == DEVSESS_ESECURE ? 0 : -1;
}

/* Read back every byte of the image that carries data: in each 4 KiB NVS
 * page, up to its last non-0xFF byte (rounded up to 64). The 0xFF rest is
 * covered by the ROM's MD5 of the whole region, checked just before, and is
 * copied from the image so the caller can compare and decode a full buffer.
 * For a typical record this is one page's first few hundred bytes instead of
 * 24 KiB at 64 bytes per round trip. */
static int read_back(struct devsess *dev, uint32_t off, const uint8_t *img, size_t len, uint8_t *out, char *msg,
		     size_t cap)
{
	memcpy(out, img, len);
	for (size_t page = 0; page < len; page += NVS_PAGE_SIZE) {
		size_t end = page + NVS_PAGE_SIZE < len ? page + NVS_PAGE_SIZE : len, used = page;
		for (size_t i = page; i < end; i++)
			if (img[i] != 0xFF)
				used = i + 1;
		if (used == page)
			continue;
		used = page + ((used - page + 63) & ~(size_t)63);
		if (used > end)
			used = end;
		/* No MD5 per read: the caller compares every byte with the image,
		 * which the ROM's MD5 of the whole region already matched. */
		if (devsess_read_unchecked(dev, off + (uint32_t)page, out + page, used - page, msg, cap))
			return -1;
	}
	return 0;
}

struct progress_ctx {
	const struct pipeline_io *io;
	unsigned worker;
	uint64_t last_ms;
	struct devsess *dev;    /* abortable session (firmware only), or NULL */
	int64_t batch_id;
	int aborted;          /* the batch was withdrawn during this write */
};

static int revoked(const struct pipeline_io *io, int64_t batch_id)
{
	return io->revoked && io->revoked(io->ctx, batch_id);
}

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_ctx *pc = ctx;
	uint64_t now = mono_ms();
	struct jobq_msg m;

	/* A cancelled batch stops its firmware between two blocks rather than
	 * driving the board through every image for nothing. */
	if (pc->dev && !pc->aborted && revoked(pc->io, pc->batch_id)) {
		pc->aborted = 1;
		devsess_abort_session(pc->dev);
	}
	/* A subscriber needs a few updates a second, not one per 1 KiB block. */
	if (done < total && now - pc->last_ms < 100)
		return;
	pc->last_ms = now;
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_PROGRESS;
	m.worker = pc->worker;
	m.u.progress.done = done;
	m.u.progress.total = total;
	pc->io->emit(pc->io->ctx, &m);
}

/* One progress bar over all images: done counts from the first image. */
struct fw_progress {
	struct progress_ctx *pc;
	uint64_t base, total;
};

static void on_fw_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct fw_progress *fp = ctx;

	(void)total;
	on_progress(fp->pc, fp->base + done, fp->total);
}

/* Every image, compressed, each checked by the ROM's MD5 of its region
 * (esptool's write_flash does the same per file). They hold no secrets, so
 * no read-back: the MD5 covers every byte. */
static int write_firmware(struct devsess *dev, const struct fwimg_set *fw, struct progress_ctx *pc, char *msg,
			  size_t cap)
{
	struct fw_progress fp = {.pc = pc, .total = fw->total};
	char emsg[256];

	for (size_t i = 0; i < fw->n; i++) {
		const struct fwimg *im = &fw->images[i];
		if (devsess_write_verify(dev, im->offset, im->data, im->len, on_fw_progress, &fp, emsg, sizeof(emsg))) {
			snprintf(msg, cap, "firmware %.60s at 0x%x: %s", im->name, im->offset, emsg);
			return -1;
		}
		fp.base += im->len;
	}
	return 0;
}

static void step(const struct pipeline_io *io, unsigned worker, enum pipeline_step s)
{
	struct jobq_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_STEP;
	m.worker = worker;
	snprintf(m.u.step.name, sizeof(m.u.step.name), "%s", pipeline_step_name(s));
	io->emit(io->ctx, &m);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Decode what came back: the image must walk cleanly with every CRC good
 * (xts: the HMAC-derived keys of an encrypted image, else NULL). */
static int decode_check(const uint8_t *img, size_t len, const uint8_t *xts, char *msg, size_t cap)
{
	struct nvs_decode *d = NULL;
	struct nvs_err nerr;
	int rc = 0;

	if (nvs_decode_image(img, len, xts, &d, &nerr)) {
		snprintf(msg, cap, "read-back NVS image does not decode: %s", nerr.msg);
		return -1;
	}
	if (d->problem_count) {
		snprintf(msg, cap, "read-back NVS image has %zu problem(s), first: %s", d->problem_count,
			 d->problems[0].msg);
		rc = -1;
	} else if (!d->value_count) {
		snprintf(msg, cap, "read-back NVS image holds no values");
		rc = -1;
	}
	nvs_decode_free(d);
	return rc;
}

/* One device's run of the sequence: what its steps share. */
struct run {
	struct devsess *dev;
	const struct devsess_ident *id;
	const struct jobq_work *work; /* &work message's u.work */
	const struct jobq_msg *wmsg;  /* the work reply: product table in data, firmware in fw */
	const struct pipeline_params *pp;
	const struct pipeline_io *io;
	struct jobq_msg *result;
	struct jobq_result *res;      /* &result->u.result */
	struct progress_ctx pc;
	const struct fwimg_set *fw;   /* NULL: the product has no firmware */
	int fw_table;                 /* the firmware brings the partition table */
	struct jobq_msg rep;          /* the claim's reply: the NVS image in rep.data (secret) */
	struct pipeline_ident ident;
	struct pipeline_hmac hmac;    /* the HMAC key and XTS keys (secret) */
	uint8_t *readback;            /* rep.len bytes (secret) */
};

static int fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(r->result->error, sizeof(r->result->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* The firmware images (before or after the table step, see below). */
static int firmware_step(struct run *r)
{
	uint64_t t = mono_ms();
	int rc;

	if (revoked(r->io, r->result->batch_id))
		return fail(r, "batch %lld was cancelled: nothing written", (long long)r->result->batch_id);
	step(r->io, r->pp->worker, PIPELINE_STEP_FIRMWARE);
	r->pc.dev = r->dev;
	r->pc.batch_id = r->result->batch_id;
	rc = write_firmware(r->dev, r->fw, &r->pc, r->result->error, sizeof(r->result->error));
	r->pc.dev = NULL;
	if (r->pc.aborted)
		return fail(r, "batch %lld was cancelled during the firmware write", (long long)r->result->batch_id);
	if (rc)
		return -1;
	r->res->step_ms[PIPELINE_STEP_FIRMWARE] = (uint32_t)(mono_ms() - t);
	return 0;
}

/* 0. Before any write or claim: flash encryption on means the ROM path
 * writes plaintext, which the app (decrypting what it reads, and with IDF's
 * NVS encryption on by default then) cannot use. Firmware images: the
 * device must be the chip they were built for (another chip's bootloader
 * does not boot) and hold them all. */
static int check_device(struct run *r)
{
	const struct devsess_ident *id = r->id;

	if (id->flash_encrypted)
		return fail(r,
			    "flash encryption is enabled on this %s (FLASH_CRYPT_CNT odd): a plaintext NVS image "
			    "would be unreadable by its app; set it aside for rework",
			    id->chip);
	if (r->fw) {
		const struct fwimg *last = &r->fw->images[r->fw->n - 1];
		if (!fwimg_chip_equal(id->chip, r->fw->chip))
			return fail(r, "chip mismatch: the device is an %s, the product's firmware is built for %s",
				    id->chip, r->fw->chip);
		if (id->flash_size && (uint64_t)last->offset + last->len > id->flash_size)
			return fail(r, "firmware needs 0x%llx bytes of flash (%.60s ends there), the device has 0x%x",
				    (unsigned long long)last->offset + last->len, last->name, id->flash_size);
	}
	/* NVS encryption with an HMAC eFuse key needs a chip that has one. */
	return pipeline_hmac_precheck(r->wmsg, id->chip, r->result->error, sizeof(r->result->error));
}

/* 1. The device's own partition table must agree with the product's:
 * writing NVS where the firmware does not look for it is worse than writing
 * nothing. */
static int table_step(struct run *r)
{
	uint8_t table[PART_TABLE_MAX_LEN];
	size_t tlen = 0;
	char emsg[256];
	uint64_t t;

	step(r->io, r->pp->worker, PIPELINE_STEP_TABLE);
	t = mono_ms();
	if (read_table(r->dev, r->pp->table_offset, table, &tlen, emsg, sizeof(emsg)))
		return fail(r, "reading the partition table: %s", emsg);
	if (pipeline_check_table(table, tlen, r->pp->table_offset, r->wmsg->data, r->wmsg->len, r->work->label,
				 r->work->part_offset, r->work->part_size, r->result->error, sizeof(r->result->error)))
		return -1;
	r->res->step_ms[PIPELINE_STEP_TABLE] = (uint32_t)(mono_ms() - t);
	return 0;
}

/* 2. Claim: the main thread owns the store; it also builds the image. A
 * device that must still hold its certificate (pipeline_ident.h) is checked
 * before any byte is written. */
static int claim_step(struct run *r)
{
	struct jobq_msg req;
	uint64_t t;

	if (revoked(r->io, r->result->batch_id))
		return fail(r, "batch %lld was cancelled", (long long)r->result->batch_id);
	step(r->io, r->pp->worker, PIPELINE_STEP_CLAIM);
	t = mono_ms();
	memset(&req, 0, sizeof(req));
	req.kind = JOBQ_CLAIM_REQ;
	req.worker = r->pp->worker;
	req.batch_id = r->result->batch_id;
	snprintf(req.mac, sizeof(req.mac), "%s", r->id->mac);
	snprintf(req.chip, sizeof(req.chip), "%s", r->id->chip);
	if (r->io->ask(r->io->ctx, &req, JOBQ_CLAIM_REP, &r->rep, r->pp->timeout_ms) || r->rep.rc)
		return fail(r, "claim: %.400s", r->rep.error[0] ? r->rep.error : "stopped");
	r->result->job_id = r->rep.job_id;
	snprintf(r->res->record, sizeof(r->res->record), "%s", r->rep.u.claim.record);
	r->res->step_ms[PIPELINE_STEP_GENERATE] = r->rep.u.claim.generate_ms;
	r->res->step_ms[PIPELINE_STEP_CLAIM] = (uint32_t)(mono_ms() - t - r->rep.u.claim.generate_ms);
	if (pipeline_hmac_take(&r->rep, &r->hmac, r->result->error, sizeof(r->result->error)) ||
	    pipeline_ident_take(&r->rep, &r->ident, r->result->error, sizeof(r->result->error)))
		return -1;
	if (r->ident.mode == JOBQ_IDENT_CHECK &&
	    pipeline_ident_check(r->dev, &r->ident, r->result->error, sizeof(r->result->error)))
		return -1;
	if (!r->rep.data || r->rep.len != r->work->part_size)
		return fail(r, "image of %zu bytes for a 0x%llx-byte partition", r->rep.len,
			    (unsigned long long)r->work->part_size);
	return 0;
}

/* 2b. The HMAC key into its eFuse block (pipeline_hmac.h): before the
 * record is bound, so a refusal or rework releases it. */
static int hmac_burn_step(struct run *r)
{
	if (pipeline_hmac_burn(r->dev, &r->hmac, r->pp, r->io, r->result))
		return -1;
	r->res->hmac = r->hmac.hmac;
	return 0;
}

/* 3. The store binds the record to this MAC before any byte leaves. */
static int mark_sent_step(struct run *r)
{
	struct jobq_msg req, ack;
	int rc = 0;

	memset(&req, 0, sizeof(req));
	memset(&ack, 0, sizeof(ack));
	req.kind = JOBQ_SENT_REQ;
	req.worker = r->pp->worker;
	req.job_id = r->rep.job_id;
	if (r->io->ask(r->io->ctx, &req, JOBQ_SENT_REP, &ack, r->pp->timeout_ms) || ack.rc)
		rc = fail(r, "mark sent: %.400s", ack.error[0] ? ack.error : "stopped");
	jobq_msg_clear(&ack);
	if (!rc)
		r->res->sent = 1;
	return rc;
}

/* 4. Write. */
static int write_step(struct run *r)
{
	char emsg[256];
	uint64_t t;

	step(r->io, r->pp->worker, PIPELINE_STEP_WRITE);
	t = mono_ms();
	if (devsess_write(r->dev, r->work->part_offset, r->rep.data, r->rep.len, on_progress, &r->pc, emsg,
			  sizeof(emsg)))
		return fail(r, "write: %s", emsg);
	r->res->step_ms[PIPELINE_STEP_WRITE] = (uint32_t)(mono_ms() - t);
	return 0;
}

/* 5. Verify: the ROM's MD5 of the region, then the bytes themselves read
 * back and decoded (unless the work reply's md5_only says not to). */
static int verify_step(struct run *r)
{
	uint32_t off = r->work->part_offset;
	uint8_t md5_img[16];
	char emsg[256];
	uint64_t t;

	step(r->io, r->pp->worker, PIPELINE_STEP_VERIFY);
	t = mono_ms();
	if (devsess_verify(r->dev, off, r->rep.data, r->rep.len, emsg, sizeof(emsg)))
		return fail(r, "verify: %s", emsg);
	/* Equal to the device's: flashop_verify compared them. */
	if (EVP_Digest(r->rep.data, r->rep.len, md5_img, NULL, EVP_md5(), NULL))
		hex(md5_img, 16, r->res->flash_md5);
	if (!r->work->md5_only) {
		r->readback = malloc(r->rep.len);
		if (!r->readback)
			return fail(r, "verify: out of memory");
		if (read_back(r->dev, off, r->rep.data, r->rep.len, r->readback, emsg, sizeof(emsg)))
			return fail(r, "verify read-back: %s", emsg);
		if (memcmp(r->readback, r->rep.data, r->rep.len))
			return fail(r, "verify: read-back differs from the image");
		if (decode_check(r->readback, r->rep.len, r->hmac.hmac ? r->hmac.xts : NULL, r->result->error,
				 sizeof(r->result->error)))
			return -1;
	}
	r->res->step_ms[PIPELINE_STEP_VERIFY] = (uint32_t)(mono_ms() - t);
	return 0;
}

/* 5b. The identity: the whole esp_secure_cert partition, verified and read
 * back (counted in the write step's time). */
static int ident_step(struct run *r)
{
	uint64_t t = mono_ms();

	if (r->ident.mode == JOBQ_IDENT_WRITE) {
		if (pipeline_ident_write(r->dev, &r->ident, r->result->error, sizeof(r->result->error)))
			return -1;
		r->res->step_ms[PIPELINE_STEP_WRITE] += (uint32_t)(mono_ms() - t);
	}
	r->res->ident = r->ident.mode;
	return 0;
}

/* 6. Leave the loader. A device that does not reboot is still provisioned:
 * the flash is verified, so this is not a failure (a note in error). */
static void reset_step(struct run *r)
{
	char emsg[256];
	uint64_t t;

	step(r->io, r->pp->worker, PIPELINE_STEP_RESET);
	t = mono_ms();
	if (devsess_hard_reset(r->dev, emsg, sizeof(emsg)))
		fail(r, "note: hard reset: %s", emsg);
	r->res->step_ms[PIPELINE_STEP_RESET] = (uint32_t)(mono_ms() - t);
}

int pipeline_provision(struct devsess *dev, const struct devsess_ident *id, const struct jobq_msg *work,
		       const struct pipeline_params *pp, const struct pipeline_io *io, struct jobq_msg *result)
{
	struct run r = {.dev = dev, .id = id, .work = &work->u.work, .wmsg = work, .pp = pp, .io = io,
			.result = result, .res = &result->u.result, .pc = {.io = io, .worker = pp->worker}};
	struct devsess_stats st;
	uint64_t t0 = mono_ms();
	int rc;

	memset(result, 0, sizeof(*result));
	result->kind = JOBQ_RESULT;
	result->worker = pp->worker;
	result->batch_id = work->batch_id;
	snprintf(result->mac, sizeof(result->mac), "%s", id->mac);
	snprintf(result->chip, sizeof(result->chip), "%s", id->chip);
	r.fw = work->fw && work->fw->n ? work->fw : NULL;
	r.fw_table = r.fw && fwimg_find(r.fw, pp->table_offset);

	/* Images that bring the partition table go first: the device's old
	 * table (or none, fresh from the reel) does not matter then. */
	rc = check_device(&r);
	if (!rc && r.fw_table)
		rc = firmware_step(&r);
	if (!rc)
		rc = table_step(&r);
	if (!rc && r.fw && !r.fw_table)
		rc = firmware_step(&r);
	if (!rc)
		rc = claim_step(&r);
	if (!rc)
		rc = hmac_burn_step(&r);
	if (!rc)
		rc = mark_sent_step(&r);
	if (!rc)
		rc = write_step(&r);
	if (!rc)
		rc = verify_step(&r);
	if (!rc)
		rc = ident_step(&r);
	if (!rc)
		reset_step(&r);

	devsess_get_stats(dev, &st);
	r.res->retries = st.retries;
	r.res->baud = st.baud;
	result->rc = rc;
	r.res->duration_ms = (uint32_t)(mono_ms() - t0);
	if (r.readback) {
		OPENSSL_cleanse(r.readback, r.rep.len);
		free(r.readback);
	}
	pipeline_ident_clear(&r.ident);
	pipeline_hmac_clear(&r.hmac);
	jobq_msg_clear(&r.rep);
	return rc;
}
