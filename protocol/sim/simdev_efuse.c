/* espfab-sim's eFuse controller: see simdev_efuse.h for the model. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "espfab/le.h"
#include "simdev_efuse.h"

void sdefuse_init(struct sdefuse *e, const struct efuse_layout *l)
{
	memset(e, 0, sizeof(*e));
	e->l = l;
	sdefuse_reset(e);
}

int sdefuse_save(struct sdefuse *e)
{
	uint8_t buf[SDEFUSE_FILE_LEN];
	char tmp[4096];
	size_t off = 15;
	int fd, ok;

	if (!e->path)
		return 0;
	memcpy(buf, SDEFUSE_MAGIC, 15);
	for (unsigned b = 0; b < EFUSE_BLOCKS; b++)
		for (unsigned w = 0; w < SDEFUSE_WORDS; w++, off += 4)
			le_put32(buf + off, e->fuse[b][w]);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", e->path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -1;
	ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) && fsync(fd) == 0;
	if (close(fd) || !ok || rename(tmp, e->path)) {
		int saved = errno ? errno : EIO;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int sdefuse_load(struct sdefuse *e, const char *path, char *msg, size_t msg_len)
{
	uint8_t buf[SDEFUSE_FILE_LEN + 1];
	ssize_t n;
	int fd;

	e->path = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !sdefuse_save(e))
			return 0;
		snprintf(msg, msg_len, "eFuse file %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != SDEFUSE_FILE_LEN || memcmp(buf, SDEFUSE_MAGIC, 15)) {
		snprintf(msg, msg_len, "eFuse file %s: not an espfab-sim eFuse file (%zd bytes, want %d)", path, n,
			 SDEFUSE_FILE_LEN);
		return -1;
	}
	for (unsigned b = 0, off = 15; b < EFUSE_BLOCKS; b++)
		for (unsigned w = 0; w < SDEFUSE_WORDS; w++, off += 4)
			e->fuse[b][w] = le_get32(buf + off);
	sdefuse_reset(e);
	return 0;
}

void sdefuse_set_mac(struct sdefuse *e, uint32_t lo, uint32_t hi)
{
	uint8_t data[EFUSE_KEY_LEN] = { 0 }, chk[EFUSE_RS_LEN];

	e->fuse[1][0] = lo;
	e->fuse[1][1] = hi;
	/* the factory burnt BLOCK1 with a valid code */
	for (unsigned w = 0; w < 8; w++)
		le_put32(data + 4 * w, e->fuse[1][w]);
	efuse_rs_encode(data, chk);
	for (unsigned w = 0; w < 3; w++)
		e->fuse[1][8 + w] = le_get32(chk + 4 * w);
	sdefuse_reset(e);
}

/* Where RD_RS_ERR0/1 report block b (1..10): inverse of efuse_rs_status. */
static void rs_report(struct sdefuse *e, unsigned b, unsigned nerr)
{
	unsigned i = b - 1, fi = e->l->c3_fail_shift ? b : i;

	if (i < 8)
		e->rs_err0 |= (nerr & 7u) << (4 * i);
	else
		e->rs_err1 |= (nerr & 7u) << (4 * (i - 8));
	if (fi < 8)
		e->rs_err0 |= 1u << (4 * fi + 3);
	else if (fi < 10)
		e->rs_err1 |= 1u << (4 * (fi - 8) + 3);
}

/* The READ command: load the read registers from the fuses. */
static void do_read(struct sdefuse *e)
{
	uint32_t rd_dis = e->fuse[0][1] & 0x7Fu;

	e->rs_err0 = e->rs_err1 = 0;
	for (unsigned b = 0; b < EFUSE_BLOCKS; b++) {
		int hidden = b >= EFUSE_KEY_FIRST_BLOCK && ((rd_dis >> (b - EFUSE_KEY_FIRST_BLOCK)) & 1u);
		for (unsigned w = 0; w < 8; w++)
			e->rd[b][w] = hidden || w >= efuse_block_words(b) ? 0 : e->fuse[b][w];
		if (b >= 1 && e->l) {
			uint8_t data[EFUSE_KEY_LEN], chk[EFUSE_RS_LEN];
			unsigned bad = 0;
			for (unsigned w = 0; w < 8; w++)
				le_put32(data + 4 * w, e->fuse[b][w]);
			efuse_rs_encode(data, chk);
			for (unsigned k = 0; k < EFUSE_RS_LEN; k++)
				bad += chk[k] != (uint8_t)(e->fuse[b][8 + k / 4] >> (8 * (k % 4)));
			if (bad)
				rs_report(e, b, bad);
			memset(data, 0, sizeof(data));
		}
	}
}

void sdefuse_reset(struct sdefuse *e)
{
	memset(e->pgm, 0, sizeof(e->pgm));
	e->conf = 0;
	do_read(e);
}

int sdefuse_owns(const struct sdefuse *e, uint32_t addr)
{
	return e->l && addr >= e->l->base && addr < e->l->base + 0x200u && !(addr & 3u);
}

uint32_t sdefuse_read(const struct sdefuse *e, uint32_t addr)
{
	uint32_t off = addr - e->l->base;

	if (off < EFUSE_BLK0_RD)
		return e->pgm[off / 4];
	for (unsigned b = 0; b < EFUSE_BLOCKS; b++) {
		uint32_t start = efuse_block_rd_offset(b);
		if (off >= start && off < start + 4 * efuse_block_words(b))
			return e->rd[b][(off - start) / 4];
	}
	if (off == EFUSE_RD_RS_ERR0)
		return e->rs_err0;
	if (off == EFUSE_RD_RS_ERR1)
		return e->rs_err1;
	if (off == EFUSE_CONF)
		return e->conf;
	if (off == EFUSE_DAC_CONF)
		return e->dac_conf;
	if (off == e->l->wr_tim_conf1)
		return e->tim1;
	if (off == e->l->wr_tim_conf2)
		return e->tim2;
	return 0; /* CMD (always idle), STATUS, the rest */
}

/* Bits of block b that WR_DIS keeps from changing. */
static void wr_mask(const struct sdefuse *e, unsigned b, uint32_t mask[SDEFUSE_WORDS])
{
	uint32_t wr_dis = e->fuse[0][0];

	memset(mask, 0, SDEFUSE_WORDS * sizeof(mask[0]));
	if (b >= 1) {
		if ((wr_dis >> EFUSE_WR_DIS_BLOCK(b)) & 1u)
			for (unsigned w = 0; w < SDEFUSE_WORDS; w++)
				mask[w] = 0xFFFFFFFFu;
		return;
	}
	if ((wr_dis >> EFUSE_WR_DIS_RD_DIS) & 1u)
		mask[1] |= 0x7Fu;
	for (unsigned k = 0; k < EFUSE_KEY_BLOCKS; k++) {
		if (!((wr_dis >> EFUSE_WR_DIS_PURPOSE(k)) & 1u))
			continue;
		if (k < 2)
			mask[2] |= 15u << (24 + 4 * k);
		else
			mask[3] |= 15u << (4 * (k - 2));
	}
}

static int do_program(struct sdefuse *e, unsigned b)
{
	uint32_t mask[SDEFUSE_WORDS];
	/* BLOCK0 is 6 words with no RS; BLOCK1 6 data words + RS */
	unsigned n = b == 0 ? 6 : SDEFUSE_WORDS;

	if (b >= EFUSE_BLOCKS)
		return 0;
	wr_mask(e, b, mask);
	for (unsigned w = 0; w < n; w++) {
		if (b == 1 && w >= 6 && w < 8)
			continue;
		e->fuse[b][w] |= e->pgm[w] & ~mask[w];
	}
	e->programs++;
	e->io_failed = sdefuse_save(e) != 0;
	return e->io_failed ? -1 : 0;
}

int sdefuse_write(struct sdefuse *e, uint32_t addr, uint32_t val)
{
	uint32_t off = addr - e->l->base;
	int rc = 0;

	if (off < EFUSE_BLK0_RD) {
		e->pgm[off / 4] = val;
	} else if (off == EFUSE_CONF) {
		e->conf = val & 0xFFFFu;
	} else if (off == EFUSE_CMD) {
		if ((val & EFUSE_CMD_PGM) && e->conf == EFUSE_WRITE_OP_CODE)
			rc = do_program(e, (val >> 2) & 15u);
		else if ((val & EFUSE_CMD_READ) && e->conf == EFUSE_READ_OP_CODE)
			do_read(e);
	} else if (off == EFUSE_DAC_CONF) {
		e->dac_conf = val;
	} else if (off == e->l->wr_tim_conf1) {
		e->tim1 = val;
	} else if (off == e->l->wr_tim_conf2) {
		e->tim2 = val;
	}
	/* read registers, RS error and status registers are read-only */
	return rc;
}
