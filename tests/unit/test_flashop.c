/* Operations against a small scripted ROM of our own (virtual flash and
 * time): exact control of lost replies, retries, corrupt data. The same
 * operations run against the simulator's device engine in test_flashop_sim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "espfab/flashop.h"
#include "espfab/le.h"
#include "test_rom_fakeport.h"

#define FLASH_SIZE (4u * 1024 * 1024)

struct minirom {
	enum chip_id chip;
	uint8_t *flash;
	uint32_t spi_w0;
	/* flash write state */
	int writing, deflate;
	uint32_t wr_off, wr_pos, expect_seq;
	z_stream zs;
	int zs_on;
	/* faults */
	unsigned drop_req;      /* drop the reply to this request number (1-based), once */
	unsigned silent_after;  /* stop answering after this many requests */
	unsigned corrupt_read;  /* flip a bit in the n-th READ_FLASH_SLOW reply data */
	unsigned reads;
	int corrupt_md5;        /* flip a digit in the next n MD5 replies */
	int no_sync;
	uint32_t cali, efuse4;  /* ESP32 clock calibration registers */
	uint32_t clkdiv;        /* UART_CLKDIV as the ROM set it */
	uint32_t sec_flags;     /* GET_SECURITY_INFO flags */
	uint32_t bridge_max;    /* the USB-UART bridge garbles everything above this */
	int bad_chip_id;        /* next n security-info replies name another chip */
	int bad_mac;            /* next n reads of the first MAC word are off by one bit */
	int garbled;
	unsigned lines_at_break;
	uint8_t crypt_cnt;
	/* the ROM's last response header: an unknown command is answered under
	 * it (01 05); the ESP32 then waits for a SYNC */
	uint8_t last_op;
	uint32_t last_val;
	int need_sync;
	/* log */
	uint8_t cmds[4096];
	unsigned ncmds;
	uint32_t seqs[256];
	unsigned nseqs;
	uint32_t baud_asked;
};

static void hexmd5(const uint8_t *d, size_t n, char out[33])
{
	uint8_t md[16];
	unsigned int l = 0;

	EVP_Digest(d, n, md, &l, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void program(struct minirom *m, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n && m->wr_pos < FLASH_SIZE; i++)
		m->flash[m->wr_pos++] &= d[i]; /* NOR: programming only clears bits */
}

static void mr_respond(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct minirom *m = fp->user;
	uint8_t cmd = req[1];
	const uint8_t *d = req + 8;
	uint32_t val = 0;
	uint8_t st = 0, err = 0;
	uint8_t data[64];
	size_t dlen = 0;
	unsigned n = fp->requests;

	(void)len;
	if (m->ncmds < sizeof(m->cmds))
		m->cmds[m->ncmds++] = cmd;
	if (m->silent_after && n > m->silent_after)
		return;
	if (m->garbled) {
		if (fp->nlines == m->lines_at_break)
			return; /* nothing understandable gets through */
		m->garbled = 0; /* a reset brought the ROM back to 115200 */
	}
	if (m->need_sync && cmd != ROM_CMD_SYNC)
		return;
	if ((m->sec_flags & ROM_SEC_SECURE_DOWNLOAD) &&
	    (cmd == ROM_CMD_READ_REG || cmd == ROM_CMD_WRITE_REG || cmd == ROM_CMD_SPI_FLASH_MD5 ||
	     cmd == ROM_CMD_READ_FLASH_SLOW)) {
		fp_reply(fp, m->last_op, m->last_val, NULL, 0, 1, 5);
		return;
	}
	switch (cmd) {
	case ROM_CMD_SYNC:
		m->need_sync = 0;
		m->last_op = cmd;
		m->last_val = 0x20120707;
		if (m->no_sync) {
			static const char log[] = "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n";
			fp_queue(fp, (const uint8_t *)log, sizeof(log) - 1);
			return;
		}
		for (int i = 0; i < 8; i++)
			fp_reply(fp, cmd, 0x20120707, NULL, 0, 0, 0);
		return;
	case ROM_CMD_GET_SECURITY_INFO:
		if (m->chip == CHIP_ESP32) {
			fp_reply(fp, m->last_op, m->last_val, NULL, 0, 1, 5);
			fp_reply(fp, m->last_op, m->last_val, NULL, 0, 1, 5);
			m->need_sync = 1;
			return;
		}
		memset(data, 0, 20);
		data[0] = (uint8_t)m->sec_flags;
		data[4] = m->crypt_cnt;
		data[12] = (uint8_t)chip_by_id(m->chip)->image_chip_id;
		if (m->bad_chip_id > 0) {
			m->bad_chip_id--;
			data[12] ^= 0x04; /* S3 (9) reads as C6 (13) */
		}
		dlen = m->chip == CHIP_ESP32S2 ? 12 : 20; /* the S2 ROM has no chip id field */
		break;
	case ROM_CMD_READ_REG: {
		uint32_t a = le_get32(d);
		const struct chip_desc *c = chip_by_id(m->chip);
		if (a == CHIP_MAGIC_REG)
			val = c->magic[0];
		else if (a == c->mac_reg) {
			val = 0x33445566;
			if (m->bad_mac > 0) {
				m->bad_mac--;
				val ^= 0x100;
			}
		}
		else if (a == c->mac_reg2)
			val = m->chip == CHIP_ESP32 ? 0xAB001122 : 0x00001122;
		else if (a == c->spi.base + c->spi.w0)
			val = m->spi_w0;
		else if (a == 0x3FF5F06Cu)
			val = m->cali;
		else if (a == 0x3FF5A010u)
			val = m->efuse4;
		else if (a == c->uart_clkdiv_reg)
			val = m->clkdiv;
		break;
	}
	case ROM_CMD_WRITE_REG: {
		const struct chip_desc *c = chip_by_id(m->chip);
		if (le_get32(d) == c->spi.base && le_get32(d + 4) == (1u << 18))
			m->spi_w0 = 0x1640EF; /* RDID: Winbond, 4 MiB */
		break;
	}
	case ROM_CMD_CHANGE_BAUDRATE:
		m->baud_asked = le_get32(d);
		if (m->bridge_max && m->baud_asked > m->bridge_max) {
			fp_reply(fp, cmd, 0, NULL, 0, 0, 0);
			m->garbled = 1;
			m->lines_at_break = fp->nlines;
			return;
		}
		break;
	case ROM_CMD_FLASH_BEGIN:
	case ROM_CMD_FLASH_DEFL_BEGIN: {
		uint32_t size = le_get32(d), off = le_get32(d + 12);
		if (off % 4096 || off + size > FLASH_SIZE) {
			st = 1;
			err = 6;
			break;
		}
		memset(m->flash + off, 0xFF, (size + 4095) / 4096 * 4096); /* the ROM erases here */
		m->writing = 1;
		m->deflate = cmd == ROM_CMD_FLASH_DEFL_BEGIN;
		m->wr_off = m->wr_pos = off;
		m->expect_seq = 0;
		if (m->zs_on)
			inflateEnd(&m->zs);
		m->zs_on = 0;
		if (m->deflate) {
			memset(&m->zs, 0, sizeof(m->zs));
			inflateInit(&m->zs);
			m->zs_on = 1;
		}
		break;
	}
	case ROM_CMD_FLASH_DATA:
	case ROM_CMD_FLASH_DEFL_DATA: {
		uint32_t dl = le_get32(d), seq = le_get32(d + 4);
		uint8_t chk = 0xEF;
		for (uint32_t i = 0; i < dl; i++)
			chk ^= d[16 + i];
		if (m->nseqs < 256)
			m->seqs[m->nseqs++] = seq;
		if (chk != req[4]) {
			st = 1;
			err = 7;
			break;
		}
		if (!m->writing || seq != m->expect_seq) {
			/* a retry of the block just written: acknowledge, ignore */
			if (seq + 1 == m->expect_seq)
				break;
			st = 1;
			err = 6;
			break;
		}
		m->expect_seq++;
		if (m->deflate) {
			uint8_t outb[4096];
			m->zs.next_in = (uint8_t *)(d + 16);
			m->zs.avail_in = dl;
			do {
				m->zs.next_out = outb;
				m->zs.avail_out = sizeof(outb);
				int zr = inflate(&m->zs, Z_NO_FLUSH);
				if (zr != Z_OK && zr != Z_STREAM_END) {
					st = 1;
					err = 0x0b;
					break;
				}
				program(m, outb, sizeof(outb) - m->zs.avail_out);
			} while (m->zs.avail_in || m->zs.avail_out == 0);
		} else {
			program(m, d + 16, dl);
		}
		break;
	}
	case ROM_CMD_SPI_FLASH_MD5: {
		char hx[33];
		uint32_t a = le_get32(d), sz = le_get32(d + 4);
		hexmd5(m->flash + a, sz, hx);
		if (m->corrupt_md5 > 0) {
			m->corrupt_md5--;
			hx[5] = hx[5] == '0' ? '1' : '0';
		}
		memcpy(data, hx, 32);
		dlen = 32;
		break;
	}
	case ROM_CMD_READ_FLASH_SLOW: {
		uint32_t a = le_get32(d);
		memcpy(data, m->flash + a, 64);
		dlen = 64;
		if (++m->reads == m->corrupt_read)
			data[3] ^= 0x10;
		break;
	}
	default:
		break;
	}
	if (m->drop_req == n) {
		m->drop_req = 0;
		return;
	}
	m->last_op = cmd;
	m->last_val = val;
	fp_reply(fp, cmd, val, data, dlen, st, err);
}

struct fx {
	struct minirom m;
	struct fakeport *fp;
	struct flashop *f;
	struct flashop_options o;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->m.chip = CHIP_ESP32S3;
	x->m.flash = malloc(FLASH_SIZE);
	memset(x->m.flash, 0xFF, FLASH_SIZE);
	x->fp = fp_new(mr_respond, &x->m);
	x->fp->latency_ms = 1;
	flashop_options_init(&x->o);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	if (x->f)
		flashop_close(x->f);
	else if (x->fp)
		port_close(&x->fp->base);
	if (x->m.zs_on)
		inflateEnd(&x->m.zs);
	free(x->m.flash);
	free(x);
	return 0;
}

static int open_fx(struct fx *x, struct rom_diag *d)
{
	int e = flashop_attach(&x->fp->base, &x->o, &x->f, d);

	if (e)
		x->fp = NULL; /* closed by flashop_attach */
	return e;
}

static int sent(const struct minirom *m, uint8_t cmd)
{
	int n = 0;

	for (unsigned i = 0; i < m->ncmds; i++)
		n += m->cmds[i] == cmd;
	return n;
}

static uint8_t *nvs_like(size_t len)
{
	uint8_t *p = malloc(len);

	memset(p, 0xFF, len);
	for (size_t i = 0; i < len; i += 4096)
		for (size_t k = 0; k < 300 && i + k < len; k++)
			p[i + k] = (uint8_t)(k * 31 + i / 4096);
	return p;
}

static void test_flashop_identifies_s3_by_security_info(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	const struct flashop_info *in;
	static const uint8_t mac[6] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

	x->o.before = RESET_MODE_CLASSIC;
	assert_int_equal(open_fx(x, &d), 0);
	in = flashop_info(x->f);
	assert_int_equal(in->chip->id, CHIP_ESP32S3);
	assert_true(in->mac_valid);
	assert_memory_equal(in->mac, mac, 6);
	assert_int_equal(in->flash_id, 0x1640EF);
	assert_int_equal(in->flash_size, FLASH_SIZE);
	assert_true(in->flash_size_detected);
	assert_int_equal(sent(&x->m, ROM_CMD_READ_REG) >= 2, 1);
	assert_int_equal(sent(&x->m, ROM_CMD_SPI_ATTACH), 1);
	assert_int_equal(sent(&x->m, ROM_CMD_SPI_SET_PARAMS), 1);
	/* classic reset ran before the first SYNC */
	assert_int_equal(x->fp->nlines, 5);
}

static void test_flashop_identifies_esp32_by_magic_and_corrects_baud(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	const struct flashop_info *in;
	static const uint8_t mac[6] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

	x->m.chip = CHIP_ESP32;
	/* ROM's crystal estimate 40.5 MHz: 15625 * cali * ck8m / 40 */
	x->m.cali = (uint32_t)(40500000.0 * 40 / 15625 / 100) << 7;
	x->m.efuse4 = 100;
	x->o.before = RESET_MODE_NONE;
	x->o.baud = 921600;
	assert_int_equal(open_fx(x, &d), 0);
	in = flashop_info(x->f);
	assert_int_equal(in->chip->id, CHIP_ESP32);
	assert_memory_equal(in->mac, mac, 6);
	assert_int_equal(x->fp->base.baud, 921600);
	/* the ROM is asked for baud * estimate / 40 MHz */
	assert_true(x->m.baud_asked > 921600 && x->m.baud_asked < 921600 * 1.02);
	assert_int_equal(x->fp->nlines, 0);
}

static void test_flashop_identifies_all_seven_chips(void **state)
{
	static const enum chip_id ids[] = {CHIP_ESP32, CHIP_ESP32S2, CHIP_ESP32S3, CHIP_ESP32C2,
					   CHIP_ESP32C3, CHIP_ESP32C6, CHIP_ESP32H2};
	(void)state;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct fx *x;
		struct rom_diag d;
		setup((void **)&x);
		x->m.chip = ids[i];
		x->o.before = RESET_MODE_NONE;
		assert_int_equal(open_fx(x, &d), 0);
		assert_int_equal(flashop_info(x->f)->chip->id, ids[i]);
		/* the magic register first; the security info only where the ROM has it */
		assert_int_equal(flashop_info(x->f)->have_security, ids[i] != CHIP_ESP32);
		if (ids[i] == CHIP_ESP32)
			assert_null(memchr(x->m.cmds, ROM_CMD_GET_SECURITY_INFO, x->m.ncmds));
		assert_int_equal(flashop_info(x->f)->mac[5], 0x66);
		teardown((void **)&x);
	}
}

static void test_flashop_secure_download_mode_needs_given_size(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.sec_flags = ROM_SEC_SECURE_BOOT | ROM_SEC_SECURE_DOWNLOAD;
	x->m.crypt_cnt = 0x07; /* three bits: encryption on */
	x->o.before = RESET_MODE_NONE;
	/* identified (chip, flags) without a size; flash operations ask for it */
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_info(x->f)->flash_size, 0);
	assert_int_equal(flashop_write(x->f, 0x9000, (const uint8_t *)"abcd", 4, FLASHOP_PLAINTEXT_OK, NULL, NULL),
			 ROM_ESECURE);
	assert_non_null(strstr(flashop_diag(x->f)->msg, "--flash-size"));
}

static void test_flashop_secure_download_mode_flags_and_no_mac(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	const struct flashop_info *in;
	uint8_t b[16] = {0};

	x->m.sec_flags = ROM_SEC_SECURE_BOOT | ROM_SEC_SECURE_DOWNLOAD | ROM_SEC_HARD_DIS_JTAG;
	x->m.crypt_cnt = 0x07;
	x->o.before = RESET_MODE_NONE;
	x->o.flash_size = 4u << 20;
	assert_int_equal(open_fx(x, &d), 0);
	in = flashop_info(x->f);
	assert_true(in->secure_boot && in->secure_download && in->flash_encrypted && in->jtag_disabled);
	assert_false(in->mac_valid);
	assert_int_equal(flashop_verify(x->f, 0, b, sizeof(b)), ROM_ESECURE);
}

static void test_flashop_bridge_failing_at_921600_falls_back_to_460800(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t *img = nvs_like(8192);

	x->m.chip = CHIP_ESP32C3;
	x->m.bridge_max = 460800;
	x->o.baud = 921600;
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_info(x->f)->baud, 460800);
	assert_int_equal(x->fp->base.baud, 460800);
	assert_int_equal(x->m.baud_asked, 460800);
	assert_true(flashop_stats(x->f)->retries >= 1);
	assert_int_equal(flashop_write(x->f, 0x9000, img, 8192, FLASHOP_VERIFY, NULL, NULL), 0);
	free(img);
}

static void test_flashop_bridge_failing_without_reset_names_the_rate(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.chip = CHIP_ESP32C3;
	x->m.bridge_max = 460800;
	x->o.baud = 921600;
	x->fp->no_lines = 1;
	assert_int_equal(open_fx(x, &d), ROM_ETIMEDOUT);
	assert_non_null(strstr(d.msg, "921600"));
	assert_non_null(strstr(d.msg, "lower --baud"));
}

static void test_flashop_corrupt_chip_id_and_mac_replies_are_caught(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	static const uint8_t mac[6] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

	x->m.bad_chip_id = 1;
	x->m.bad_mac = 1;
	x->o.before = RESET_MODE_NONE;
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_info(x->f)->chip->id, CHIP_ESP32S3);
	assert_int_equal(flashop_info(x->f)->security.chip_id, 9);
	assert_memory_equal(flashop_info(x->f)->mac, mac, 6);
}

static void test_flashop_lost_replies_during_identification_cost_a_retry(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->o.before = RESET_MODE_NONE;
	x->m.drop_req = 4; /* SYNC, SECURITY_INFO, console READ_REG, magic READ_REG: lost */
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_stats(x->f)->retries, 1);
	assert_int_equal(flashop_info(x->f)->mac[5], 0x66);
}

static void test_flashop_chip_id_contradicting_magic_is_echip(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.bad_chip_id = 2;
	x->o.before = RESET_MODE_NONE;
	assert_int_equal(open_fx(x, &d), ROM_ECHIP);
	assert_non_null(strstr(d.msg, "magic register"));
}

static void test_flashop_c2_26mhz_crystal_scales_baud(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.chip = CHIP_ESP32C2;
	x->m.clkdiv = 226; /* 115200 * 226 = 26.0 MHz */
	x->o.before = RESET_MODE_NONE;
	x->o.baud = 460800;
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(x->m.baud_asked, 460800 * 40 / 26);
	assert_int_equal(x->fp->base.baud, 460800);
}

static void test_flashop_c3_asks_for_the_rate_itself(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.chip = CHIP_ESP32C3;
	x->o.baud = 921600;
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(x->m.baud_asked, 921600);
}

static void test_flashop_write_compressed_no_flash_end_and_verify(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	size_t len = 24 * 1024;
	uint8_t *img = nvs_like(len);

	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_write(x->f, 0x9000, img, len, FLASHOP_VERIFY, NULL, NULL), 0);
	assert_memory_equal(x->m.flash + 0x9000, img, len);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_DEFL_BEGIN), 1);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_DATA), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_END), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_DEFL_END), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_SPI_FLASH_MD5), 1);
	/* a few hundred bytes on the wire, not 24 KiB */
	assert_true(flashop_stats(x->f)->tx_bytes < 8000);
	free(img);
}

static void test_flashop_write_plain_pads_blocks_and_front(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	size_t len = 1500;
	uint8_t *img = nvs_like(len);

	x->m.flash[0x9000] = 0x00; /* old content in the padded front */
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_write(x->f, 0x9100, img, len, FLASHOP_NO_COMPRESS | FLASHOP_VERIFY, NULL, NULL), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_BEGIN), 1);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_DATA), 2); /* 0x100 + 1500 bytes -> 2 blocks */
	assert_int_equal(x->m.flash[0x9000], 0xFF);           /* front padded with 0xFF */
	assert_memory_equal(x->m.flash + 0x9100, img, len);
	assert_int_equal(x->m.flash[0x9100 + len], 0xFF);
	free(img);
}

static void test_flashop_write_rejects_bad_regions(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t b[16] = {0};

	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_write(x->f, 0x9002, b, sizeof(b), 0, NULL, NULL), ROM_ERANGE);
	assert_non_null(strstr(flashop_diag(x->f)->msg, "0x9002"));
	assert_int_equal(flashop_write(x->f, FLASH_SIZE - 8, b, sizeof(b), 0, NULL, NULL), ROM_ERANGE);
	assert_int_equal(flashop_write(x->f, 0, b, 0, 0, NULL, NULL), ROM_EINVAL);
	assert_int_equal(flashop_erase(x->f, 0x9000, 100, NULL, NULL), ROM_ERANGE);
}

static void test_flashop_lost_reply_retries_same_sequence(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	size_t len = 4096;
	uint8_t *img = nvs_like(len);
	unsigned before;

	assert_int_equal(open_fx(x, &d), 0);
	before = x->fp->requests;
	/* requests: FLASH_BEGIN, DATA seq 0, DATA seq 1 (dropped) ... */
	x->m.drop_req = before + 3;
	assert_int_equal(flashop_write(x->f, 0x10000, img, len, FLASHOP_NO_COMPRESS | FLASHOP_VERIFY, NULL, NULL), 0);
	assert_int_equal(x->m.nseqs, 5);
	assert_int_equal(x->m.seqs[1], 1);
	assert_int_equal(x->m.seqs[2], 1); /* the retry reuses seq 1 */
	assert_int_equal(x->m.seqs[3], 2);
	assert_int_equal(flashop_stats(x->f)->retries, 1);
	assert_memory_equal(x->m.flash + 0x10000, img, len);
	free(img);
}

static void test_flashop_device_stops_answering_clear_error_within_deadline(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	size_t len = 24 * 1024;
	uint8_t *img = nvs_like(len);
	uint64_t t0;
	int e;

	assert_int_equal(open_fx(x, &d), 0);
	x->m.silent_after = x->fp->requests + 1; /* FLASH_DEFL_BEGIN answered, then silence */
	t0 = x->fp->now;
	e = flashop_write(x->f, 0x9000, img, len, FLASHOP_VERIFY, NULL, NULL);
	assert_int_equal(e, ROM_ETIMEDOUT);
	assert_int_equal(flashop_diag(x->f)->error, ROM_ETIMEDOUT);
	assert_int_equal(flashop_diag(x->f)->last_cmd, ROM_CMD_FLASH_DEFL_DATA);
	assert_non_null(strstr(flashop_diag(x->f)->msg, "FLASH_DEFL_DATA"));
	/* three attempts of 3 s each plus drains: bounded */
	assert_true(x->fp->now - t0 <= 3 * 3000 + 3 * 300 + 100);
	free(img);
}

static void test_flashop_verify_mismatch_is_everify(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t b[256];

	memset(b, 0x12, sizeof(b));
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_verify(x->f, 0x9000, b, sizeof(b)), ROM_EVERIFY);
	assert_non_null(strstr(flashop_diag(x->f)->msg, "MD5"));
	memset(x->m.flash + 0x9000, 0x12, sizeof(b));
	assert_int_equal(flashop_verify(x->f, 0x9000, b, sizeof(b)), 0);
}

static void test_flashop_one_corrupt_md5_reply_is_asked_again(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t b[256];

	memset(b, 0x34, sizeof(b));
	memset(x->m.flash + 0x9000, 0x34, sizeof(b));
	assert_int_equal(open_fx(x, &d), 0);
	x->m.corrupt_md5 = 1;
	assert_int_equal(flashop_verify(x->f, 0x9000, b, sizeof(b)), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_SPI_FLASH_MD5), 2);
	x->m.corrupt_md5 = 2; /* the same wrong answer twice is believed */
	assert_int_equal(flashop_verify(x->f, 0x9000, b, sizeof(b)), ROM_EVERIFY);
}

static void test_flashop_read_region_and_corrupt_reply_never_passes(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t buf[0xC00];

	for (int i = 0; i < 0xC00; i++)
		x->m.flash[0x8000 + i] = (uint8_t)(i ^ 0x5A);
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_read(x->f, 0x8000, buf, sizeof(buf), NULL, NULL), 0);
	assert_memory_equal(buf, x->m.flash + 0x8000, sizeof(buf));
	assert_int_equal(sent(&x->m, ROM_CMD_READ_FLASH_SLOW), 0xC00 / 64);
	x->m.reads = 0;
	x->m.corrupt_read = 7;
	assert_int_equal(flashop_read(x->f, 0x8000, buf, sizeof(buf), NULL, NULL), ROM_EVERIFY);
}

static void test_flashop_given_flash_size_skips_rdid(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->o.flash_size = 16u * 1024 * 1024;
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_info(x->f)->flash_size, 16u * 1024 * 1024);
	assert_false(flashop_info(x->f)->flash_size_detected);
	assert_int_equal(sent(&x->m, ROM_CMD_WRITE_REG), 0);
}

static void test_flashop_hard_reset_rts_or_flash_end_without_lines(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	unsigned n;

	assert_int_equal(open_fx(x, &d), 0);
	n = x->fp->nlines;
	assert_int_equal(flashop_hard_reset(x->f), 0);
	assert_int_equal(x->fp->nlines, n + 2);
	assert_int_equal(x->fp->lines[n].rts, 1);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_END), 0);
	x->fp->no_lines = 1;
	assert_int_equal(flashop_hard_reset(x->f), 0);
	assert_int_equal(sent(&x->m, ROM_CMD_FLASH_END), 1);
}

static void test_flashop_no_sync_reports_bootlog(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	x->m.no_sync = 1;
	x->o.before = RESET_MODE_NONE;
	assert_int_equal(open_fx(x, &d), ROM_ENOSYNC);
	assert_int_equal(d.error, ROM_ENOSYNC);
	assert_non_null(strstr(d.msg, "SPI_FAST_FLASH_BOOT"));
}

static void test_flashop_erase_region_reads_erased(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;

	memset(x->m.flash + 0x20000, 0x00, 0x2000);
	assert_int_equal(open_fx(x, &d), 0);
	assert_int_equal(flashop_erase(x->f, 0x20000, 0x2000, NULL, NULL), 0);
	for (int i = 0; i < 0x2000; i++)
		assert_int_equal(x->m.flash[0x20000 + i], 0xFF);
}

static void test_flashop_cancelled_returns_ecanceled(void **state)
{
	struct fx *x = *state;
	struct rom_diag d;
	uint8_t b[64];

	assert_int_equal(open_fx(x, &d), 0);
	flashop_cancel(x->f);
	assert_int_equal(flashop_read(x->f, 0, b, sizeof(b), NULL, NULL), ROM_ECANCELED);
	assert_int_equal(flashop_write(x->f, 0x9000, b, sizeof(b), 0, NULL, NULL), ROM_ECANCELED);
}

static void test_flashop_parse_size(void **state)
{
	(void)state;
	uint32_t v;

	assert_int_equal(flashop_parse_size("4MB", &v), 0);
	assert_int_equal(v, 4u << 20);
	assert_int_equal(flashop_parse_size("16M", &v), 0);
	assert_int_equal(v, 16u << 20);
	assert_int_equal(flashop_parse_size("0x6000", &v), 0);
	assert_int_equal(v, 0x6000);
	assert_int_equal(flashop_parse_size("24K", &v), 0);
	assert_int_equal(v, 24 * 1024);
	assert_int_equal(flashop_parse_size("4GB", &v), ROM_EINVAL);
	assert_int_equal(flashop_parse_size("-1", &v), ROM_EINVAL);
	assert_int_equal(flashop_parse_size("12Q", &v), ROM_EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_flashop_identifies_s3_by_security_info),
		T(test_flashop_identifies_esp32_by_magic_and_corrects_baud),
		cmocka_unit_test(test_flashop_identifies_all_seven_chips),
		T(test_flashop_secure_download_mode_needs_given_size),
		T(test_flashop_secure_download_mode_flags_and_no_mac),
		T(test_flashop_bridge_failing_at_921600_falls_back_to_460800),
		T(test_flashop_bridge_failing_without_reset_names_the_rate),
		T(test_flashop_corrupt_chip_id_and_mac_replies_are_caught),
		T(test_flashop_lost_replies_during_identification_cost_a_retry),
		T(test_flashop_chip_id_contradicting_magic_is_echip),
		T(test_flashop_c2_26mhz_crystal_scales_baud),
		T(test_flashop_c3_asks_for_the_rate_itself),
		T(test_flashop_write_compressed_no_flash_end_and_verify),
		T(test_flashop_write_plain_pads_blocks_and_front),
		T(test_flashop_write_rejects_bad_regions),
		T(test_flashop_lost_reply_retries_same_sequence),
		T(test_flashop_device_stops_answering_clear_error_within_deadline),
		T(test_flashop_verify_mismatch_is_everify),
		T(test_flashop_one_corrupt_md5_reply_is_asked_again),
		T(test_flashop_read_region_and_corrupt_reply_never_passes),
		T(test_flashop_given_flash_size_skips_rdid),
		T(test_flashop_hard_reset_rts_or_flash_end_without_lines),
		T(test_flashop_no_sync_reports_bootlog),
		T(test_flashop_erase_region_reads_erased),
		T(test_flashop_cancelled_returns_ecanceled),
		cmocka_unit_test(test_flashop_parse_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
