/* The ROM loader's commands: one request frame in, the reply (or the
 * ROM's silence) out. */
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "simdev_int.h"

void sd_flash_session_end(struct simdev *d)
{
	if (d->zs_live) {
		inflateEnd(&d->zs);
		d->zs_live = 0;
	}
	d->fmode = FMODE_NONE;
}

/* Erase the sectors covering [off, off+size): the ROM erases whole sectors,
 * so bytes before an unaligned offset in the first sector are lost too. */
static uint64_t flash_erase(struct simdev *d, uint32_t off, uint32_t size)
{
	uint64_t start = off / SECTOR * (uint64_t)SECTOR;
	uint64_t end = ((uint64_t)off + size + SECTOR - 1) / SECTOR * SECTOR;
	uint64_t n;

	if (end > d->flash_size)
		end = d->flash_size;
	if (end <= start)
		return 0;
	memset(d->flash + start, 0xFF, (size_t)(end - start));
	n = (end - start) / SECTOR;
	d->stats.sectors_erased += n;
	return d->cfg.timing ? n * d->cfg.erase_ms * 1000000ull : 0;
}

/* NOR programming: a write can only clear bits. Each 256-byte page touched
 * costs one page-program time; a page shared with the previous write of the
 * same session (an unaligned block boundary, an inflate chunk) is counted once. */
static uint64_t flash_program(struct simdev *d, uint32_t off, const uint8_t *buf, size_t len)
{
	uint64_t first, last, n;

	for (size_t i = 0; i < len; i++)
		d->flash[off + i] &= buf[i];
	if (!len)
		return 0;
	first = off / PAGE;
	last = ((uint64_t)off + len - 1) / PAGE;
	if (d->f_last_page == first + 1)
		first++;
	n = last >= first ? last - first + 1 : 0;
	d->f_last_page = last + 1;
	d->stats.pages_programmed += n;
	return d->cfg.timing ? n * d->cfg.program_us * 1000ull : 0;
}

static int in_flash(const struct simdev *d, uint64_t off, uint64_t len)
{
	uint64_t lim = d->param_size < d->flash_size ? d->param_size : d->flash_size;

	return off <= lim && len <= lim - off;
}

/* ---- commands ---------------------------------------------------------- */


struct req {
	uint8_t cmd;
	uint16_t len;
	uint32_t chk;
	const uint8_t *data;
};

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t c = 0xEF;

	for (size_t i = 0; i < n; i++)
		c ^= p[i];
	return c;
}

/* Returns the ROM error byte (0 = success); *cost gets the modelled time. */
static uint8_t cmd_flash_begin(struct simdev *d, const struct req *r, int deflate, uint64_t *cost)
{
	uint32_t size, blocks, bsize, off;

	if (r->len != d->chip->begin_words * 4)
		return SIMDEV_ROM_EINVALID;
	if (!d->attached)
		return SIMDEV_ROM_EFAILED;
	size = le_get32(r->data);
	blocks = le_get32(r->data + 4);
	bsize = le_get32(r->data + 8);
	off = le_get32(r->data + 12);
	if (d->chip->begin_words == 5 && le_get32(r->data + 16) != 0)
		return SIMDEV_ROM_EFAILED; /* encrypted writes: no flash encryption here */
	if (off % 4 || bsize == 0 || bsize > 0x4000 || !in_flash(d, off, size))
		return SIMDEV_ROM_EFAILED;
	sd_flash_session_end(d);
	*cost = flash_erase(d, off, size);
	d->f_offset = off;
	d->f_size = size;
	d->f_blocks = blocks;
	d->f_block_size = bsize;
	d->f_next_seq = 0;
	d->f_written = 0;
	d->f_last_page = 0;
	if (deflate) {
		memset(&d->zs, 0, sizeof(d->zs));
		if (inflateInit(&d->zs) != Z_OK)
			return SIMDEV_ROM_EDEFLATE;
		d->zs_live = 1;
		d->fmode = FMODE_DEFLATE;
	} else {
		d->fmode = FMODE_PLAIN;
	}
	return 0;
}

/* Common header checks of FLASH_DATA / FLASH_DEFL_DATA / MEM_DATA. A block
 * retried after a lost reply reuses its sequence number: accept seq-1 again
 * (1 = replay, nothing to do). */
static int data_header(struct simdev *d, const struct req *r, uint32_t *size, uint32_t *seq, uint8_t *err)
{
	if (r->len < 16) {
		*err = SIMDEV_ROM_EINVALID;
		return -1;
	}
	*size = le_get32(r->data);
	*seq = le_get32(r->data + 4);
	if (*size != (uint32_t)r->len - 16) {
		*err = SIMDEV_ROM_EINVALID;
		return -1;
	}
	if (checksum(r->data + 16, *size) != (uint8_t)r->chk) {
		*err = SIMDEV_ROM_ECRC;
		return -1;
	}
	(void)d;
	return 0;
}

static uint8_t cmd_flash_data(struct simdev *d, const struct req *r, uint64_t *cost)
{
	uint32_t size, seq;
	uint8_t err = 0;
	uint64_t off;

	if (data_header(d, r, &size, &seq, &err))
		return err;
	if (d->fmode != FMODE_PLAIN)
		return SIMDEV_ROM_EFAILED;
	if (size != d->f_block_size)
		return SIMDEV_ROM_EINVALID; /* the ROM wants every block padded */
	if (seq + 1 == d->f_next_seq)
		return 0;
	if (seq != d->f_next_seq)
		return SIMDEV_ROM_EINVALID;
	off = d->f_offset + (uint64_t)seq * d->f_block_size;
	if (!in_flash(d, off, size))
		return SIMDEV_ROM_EFLASHWR;
	*cost = flash_program(d, (uint32_t)off, r->data + 16, size);
	d->f_next_seq++;
	return 0;
}

static uint8_t cmd_defl_data(struct simdev *d, const struct req *r, uint64_t *cost)
{
	uint32_t size, seq;
	uint8_t err = 0;
	uint8_t out[4096];
	int zr = Z_OK;

	if (data_header(d, r, &size, &seq, &err))
		return err;
	if (d->fmode != FMODE_DEFLATE)
		return SIMDEV_ROM_EFAILED;
	if (size > d->f_block_size)
		return SIMDEV_ROM_EINVALID;
	if (seq + 1 == d->f_next_seq)
		return 0;
	if (seq != d->f_next_seq)
		return SIMDEV_ROM_EINVALID;
	if (!d->zs_live) /* stream already ended: trailing blocks are ignored */
		goto done;
	d->zs.next_in = (Bytef *)(uintptr_t)(r->data + 16);
	d->zs.avail_in = size;
	while (d->zs.avail_in > 0 || zr == Z_OK) {
		size_t got;

		d->zs.next_out = out;
		d->zs.avail_out = sizeof(out);
		zr = inflate(&d->zs, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return SIMDEV_ROM_EDEFLATE;
		got = sizeof(out) - d->zs.avail_out;
		if (got) {
			uint64_t off = (uint64_t)d->f_offset + d->f_written;

			/* the ROM only writes inside the region FLASH_DEFL_BEGIN erased */
			if ((uint64_t)d->f_written + got > d->f_size || !in_flash(d, off, got))
				return SIMDEV_ROM_EDEFLATE;
			*cost += flash_program(d, (uint32_t)off, out, got);
			d->f_written += (uint32_t)got;
		}
		if (zr == Z_STREAM_END) {
			inflateEnd(&d->zs);
			d->zs_live = 0;
			break;
		}
		if (zr == Z_BUF_ERROR || (got == 0 && d->zs.avail_in == 0))
			break;
	}
done:
	d->f_next_seq++;
	return 0;
}

static uint8_t cmd_md5(struct simdev *d, const struct req *r, uint8_t hex[32])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	uint32_t addr, size;

	if (r->len != 16)
		return SIMDEV_ROM_EINVALID;
	if (!d->attached)
		return SIMDEV_ROM_EFAILED;
	addr = le_get32(r->data);
	size = le_get32(r->data + 4);
	if (!in_flash(d, addr, size))
		return SIMDEV_ROM_EFLASHRD;
	if (!EVP_Digest(d->flash + addr, size, md, &mdlen, EVP_md5(), NULL) || mdlen != 16)
		return SIMDEV_ROM_EFAILED;
	/* the ROM answers 32 lowercase ASCII hex digits (the stub: 16 raw bytes) */
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = (uint8_t)digits[md[i] >> 4];
		hex[2 * i + 1] = (uint8_t)digits[md[i] & 15];
	}
	return 0;
}


static void leave_loader(struct simdev *d)
{
	sd_flash_session_end(d);
	d->state = SIMDEV_STATE_APP;
	d->stats.boots_app++;
}

/* Over USB-Serial/JTAG the ROM feeds neither the RTC watchdog nor the super
 * watchdog: both must be disabled (RWDT off, SWD auto-feed on) or the chip
 * resets in the middle of a long write. */
static int usb_wdt_live(const struct simdev *d)
{
	return (simdev_reg_read(d, d->chip->wdt_config0) & RTC_WDT_EN) ||
	       !(simdev_reg_read(d, d->chip->swd_conf) & d->chip->swd_auto_feed);
}

static uint8_t write_regs(struct simdev *d, const struct req *r, uint64_t *cost)
{
	if (r->len == 0 || r->len % 16)
		return SIMDEV_ROM_EINVALID;
	for (size_t i = 0; i < r->len; i += 16) {
		uint32_t addr = le_get32(r->data + i);
		uint32_t val = le_get32(r->data + i + 4);
		uint32_t mask = le_get32(r->data + i + 8);
		uint32_t delay = le_get32(r->data + i + 12);
		uint32_t old = simdev_reg_read(d, addr);

		if (addr == 0x40001000u || addr == d->chip->uart_clkdiv)
			continue; /* read-only for us */
		if (sdefuse_owns(&d->efuse, addr)) {
			if (sdefuse_write(&d->efuse, addr, (old & ~mask) | (val & mask)))
				return SIMDEV_ROM_EFAILED; /* the eFuse file could not be written */
			continue;
		}
		if (d->chip->wdt_config0 &&
		    (((addr == d->chip->wdt_config0) && simdev_reg_read(d, d->chip->wdt_wprotect) != RTC_WDT_WKEY) ||
		     ((addr == d->chip->swd_conf) && simdev_reg_read(d, d->chip->swd_wprotect) != d->chip->swd_wkey)))
			continue; /* write-protected: the key register must hold the key */
		sd_reg_set(d, addr, (old & ~mask) | (val & mask));
		if (d->wdt_armed && !usb_wdt_live(d))
			d->wdt_armed = 0;
		if (addr == d->chip->spi_base && (val & mask & (1u << 18)))
			sd_spi_user_command(d);
		if (d->cfg.timing)
			*cost += (uint64_t)delay * 1000;
	}
	return 0;
}

/* Secure download mode lets through only what writes flash blindly
 * (ESP-IDF security guide, "UART ROM download mode"): SYNC, baud change,
 * SPI attach/params, FLASH_* and FLASH_DEFL_*, GET_SECURITY_INFO. Reads of
 * registers, memory and flash, and RAM loading, are refused. */
static int sdm_refuses(uint8_t cmd)
{
	switch (cmd) {
	case SIMDEV_CMD_READ_REG:
	case SIMDEV_CMD_WRITE_REG:
	case SIMDEV_CMD_SPI_FLASH_MD5:
	case SIMDEV_CMD_READ_FLASH_SLOW:
	case SIMDEV_CMD_MEM_BEGIN:
	case SIMDEV_CMD_MEM_DATA:
	case SIMDEV_CMD_MEM_END:
		return 1;
	}
	return 0;
}

/* A command the ROM does not know (or refuses in secure download mode) is
 * answered with status 01 05 under the ROM's last response header: the
 * command byte and value field of the last reply it sent, not the
 * request's (esptool loader.py command(): op_ret != op with data[0] != 0
 * and data[1] == 0x05 raises UnsupportedCommandError). esptool notes that
 * an unsupported read_reg can bring more than one error reply: send two.
 * The ESP32 then needs a fresh SYNC (cmds.py detect_chip reconnects). */
static void unknown_command(struct simdev *d, uint64_t t, const struct req *r)
{
	uint8_t op = d->last_op ? d->last_op : r->cmd;
	uint32_t val = d->last_val;

	d->stats.unknown++;
	d->busy_until = t;
	for (int i = 0; i < 2; i++)
		sd_respond(d, t, op, val, NULL, 0, 1, SIMDEV_ROM_EINVALID);
	if (d->chip->resync_after_unknown)
		d->need_sync = 1;
}

/* What a command answers: one reply (SYNC: several copies) after cost ns. */
struct reply {
	uint32_t val;
	uint8_t err;
	uint8_t buf[64];
	size_t dlen;
	unsigned copies;
	uint64_t cost;
};

static void cmd_sync(struct simdev *d, const struct req *r, struct reply *rp)
{
	static const uint8_t sync_hdr[4] = { 0x07, 0x07, 0x12, 0x20 };
	int ok = r->len == 36 && !memcmp(r->data, sync_hdr, 4);

	for (unsigned i = 4; ok && i < 36; i++)
		ok = r->data[i] == 0x55;
	if (!ok) {
		rp->err = SIMDEV_ROM_EINVALID;
		return;
	}
	rp->val = SIMDEV_SYNC_VALUE;
	rp->copies = SIMDEV_SYNC_REPLIES;
	d->need_sync = 0;
}

static uint8_t cmd_set_params(struct simdev *d, const struct req *r)
{
	uint32_t total;

	if (r->len != 24)
		return SIMDEV_ROM_EINVALID;
	total = le_get32(r->data + 4);
	if (total == 0 || total > 128u * 1024 * 1024)
		return SIMDEV_ROM_EINVALID;
	d->param_size = total;
	return 0;
}

static void cmd_read_slow(struct simdev *d, const struct req *r, struct reply *rp)
{
	uint32_t addr, len;

	if (r->len != 8) {
		rp->err = SIMDEV_ROM_EINVALID;
		return;
	}
	addr = le_get32(r->data);
	len = le_get32(r->data + 4);
	if (len > 64) {
		rp->err = SIMDEV_ROM_EREADLEN;
		return;
	}
	if (!d->attached || !in_flash(d, addr, len)) {
		rp->err = SIMDEV_ROM_EFLASHRD;
		return;
	}
	/* always a 64-byte buffer, whatever was asked (esptool relies on >= len) */
	memset(rp->buf, 0xFF, sizeof(rp->buf));
	memcpy(rp->buf, d->flash + addr, len);
	rp->dlen = 64;
}

/* Returns 1 when it answered itself (at the old rate, before switching). */
static int cmd_change_baud(struct simdev *d, uint64_t t, const struct req *r, struct reply *rp)
{
	uint32_t nb;

	if (r->len != 8) {
		rp->err = SIMDEV_ROM_EINVALID;
		return 0;
	}
	nb = le_get32(r->data);
	if (nb < 300 || nb > 5000000) {
		rp->err = SIMDEV_ROM_EINVALID;
		return 0;
	}
	/* reply at the old rate, then switch */
	d->busy_until = t;
	sd_respond(d, t, r->cmd, 0, NULL, 0, 0, 0);
	d->tx_free = max64(d->tx_free, t);
	sd_set_rom_baud(d, nb, 1);
	return 1;
}

/* Returns 1 when it answered itself (a ROM without the command). */
static int cmd_security_info(struct simdev *d, uint64_t t, const struct req *r, struct reply *rp)
{
	if (!d->chip->sec_info_len) {
		/* the ESP32 ROM predates the command */
		unknown_command(d, t, r);
		return 1;
	}
	if (r->len != 0) {
		rp->err = SIMDEV_ROM_EINVALID;
		return 0;
	}
	/* flags u32, flash_crypt_cnt u8, 7 key purposes, then (S3 and
	 * later) chip id u32 and API version u32; the S2 stops at 12 */
	memset(rp->buf, 0, 20);
	le_put32(rp->buf, d->cfg.security_flags);
	rp->buf[4] = d->cfg.flash_crypt_cnt;
	le_put32(rp->buf + 12, d->chip->sec_info_id);
	rp->dlen = d->chip->sec_info_len;
	return 0;
}

/* FLASH_END / FLASH_DEFL_END. Returns 1 when it answered itself. */
static int cmd_flash_end(struct simdev *d, uint64_t t, const struct req *r, struct reply *rp)
{
	if (r->len != 4) {
		rp->err = SIMDEV_ROM_EINVALID;
		return 0;
	}
	/* the ROM answers, then leaves the loader (runs user code or reboots) */
	d->busy_until = t;
	sd_respond(d, t, r->cmd, 0, NULL, 0, 0, 0);
	if (d->cfg.end_leaves_loader)
		leave_loader(d);
	else
		sd_flash_session_end(d);
	return 1;
}

/* One admitted request. Returns 1 when the command answered itself (or
 * was taken for unknown), else fills *rp for the caller to send. */
static int dispatch(struct simdev *d, uint64_t t, const struct req *r, struct reply *rp)
{
	uint32_t size, seq;

	switch (r->cmd) {
	case SIMDEV_CMD_SYNC:
		cmd_sync(d, r, rp);
		return 0;
	case SIMDEV_CMD_READ_REG:
		if (r->len != 4)
			rp->err = SIMDEV_ROM_EINVALID;
		else
			rp->val = simdev_reg_read(d, le_get32(r->data));
		return 0;
	case SIMDEV_CMD_WRITE_REG:
		rp->err = write_regs(d, r, &rp->cost);
		return 0;
	case SIMDEV_CMD_SPI_ATTACH:
		/* ROM form: u32 pin config + u32 "is legacy" (the stub takes 4 bytes) */
		if (r->len != 8)
			rp->err = SIMDEV_ROM_EINVALID;
		else
			d->attached = 1;
		return 0;
	case SIMDEV_CMD_SPI_SET_PARAMS:
		rp->err = cmd_set_params(d, r);
		return 0;
	case SIMDEV_CMD_FLASH_BEGIN:
		rp->err = cmd_flash_begin(d, r, 0, &rp->cost);
		return 0;
	case SIMDEV_CMD_FLASH_DEFL_BEGIN:
		rp->err = cmd_flash_begin(d, r, 1, &rp->cost);
		return 0;
	case SIMDEV_CMD_FLASH_DATA:
		rp->err = cmd_flash_data(d, r, &rp->cost);
		return 0;
	case SIMDEV_CMD_FLASH_DEFL_DATA:
		rp->err = cmd_defl_data(d, r, &rp->cost);
		return 0;
	case SIMDEV_CMD_FLASH_END:
	case SIMDEV_CMD_FLASH_DEFL_END:
		return cmd_flash_end(d, t, r, rp);
	case SIMDEV_CMD_SPI_FLASH_MD5:
		rp->err = cmd_md5(d, r, rp->buf);
		if (!rp->err)
			rp->dlen = 32;
		return 0;
	case SIMDEV_CMD_READ_FLASH_SLOW:
		cmd_read_slow(d, r, rp);
		return 0;
	case SIMDEV_CMD_CHANGE_BAUDRATE:
		return cmd_change_baud(d, t, r, rp);
	case SIMDEV_CMD_GET_SECURITY_INFO:
		return cmd_security_info(d, t, r, rp);
	case SIMDEV_CMD_MEM_BEGIN:
		/* We cannot run uploaded code (no stub). Refuse at the first step:
		 * esptool's run_stub then fails at once with "Failed to enter RAM
		 * download mode"; refusing only MEM_END would leave it waiting
		 * forever for the stub's "OHAI". */
		rp->err = r->len != 16 ? SIMDEV_ROM_EINVALID : SIMDEV_ROM_EFAILED;
		return 0;
	case SIMDEV_CMD_MEM_DATA:
		if (!data_header(d, r, &size, &seq, &rp->err))
			rp->err = SIMDEV_ROM_EFAILED;
		return 0;
	case SIMDEV_CMD_MEM_END:
		rp->err = r->len != 8 ? SIMDEV_ROM_EINVALID : SIMDEV_ROM_EFAILED;
		return 0;
	default:
		/* 0xD0..0xD4 (the stub's erase/read commands) and anything else */
		unknown_command(d, t, r);
		return 1;
	}
}

/* The frame as the ROM sees it before any command runs: framing, the
 * drop/inject fault knobs, the length, ESP32's wait for SYNC and secure
 * download mode. Returns 1 when it is to be dispatched at *t. */
static int admit(struct simdev *d, uint64_t t_arrived, const uint8_t *f, size_t n, struct req *r, uint64_t *t)
{
	if (n < 8 || f[0] != 0x00) {
		d->stats.bad_frames++; /* our own echo or noise: the ROM ignores it */
		return 0;
	}
	r->cmd = f[1];
	r->len = (uint16_t)(f[2] | f[3] << 8);
	r->chk = le_get32(f + 4);
	r->data = f + 8;
	d->stats.requests++;
	d->stats.by_cmd[r->cmd]++;
	d->stats.last_cmd = r->cmd;
	if (d->cfg.drop_after >= 0 && d->stats.requests > (unsigned long long)d->cfg.drop_after) {
		d->stats.dropped++;
		return 0;
	}
	*t = max64(t_arrived, d->busy_until);
	for (int i = 0; i < MAX_INJECT; i++) {
		if (d->inj[i].count && d->inj[i].cmd == r->cmd) {
			d->inj[i].count--;
			if (!d->inj[i].error) {
				d->stats.dropped++;
				return 0;
			}
			sd_respond_err(d, *t, r->cmd, d->inj[i].error);
			return 0;
		}
	}
	if ((size_t)r->len != n - 8) {
		sd_respond_err(d, *t, r->cmd, SIMDEV_ROM_EINVALID);
		return 0;
	}
	if (d->need_sync && r->cmd != SIMDEV_CMD_SYNC) {
		/* ESP32 after an unknown command: silent until the next SYNC */
		d->stats.ignored_unsynced++;
		return 0;
	}
	if ((d->cfg.security_flags & SIMDEV_SEC_SECURE_DOWNLOAD) && sdm_refuses(r->cmd)) {
		/* secure download mode: the ROM treats these as unknown */
		unknown_command(d, *t, r);
		return 0;
	}
	return 1;
}

void sd_handle_request(struct simdev *d, uint64_t t_arrived, const uint8_t *f, size_t n)
{
	struct req r;
	struct reply rp = {.copies = 1};
	uint64_t t = 0;

	if (!admit(d, t_arrived, f, n, &r, &t) || dispatch(d, t, &r, &rp))
		return;
	d->busy_until = t + rp.cost;
	d->stats.busy_ns += rp.cost;
	for (unsigned i = 0; i < rp.copies; i++)
		sd_respond(d, d->busy_until, r.cmd, rp.val, rp.buf, rp.err ? 0 : rp.dlen, rp.err ? 1 : 0, rp.err);
}
