/* The per-device provisioning sequence. See pipeline.h. */
#include "pipeline.h"

#include <errno.h>
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
static int read_table(struct romio *dev, uint32_t off, uint8_t *table, size_t *len, char *msg, size_t cap)
{
	size_t have = 0, end = 0;
	int rc;

	while (have < PART_TABLE_MAX_LEN && !end) {
		size_t n = PART_TABLE_MAX_LEN - have < 64 ? PART_TABLE_MAX_LEN - have : 64;
		if (romio_read_unchecked(dev, off + (uint32_t)have, table + have, n, msg, cap))
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
	rc = romio_verify(dev, off, table, have, msg, cap);
	return rc == 0 || rc == ROMIO_ESECURE ? 0 : -1;
}

/* Read back every byte of the image that carries data: in each 4 KiB NVS
 * page, up to its last non-0xFF byte (rounded up to 64). The 0xFF rest is
 * covered by the ROM's MD5 of the whole region, checked just before, and is
 * copied from the image so the caller can compare and decode a full buffer.
 * For a typical record this is one page's first few hundred bytes instead of
 * 24 KiB at 64 bytes per round trip. */
static int read_back(struct romio *dev, uint32_t off, const uint8_t *img, size_t len, uint8_t *out, char *msg,
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
		if (romio_read_unchecked(dev, off + (uint32_t)page, out + page, used - page, msg, cap))
			return -1;
	}
	return 0;
}

struct progress_ctx {
	const struct pipeline_io *io;
	unsigned worker;
	uint64_t last_ms;
	struct romio *dev;    /* abortable session (firmware only), or NULL */
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
		romio_abort_session(pc->dev);
	}
	/* A subscriber needs a few updates a second, not one per 1 KiB block. */
	if (done < total && now - pc->last_ms < 100)
		return;
	pc->last_ms = now;
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_PROGRESS;
	m.worker = pc->worker;
	m.a = done;
	m.b = total;
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
static int write_firmware(struct romio *dev, const struct fwimg_set *fw, struct progress_ctx *pc, char *msg,
			  size_t cap)
{
	struct fw_progress fp = {.pc = pc, .total = fw->total};
	char emsg[256];

	for (size_t i = 0; i < fw->n; i++) {
		const struct fwimg *im = &fw->images[i];
		if (romio_write_verify(dev, im->offset, im->data, im->len, on_fw_progress, &fp, emsg, sizeof(emsg))) {
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
	snprintf(m.text, sizeof(m.text), "%s", pipeline_step_name(s));
	io->emit(io->ctx, &m);
}

static int firmware_step(struct romio *dev, const struct fwimg_set *fw, const struct pipeline_params *pp,
			 const struct pipeline_io *io, struct progress_ctx *pc, struct jobq_msg *result)
{
	uint64_t t = mono_ms();
	int rc;

	if (revoked(io, result->batch_id)) {
		snprintf(result->text, sizeof(result->text), "batch %lld was cancelled: nothing written",
			 (long long)result->batch_id);
		return -1;
	}
	step(io, pp->worker, PIPELINE_STEP_FIRMWARE);
	pc->dev = dev;
	pc->batch_id = result->batch_id;
	rc = write_firmware(dev, fw, pc, result->text, sizeof(result->text));
	pc->dev = NULL;
	if (pc->aborted) {
		snprintf(result->text, sizeof(result->text), "batch %lld was cancelled during the firmware write",
			 (long long)result->batch_id);
		return -1;
	}
	if (rc)
		return -1;
	result->step_ms[PIPELINE_STEP_FIRMWARE] = (uint32_t)(mono_ms() - t);
	return 0;
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

/* Decode what came back: the image must walk cleanly with every CRC good. */
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

int pipeline_provision(struct romio *dev, const struct romio_ident *id, const struct jobq_msg *work,
		       const struct pipeline_params *pp, const struct pipeline_io *io, struct jobq_msg *result)
{
	struct jobq_msg req, rep;
	uint8_t table[PART_TABLE_MAX_LEN];
	size_t tlen = 0;
	uint8_t md5_img[16];
	uint8_t *readback = NULL;
	char emsg[256];
	struct progress_ctx pc = {.io = io, .worker = pp->worker};
	struct romio_stats st;
	uint64_t t0 = mono_ms(), t;
	const struct fwimg_set *fw = work->fw && work->fw->n ? work->fw : NULL;
	int fw_table = fw && fwimg_find(fw, pp->table_offset);
	struct pipeline_ident ident = {0};
	struct pipeline_hmac hmac = {0};
	int rc = -1;

	memset(result, 0, sizeof(*result));
	memset(&rep, 0, sizeof(rep));
	result->kind = JOBQ_RESULT;
	result->worker = pp->worker;
	result->batch_id = work->batch_id;
	snprintf(result->mac, sizeof(result->mac), "%s", id->mac);
	snprintf(result->chip, sizeof(result->chip), "%s", id->chip);

	/* 0. Flash encryption on: the ROM path writes plaintext, which the app
	 * (decrypting what it reads, and with IDF's NVS encryption on by
	 * default then) cannot use. Refuse before any write or claim. */
	if (id->flash_encrypted) {
		snprintf(result->text, sizeof(result->text),
			 "flash encryption is enabled on this %s (FLASH_CRYPT_CNT odd): a plaintext NVS image "
			 "would be unreadable by its app; set it aside for rework",
			 id->chip);
		goto out;
	}
	/* 0. NVS encryption with an HMAC eFuse key needs a chip that has one. */
	if (pipeline_hmac_precheck(work, id->chip, result->text, sizeof(result->text)))
		goto out;
	/* 0. Firmware images: the device must be the chip they were built for
	 * (another chip's bootloader does not boot) and hold them all. */
	if (fw) {
		const struct fwimg *last = &fw->images[fw->n - 1];
		if (!fwimg_chip_equal(id->chip, fw->chip)) {
			snprintf(result->text, sizeof(result->text),
				 "chip mismatch: the device is an %s, the product's firmware is built for %s", id->chip,
				 fw->chip);
			goto out;
		}
		if (id->flash_size && (uint64_t)last->offset + last->len > id->flash_size) {
			snprintf(result->text, sizeof(result->text),
				 "firmware needs 0x%llx bytes of flash (%.60s ends there), the device has 0x%x",
				 (unsigned long long)last->offset + last->len, last->name, id->flash_size);
			goto out;
		}
	}
	/* Images that bring the partition table go first: the device's old
	 * table (or none, fresh from the reel) does not matter then. */
	if (fw && fw_table && firmware_step(dev, fw, pp, io, &pc, result))
		goto out;

	/* 1. The device's own partition table must agree with the product's:
	 * writing NVS where the firmware does not look for it is worse than
	 * writing nothing. */
	step(io, pp->worker, PIPELINE_STEP_TABLE);
	t = mono_ms();
	if (read_table(dev, pp->table_offset, table, &tlen, emsg, sizeof(emsg))) {
		snprintf(result->text, sizeof(result->text), "reading the partition table: %s", emsg);
		goto out;
	}
	if (pipeline_check_table(table, tlen, pp->table_offset, work->data, work->len, work->label,
				 (uint32_t)work->a, (uint32_t)work->b, result->text, sizeof(result->text)))
		goto out;
	result->step_ms[PIPELINE_STEP_TABLE] = (uint32_t)(mono_ms() - t);
	if (fw && !fw_table && firmware_step(dev, fw, pp, io, &pc, result))
		goto out;

	/* 2. Claim: the main thread owns the store; it also builds the image. */
	if (revoked(io, work->batch_id)) {
		snprintf(result->text, sizeof(result->text), "batch %lld was cancelled", (long long)work->batch_id);
		goto out;
	}
	step(io, pp->worker, PIPELINE_STEP_CLAIM);
	t = mono_ms();
	memset(&req, 0, sizeof(req));
	req.kind = JOBQ_CLAIM_REQ;
	req.worker = pp->worker;
	req.batch_id = work->batch_id;
	snprintf(req.mac, sizeof(req.mac), "%s", id->mac);
	snprintf(req.chip, sizeof(req.chip), "%s", id->chip);
	if (io->ask(io->ctx, &req, JOBQ_CLAIM_REP, &rep, pp->timeout_ms) || rep.rc) {
		snprintf(result->text, sizeof(result->text), "claim: %.400s", rep.text[0] ? rep.text : "stopped");
		goto out;
	}
	result->job_id = rep.job_id;
	snprintf(result->record, sizeof(result->record), "%s", rep.record);
	result->step_ms[PIPELINE_STEP_GENERATE] = (uint32_t)rep.a;
	result->step_ms[PIPELINE_STEP_CLAIM] = (uint32_t)(mono_ms() - t - rep.a);
	/* The esp_secure_cert part (pipeline_ident.h): a device that must
	 * still hold its certificate is checked before any byte is written. */
	if (pipeline_hmac_take(&rep, &hmac, result->text, sizeof(result->text)) ||
	    pipeline_ident_take(&rep, &ident, result->text, sizeof(result->text)))
		goto out;
	if (ident.mode == JOBQ_IDENT_CHECK && pipeline_ident_check(dev, &ident, result->text, sizeof(result->text)))
		goto out;
	if (!rep.data || rep.len != work->b) {
		snprintf(result->text, sizeof(result->text), "image of %zu bytes for a 0x%llx-byte partition",
			 rep.len, (unsigned long long)work->b);
		goto out;
	}

	/* 2b. The HMAC key into its eFuse block (pipeline_hmac.h): before the
	 * record is bound, so a refusal or rework releases it. */
	if (pipeline_hmac_burn(dev, &hmac, pp, io, result))
		goto out;
	result->hmac = hmac.hmac;

	/* 3. The store binds the record to this MAC before any byte leaves. */
	memset(&req, 0, sizeof(req));
	req.kind = JOBQ_SENT_REQ;
	req.worker = pp->worker;
	req.job_id = rep.job_id;
	{
		struct jobq_msg ack;
		memset(&ack, 0, sizeof(ack));
		if (io->ask(io->ctx, &req, JOBQ_SENT_REP, &ack, pp->timeout_ms) || ack.rc) {
			snprintf(result->text, sizeof(result->text), "mark sent: %.400s",
				 ack.text[0] ? ack.text : "stopped");
			jobq_msg_clear(&ack);
			goto out;
		}
		jobq_msg_clear(&ack);
	}
	result->sent = 1;

	/* 4. Write. */
	step(io, pp->worker, PIPELINE_STEP_WRITE);
	t = mono_ms();
	if (romio_write(dev, (uint32_t)work->a, rep.data, rep.len, on_progress, &pc, emsg, sizeof(emsg))) {
		snprintf(result->text, sizeof(result->text), "write: %s", emsg);
		goto out;
	}
	result->step_ms[PIPELINE_STEP_WRITE] = (uint32_t)(mono_ms() - t);

	/* 5. Verify: the ROM's MD5 of the region, then the bytes themselves read
	 * back and decoded (work->rc carries the "md5 only" choice). */
	step(io, pp->worker, PIPELINE_STEP_VERIFY);
	t = mono_ms();
	if (romio_verify(dev, (uint32_t)work->a, rep.data, rep.len, emsg, sizeof(emsg))) {
		snprintf(result->text, sizeof(result->text), "verify: %s", emsg);
		goto out;
	}
	/* Equal to the device's: flashop_verify compared them. */
	if (EVP_Digest(rep.data, rep.len, md5_img, NULL, EVP_md5(), NULL))
		hex(md5_img, 16, result->digest);
	if (!work->sent) { /* sent on a WORK_REP: "verify_readback = no" */
		readback = malloc(rep.len);
		if (!readback) {
			snprintf(result->text, sizeof(result->text), "verify: out of memory");
			goto out;
		}
		if (read_back(dev, (uint32_t)work->a, rep.data, rep.len, readback, emsg, sizeof(emsg))) {
			snprintf(result->text, sizeof(result->text), "verify read-back: %s", emsg);
			goto out;
		}
		if (memcmp(readback, rep.data, rep.len)) {
			snprintf(result->text, sizeof(result->text), "verify: read-back differs from the image");
			goto out;
		}
		if (decode_check(readback, rep.len, hmac.hmac ? hmac.xts : NULL, result->text, sizeof(result->text)))
			goto out;
	}
	result->step_ms[PIPELINE_STEP_VERIFY] = (uint32_t)(mono_ms() - t);
	/* 5b. The identity: the whole esp_secure_cert partition, verified and
	 * read back (counted in the write step's time). */
	if (ident.mode == JOBQ_IDENT_WRITE) {
		t = mono_ms();
		if (pipeline_ident_write(dev, &ident, result->text, sizeof(result->text)))
			goto out;
		result->step_ms[PIPELINE_STEP_WRITE] += (uint32_t)(mono_ms() - t);
	}
	result->ident = ident.mode;

	/* 6. Leave the loader. A device that does not reboot is still
	 * provisioned: the flash is verified, so this is not a failure. */
	step(io, pp->worker, PIPELINE_STEP_RESET);
	t = mono_ms();
	if (romio_hard_reset(dev, emsg, sizeof(emsg)))
		snprintf(result->text, sizeof(result->text), "note: hard reset: %s", emsg);
	result->step_ms[PIPELINE_STEP_RESET] = (uint32_t)(mono_ms() - t);
	rc = 0;
out:
	romio_get_stats(dev, &st);
	result->retries = st.retries;
	result->baud = st.baud;
	result->rc = rc;
	result->duration_ms = (uint32_t)(mono_ms() - t0);
	if (readback) {
		OPENSSL_cleanse(readback, rep.len);
		free(readback);
	}
	pipeline_ident_clear(&ident);
	pipeline_hmac_clear(&hmac);
	jobq_msg_clear(&rep);
	return rc;
}
