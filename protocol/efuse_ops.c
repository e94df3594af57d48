/* eFuse read and key burn over the ROM loader, the register sequence of
 * espefuse (esptool v4.8.1 espefuse/efuse/esp32c3/fields.py and
 * base_fields.py: efuse_controller_setup, burn_words, efuse_program,
 * efuse_read; esp32c3/operations.py burn_key for the order of checks). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/efuse.h"
#include "espfab/flashop.h"
#include "le.h"

#define IDLE_POLLS 200

static int fail(struct efuse_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct efuse_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

static int rom_err(struct flashop *f, struct efuse_err *err, int e, const char *what)
{
	return fail(err, e, "%s: %s", what, flashop_diag(f)->msg[0] ? flashop_diag(f)->msg : rom_strerror(e));
}

static int layout_of(struct flashop *f, const struct efuse_layout **out, struct efuse_err *err)
{
	const struct chip_desc *c = flashop_info(f)->chip;

	*out = c ? efuse_layout_for(c->name) : NULL;
	if (*out)
		return 0;
	if (c && (c->id == CHIP_ESP32 || c->id == CHIP_ESP32C2))
		return fail(err, EFUSE_ENOHMAC, "%s has no HMAC peripheral: NVS encryption with the HMAC scheme is impossible",
			    c->name);
	return fail(err, EFUSE_ENOHMAC, "%s: espfab has no eFuse model of this chip (supported: ESP32-C3, C6, H2, S3)",
		    c ? c->name : "unknown chip");
}

static int rd(struct flashop *f, const struct efuse_layout *l, uint32_t off, uint32_t *v, struct efuse_err *err)
{
	int e = flashop_read_reg(f, l->base + off, v);

	return e ? rom_err(f, err, e, "eFuse read") : 0;
}

static int wr(struct flashop *f, const struct efuse_layout *l, uint32_t off, uint32_t v, struct efuse_err *err)
{
	int e = flashop_write_reg(f, l->base + off, v);

	return e ? rom_err(f, err, e, "eFuse write") : 0;
}

/* espefuse's wait_efuse_idle: CMD's PGM and READ bits clear, read twice
 * (a hardware erratum on the eFuse clock). */
static int wait_idle(struct flashop *f, const struct efuse_layout *l, struct efuse_err *err)
{
	uint32_t v;
	int e;

	for (int i = 0; i < IDLE_POLLS; i++) {
		if ((e = rd(f, l, EFUSE_CMD, &v, err)))
			return e;
		if (v & (EFUSE_CMD_PGM | EFUSE_CMD_READ))
			continue;
		if ((e = rd(f, l, EFUSE_CMD, &v, err)))
			return e;
		if (!(v & (EFUSE_CMD_PGM | EFUSE_CMD_READ)))
			return 0;
	}
	return fail(err, EFUSE_EBUSY, "eFuse controller of the %s never went idle (CMD 0x%08x)",
		    flashop_info(f)->chip->name, (unsigned)v);
}

static int update_reg(struct flashop *f, const struct efuse_layout *l, uint32_t off, uint32_t mask, uint32_t val,
		      struct efuse_err *err)
{
	uint32_t cur;
	int e;

	if ((e = rd(f, l, off, &cur, err)))
		return e;
	return wr(f, l, off, cur | (val & mask), err);
}

static int efuse_read_cmd(struct flashop *f, const struct efuse_layout *l, struct efuse_err *err)
{
	int e;

	if ((e = wait_idle(f, l, err)) || (e = wr(f, l, EFUSE_CONF, EFUSE_READ_OP_CODE, err)) ||
	    (e = wr(f, l, EFUSE_CMD, EFUSE_CMD_READ, err)))
		return e;
	return wait_idle(f, l, err);
}

static int clear_pgm(struct flashop *f, const struct efuse_layout *l, struct efuse_err *err)
{
	int e;

	if ((e = wait_idle(f, l, err)))
		return e;
	for (uint32_t o = 0; o < 32; o += 4)
		if ((e = wr(f, l, EFUSE_PGM_DATA0 + o, 0, err)))
			return e;
	return 0;
}

/* set_efuse_timing + clear_pgm_registers + wait_efuse_idle */
static int controller_setup(struct flashop *f, const struct efuse_layout *l, struct efuse_err *err)
{
	int e;

	if ((e = update_reg(f, l, EFUSE_DAC_CONF, 0xFFu << 9, 0xFFu << 9, err)) ||
	    (e = update_reg(f, l, EFUSE_DAC_CONF, 0xFFu, 0x28u, err)) ||
	    (e = update_reg(f, l, l->wr_tim_conf1, 0xFFFFu << 8, 0x3000u << 8, err)) ||
	    (e = update_reg(f, l, l->wr_tim_conf2, 0xFFFFu, 0x190u, err)))
		return e;
	if ((e = clear_pgm(f, l, err)))
		return e;
	return wait_idle(f, l, err);
}

/* burn_words (one attempt) + efuse_program: PGM data, CONF write op code,
 * CMD PGM with the block number, clear, READ. */
static int program_block(struct flashop *f, const struct efuse_layout *l, unsigned block, const uint32_t *words,
			 unsigned n, struct efuse_err *err)
{
	int e;

	if ((e = controller_setup(f, l, err)))
		return e;
	for (unsigned i = 0; i < n; i++)
		if ((e = wr(f, l, EFUSE_PGM_DATA0 + 4 * i, words[i], err)))
			return e;
	if ((e = wait_idle(f, l, err)) || (e = wr(f, l, EFUSE_CONF, EFUSE_WRITE_OP_CODE, err)) ||
	    (e = wr(f, l, EFUSE_CMD, EFUSE_CMD_PGM | block << 2, err)) || (e = wait_idle(f, l, err)) ||
	    (e = clear_pgm(f, l, err)))
		return e;
	return efuse_read_cmd(f, l, err);
}

static int read_block(struct flashop *f, const struct efuse_layout *l, unsigned block, uint32_t *w,
		      struct efuse_err *err)
{
	int e;

	for (unsigned i = 0; i < efuse_block_words(block); i++)
		if ((e = rd(f, l, efuse_block_rd_offset(block) + 4 * i, &w[i], err)))
			return e;
	return 0;
}

static unsigned purpose_of(const uint32_t blk0[6], unsigned k)
{
	return k < 2 ? (blk0[2] >> (24 + 4 * k)) & 15u : (blk0[3] >> (4 * (k - 2))) & 15u;
}

static int read_summary(struct flashop *f, const struct efuse_layout *l, struct efuse_summary *s,
			struct efuse_err *err)
{
	uint32_t err0, err1, kw[8];
	int e;

	memset(s, 0, sizeof(*s));
	s->layout = l;
	if ((e = read_block(f, l, 0, s->blk0, err)) || (e = rd(f, l, EFUSE_RD_RS_ERR0, &err0, err)) ||
	    (e = rd(f, l, EFUSE_RD_RS_ERR1, &err1, err)))
		return e;
	s->wr_dis = s->blk0[0];
	s->rd_dis = s->blk0[1] & 0x7Fu;
	s->rd_dis_write_protected = (s->wr_dis >> EFUSE_WR_DIS_RD_DIS) & 1u;
	for (unsigned k = 0; k < EFUSE_KEY_BLOCKS; k++) {
		struct efuse_key_state *ks = &s->key[k];
		unsigned b = EFUSE_KEY_FIRST_BLOCK + k;
		uint32_t any = 0;

		ks->purpose = purpose_of(s->blk0, k);
		ks->read_protected = (s->rd_dis >> k) & 1u;
		ks->write_protected = (s->wr_dis >> EFUSE_WR_DIS_BLOCK(b)) & 1u;
		ks->purpose_write_protected = (s->wr_dis >> EFUSE_WR_DIS_PURPOSE(k)) & 1u;
		efuse_rs_status(l, b, err0, err1, &ks->rs_errors, &ks->rs_fail);
		if ((e = read_block(f, l, b, kw, err)))
			goto out;
		for (unsigned i = 0; i < 8; i++)
			any |= kw[i];
		ks->empty = !ks->read_protected && !any;
	}
out:
	OPENSSL_cleanse(kw, sizeof(kw));
	return e;
}

const char *efuse_error_name(int e)
{
	switch (e) {
	case EFUSE_ENOHMAC: return "EFUSE_ENOHMAC";
	case EFUSE_ENOTFREE: return "EFUSE_ENOTFREE";
	case EFUSE_EPURPOSE: return "EFUSE_EPURPOSE";
	case EFUSE_ESTATE: return "EFUSE_ESTATE";
	case EFUSE_EVERIFY: return "EFUSE_EVERIFY";
	case EFUSE_EKEYPRESENT: return "EFUSE_EKEYPRESENT";
	case EFUSE_EBUSY: return "EFUSE_EBUSY";
	}
	return rom_error_name(e);
}

int efuse_read_summary(struct flashop *f, struct efuse_summary *s, struct efuse_err *err)
{
	const struct efuse_layout *l;
	int e;

	if ((e = layout_of(f, &l, err)))
		return e;
	return read_summary(f, l, s, err);
}

/* The order of checks follows espefuse burn_key and check_wr_rd_protect;
 * the state names are what a station needs to decide what to do next. */
static int check_free(const struct flashop *f, const struct efuse_summary *s, unsigned k, enum efuse_purpose purpose,
		      unsigned protect, struct efuse_err *err)
{
	const struct efuse_key_state *ks = &s->key[k];
	const char *chip = flashop_info(f)->chip->name;

	if (ks->purpose == (unsigned)purpose && (ks->read_protected || !ks->empty))
		return fail(err, EFUSE_EKEYPRESENT, "%s BLOCK_KEY%u already carries a%s %s key: not burnt again", chip,
			    k, ks->read_protected ? " read-protected" : "", efuse_purpose_name(purpose));
	if (ks->purpose != EFUSE_PURPOSE_USER && ks->purpose != (unsigned)purpose)
		return fail(err, EFUSE_EPURPOSE, "%s BLOCK_KEY%u has purpose %s, not %s: nothing burnt", chip, k,
			    efuse_purpose_name(ks->purpose), efuse_purpose_name(purpose));
	if (ks->rs_fail || ks->rs_errors)
		return fail(err, EFUSE_ESTATE, "%s BLOCK_KEY%u reports %u RS error(s)%s: nothing burnt", chip, k,
			    ks->rs_errors, ks->rs_fail ? " and a coding failure" : "");
	if (ks->read_protected)
		return fail(err, EFUSE_ENOTFREE, "%s BLOCK_KEY%u is read-protected with purpose %s: not a free block",
			    chip, k, efuse_purpose_name(ks->purpose));
	if (ks->write_protected)
		return fail(err, EFUSE_ENOTFREE, "%s BLOCK_KEY%u is write-protected: not a free block", chip, k);
	if (!ks->empty)
		return fail(err, EFUSE_ENOTFREE, "%s BLOCK_KEY%u already holds data (purpose %s): not a free block",
			    chip, k, efuse_purpose_name(ks->purpose));
	if (ks->purpose == (unsigned)purpose)
		/* espfab burns the purpose with (after) the key: an empty
		 * block with the purpose set is not something it leaves */
		return fail(err, EFUSE_ESTATE, "%s BLOCK_KEY%u is empty but its purpose is already %s: nothing burnt",
			    chip, k, efuse_purpose_name(purpose));
	if (ks->purpose_write_protected)
		return fail(err, EFUSE_ESTATE, "%s KEY_PURPOSE_%u is write-protected while USER: nothing burnt", chip, k);
	if ((protect & EFUSE_PROTECT_READ) && s->rd_dis_write_protected)
		return fail(err, EFUSE_ESTATE, "%s RD_DIS is write-protected: BLOCK_KEY%u cannot be read-protected", chip,
			    k);
	return 0;
}

/* BLOCK0 in one go: KEY_PURPOSE_n, its write protection, the block's
 * protection; then re-read and check all of them. */
static int burn_block0(struct flashop *f, const struct efuse_layout *l, unsigned key_index,
		       enum efuse_purpose purpose, unsigned protect, struct efuse_err *err)
{
	struct efuse_summary s;
	uint32_t blk0[6] = {0};
	unsigned b = EFUSE_KEY_FIRST_BLOCK + key_index;
	int e;

	blk0[0] = 1u << EFUSE_WR_DIS_PURPOSE(key_index);
	if (protect & EFUSE_PROTECT_WRITE)
		blk0[0] |= 1u << EFUSE_WR_DIS_BLOCK(b);
	if (protect & EFUSE_PROTECT_READ)
		blk0[1] = 1u << key_index;
	if (key_index < 2)
		blk0[2] = (uint32_t)purpose << (24 + 4 * key_index);
	else
		blk0[3] = (uint32_t)purpose << (4 * (key_index - 2));
	if ((e = program_block(f, l, 0, blk0, 6, err)) || (e = read_summary(f, l, &s, err)))
		return e;
	const struct efuse_key_state *ks = &s.key[key_index];
	if (ks->purpose != (unsigned)purpose || !ks->purpose_write_protected ||
	    ks->read_protected != !!(protect & EFUSE_PROTECT_READ) ||
	    ks->write_protected != !!(protect & EFUSE_PROTECT_WRITE))
		return fail(err, EFUSE_EVERIFY,
			    "%s BLOCK_KEY%u after burning BLOCK0: purpose %s, read-protect %d, write-protect %d, "
			    "purpose write-protect %d: not what was programmed",
			    flashop_info(f)->chip->name, key_index, efuse_purpose_name(ks->purpose), ks->read_protected,
			    ks->write_protected, ks->purpose_write_protected);
	return 0;
}

static int valid_args(unsigned key_index, enum efuse_purpose purpose, unsigned protect, struct efuse_err *err)
{
	if (key_index >= EFUSE_KEY_BLOCKS || purpose == EFUSE_PURPOSE_USER || (unsigned)purpose > 15 ||
	    (protect & ~(EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE)))
		return fail(err, ROM_EINVAL, "eFuse burn: BLOCK_KEY%u / purpose %u / protection 0x%x is not valid",
			    key_index, (unsigned)purpose, protect);
	return 0;
}

int efuse_burn_key(struct flashop *f, unsigned key_index, enum efuse_purpose purpose,
		   const uint8_t key[EFUSE_KEY_LEN], unsigned protect, struct efuse_err *err)
{
	const struct efuse_layout *l;
	struct efuse_summary s;
	uint8_t check[EFUSE_RS_LEN];
	uint32_t words[11], back[8];
	unsigned b = EFUSE_KEY_FIRST_BLOCK + key_index;
	int e;

	if ((e = valid_args(key_index, purpose, protect, err)) || (e = layout_of(f, &l, err)) ||
	    (e = read_summary(f, l, &s, err)) ||
	    (e = check_free(f, &s, key_index, purpose, protect, err)))
		return e;

	/* 1. the key block: data in register order (HMAC keys are not
	 * reversed, only XTS-AES ones are) and its RS check bytes */
	efuse_rs_encode(key, check);
	for (unsigned i = 0; i < 8; i++)
		words[i] = le_get32(key + 4 * i);
	for (unsigned i = 0; i < 3; i++)
		words[8 + i] = le_get32(check + 4 * i);
	if ((e = program_block(f, l, b, words, 11, err)))
		goto out;
	if ((e = read_summary(f, l, &s, err)))
		goto out;
	if (s.key[key_index].rs_fail || s.key[key_index].rs_errors) {
		e = fail(err, EFUSE_EVERIFY, "%s BLOCK_KEY%u reports RS errors after programming: purpose not burnt",
			 flashop_info(f)->chip->name, key_index);
		goto out;
	}
	if ((e = read_block(f, l, b, back, err)))
		goto out;
	if (memcmp(back, words, sizeof(back))) {
		e = fail(err, EFUSE_EVERIFY, "%s BLOCK_KEY%u reads back differently after programming: purpose not burnt",
			 flashop_info(f)->chip->name, key_index);
		goto out;
	}

	/* 2. BLOCK0 */
	if ((e = burn_block0(f, l, key_index, purpose, protect, err)))
		goto out;
	e = 0;
out:
	OPENSSL_cleanse(words, sizeof(words));
	OPENSSL_cleanse(back, sizeof(back));
	OPENSSL_cleanse(check, sizeof(check));
	return e;
}

/* The half burn a crash between the two program commands of
 * efuse_burn_key leaves: key block burnt (readable, data, RS good), BLOCK0
 * not (purpose USER and writable, no protection). Only the key the caller
 * holds (the station's sealed copy) may be finished: the block's data must
 * be exactly it. */
int efuse_finish_key(struct flashop *f, unsigned key_index, enum efuse_purpose purpose,
		     const uint8_t key[EFUSE_KEY_LEN], unsigned protect, struct efuse_err *err)
{
	const struct efuse_layout *l;
	struct efuse_summary s;
	uint32_t words[8], back[8];
	const char *chip;
	int e;

	if ((e = valid_args(key_index, purpose, protect, err)) || (e = layout_of(f, &l, err)) ||
	    (e = read_summary(f, l, &s, err)))
		return e;
	chip = flashop_info(f)->chip->name;
	const struct efuse_key_state *ks = &s.key[key_index];
	if (ks->purpose != EFUSE_PURPOSE_USER || ks->read_protected || ks->write_protected ||
	    ks->purpose_write_protected || ks->empty || ks->rs_errors || ks->rs_fail)
		return fail(err, EFUSE_ESTATE,
			    "%s BLOCK_KEY%u is not a half-burnt key block (purpose %s, %s, read-protect %d, "
			    "write-protect %d, purpose write-protect %d, RS errors %u%s): BLOCK0 not burnt",
			    chip, key_index, efuse_purpose_name(ks->purpose), ks->empty ? "empty" : "data",
			    ks->read_protected, ks->write_protected, ks->purpose_write_protected, ks->rs_errors,
			    ks->rs_fail ? ", coding failure" : "");
	if ((protect & EFUSE_PROTECT_READ) && s.rd_dis_write_protected)
		return fail(err, EFUSE_ESTATE, "%s RD_DIS is write-protected: BLOCK_KEY%u cannot be read-protected", chip,
			    key_index);
	for (unsigned i = 0; i < 8; i++)
		words[i] = le_get32(key + 4 * i);
	if ((e = read_block(f, l, EFUSE_KEY_FIRST_BLOCK + key_index, back, err)))
		goto out;
	if (memcmp(back, words, sizeof(back))) {
		e = fail(err, EFUSE_ESTATE, "%s BLOCK_KEY%u holds another key than the one given: BLOCK0 not burnt", chip,
			 key_index);
		goto out;
	}
	e = burn_block0(f, l, key_index, purpose, protect, err);
out:
	OPENSSL_cleanse(words, sizeof(words));
	OPENSSL_cleanse(back, sizeof(back));
	return e;
}
