/* The device engine against exact request/response bytes. */
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

#include "espfab/le.h"
#include "espfab/simdev.h"
#include "espfab/slip.h"

#define MS 1000000ull
#define MAXF 64

struct frames {
	size_t n;
	size_t len[MAXF];
	uint8_t f[MAXF][128];
	char noise[SLIP_NOISE_MAX + 1];
	size_t noise_len;
};

static struct simdev *mk(enum simdev_chip chip, int timing)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	struct simdev_err err;

	simdev_config_default(&c);
	c.chip = chip;
	c.timing = timing;
	assert_int_equal(simdev_new(&c, &d, &err), 0);
	assert_non_null(d);
	return d;
}

static uint8_t csum(const uint8_t *p, size_t n)
{
	uint8_t c = 0xEF;

	for (size_t i = 0; i < n; i++)
		c ^= p[i];
	return c;
}

/* Send one request at time t. */
static void send_req(struct simdev *d, uint64_t t, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk)
{
	uint8_t *pkt = malloc(8 + len);
	uint8_t *enc = malloc(SLIP_ENCODED_MAX(8 + len));
	size_t n;

	assert_non_null(pkt);
	assert_non_null(enc);
	pkt[0] = 0;
	pkt[1] = cmd;
	pkt[2] = (uint8_t)len;
	pkt[3] = (uint8_t)(len >> 8);
	le_put32(pkt + 4, chk);
	if (len)
		memcpy(pkt + 8, data, len);
	n = slip_encode(pkt, 8 + len, enc);
	simdev_rx(d, t, enc, n);
	free(pkt);
	free(enc);
}

/* Everything the device sent by time t, split into frames and noise. */
static void collect(struct simdev *d, uint64_t t, struct frames *fr)
{
	uint8_t buf[4096], fb[256];
	struct slip_decoder dec;
	size_t n;

	memset(fr, 0, sizeof(*fr));
	slip_decoder_init(&dec, fb, sizeof(fb));
	while ((n = simdev_tx(d, t, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (slip_feed(&dec, buf[i]) == SLIP_FRAME && fr->n < MAXF && dec.len <= 128) {
				memcpy(fr->f[fr->n], dec.buf, dec.len);
				fr->len[fr->n++] = dec.len;
			}
		}
	}
	slip_noise_tail(&dec, fr->noise, sizeof(fr->noise));
	fr->noise_len = dec.noise_len;
}

/* One request, no timing: returns the frames. */
static void xfer(struct simdev *d, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk, struct frames *fr)
{
	send_req(d, 0, cmd, data, len, chk);
	collect(d, UINT64_MAX - 1, fr);
}

static void expect_status(const struct frames *fr, size_t i, uint8_t cmd, size_t dlen, uint8_t st, uint8_t er)
{
	assert_true(fr->n > i);
	assert_int_equal(fr->len[i], 8 + dlen + 4);
	assert_int_equal(fr->f[i][0], 0x01);
	assert_int_equal(fr->f[i][1], cmd);
	assert_int_equal(fr->f[i][2] | fr->f[i][3] << 8, dlen + 4);
	assert_int_equal(fr->f[i][8 + dlen], st);
	assert_int_equal(fr->f[i][9 + dlen], er);
	assert_int_equal(fr->f[i][10 + dlen], 0);
	assert_int_equal(fr->f[i][11 + dlen], 0);
}

static uint32_t read_reg(struct simdev *d, uint32_t addr)
{
	uint8_t a[4];
	struct frames fr;

	le_put32(a, addr);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, 0x0a, 0, 0, 0);
	return le_get32(fr.f[0] + 4);
}

static void write_reg(struct simdev *d, uint32_t addr, uint32_t val, uint32_t mask)
{
	uint8_t a[16];
	struct frames fr;

	le_put32(a, addr);
	le_put32(a + 4, val);
	le_put32(a + 8, mask);
	le_put32(a + 12, 0);
	xfer(d, 0x09, a, 16, 0, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, 0x09, 0, 0, 0);
}

static const uint8_t sync_payload[36] = {
	0x07, 0x07, 0x12, 0x20, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
	0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
};

static void test_simdev_sync_answers_eight_times(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	struct frames fr;
	static const uint8_t want[12] = { 0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0 };

	(void)state;
	xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
	assert_int_equal(fr.n, SIMDEV_SYNC_REPLIES);
	for (size_t i = 0; i < fr.n; i++) {
		assert_int_equal(fr.len[i], 12);
		assert_memory_equal(fr.f[i], want, 12);
	}
	/* a wrong SYNC payload is an invalid message, answered once */
	xfer(d, 0x08, sync_payload, 20, 0, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, 0x08, 0, 1, 0x05);
	simdev_free(d);
}

/* Exact bytes on the wire, SLIP framing included. */
static void wire(struct simdev *d, const uint8_t *in, size_t inlen, const uint8_t *want, size_t wantlen)
{
	uint8_t out[256];
	size_t n;

	simdev_rx(d, 0, in, inlen);
	n = simdev_tx(d, UINT64_MAX - 1, out, sizeof(out));
	assert_int_equal(n, wantlen);
	if (wantlen)
		assert_memory_equal(out, want, wantlen);
}

static void test_simdev_exact_wire_bytes(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	static const uint8_t rd_in[] = { 0xC0, 0x00, 0x0A, 0x04, 0x00, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x40, 0xC0 };
	static const uint8_t rd_out[] = { 0xC0, 0x01, 0x0A, 0x04, 0x00, 0x83, 0x1D, 0xF0, 0x00, 0, 0, 0, 0, 0xC0 };
	static const uint8_t sec_in[] = { 0xC0, 0x00, 0x14, 0x00, 0x00, 0, 0, 0, 0, 0xC0 };
	/* the ESP32 ROM answers GET_SECURITY_INFO, which it does not know,
	 * under its last header (READ_REG, value 0xDBC00000), twice */
	static const uint8_t sec_out[] = { 0xC0, 0x01, 0x0A, 0x04, 0x00, 0x00, 0x00, 0xDB, 0xDC, 0xDB, 0xDD,
					   0x01, 0x05, 0, 0, 0xC0,
					   0xC0, 0x01, 0x0A, 0x04, 0x00, 0x00, 0x00, 0xDB, 0xDC, 0xDB, 0xDD,
					   0x01, 0x05, 0, 0, 0xC0 };
	static const uint8_t att_in[] = { 0xC0, 0x00, 0x0D, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0 };
	static const uint8_t att_out[] = { 0xC0, 0x01, 0x0D, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0 };
	/* WRITE_REG 0x3FF480C0 := 0xDBC00000: escapes in the request ... */
	static const uint8_t wr_in[] = { 0xC0, 0x00, 0x09, 0x10, 0x00, 0, 0, 0, 0,
					 0xDB, 0xDC, 0x80, 0xF4, 0x3F, 0x00, 0x00, 0xDB, 0xDC, 0xDB, 0xDD,
					 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0xC0 };
	static const uint8_t wr_out[] = { 0xC0, 0x01, 0x09, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xC0 };
	/* ... and in the READ_REG reply carrying it */
	static const uint8_t rd2_in[] = { 0xC0, 0x00, 0x0A, 0x04, 0x00, 0, 0, 0, 0, 0xDB, 0xDC, 0x80, 0xF4, 0x3F, 0xC0 };
	static const uint8_t rd2_out[] = { 0xC0, 0x01, 0x0A, 0x04, 0x00, 0x00, 0x00, 0xDB, 0xDC, 0xDB, 0xDD,
					   0, 0, 0, 0, 0xC0 };

	(void)state;
	wire(d, rd_in, sizeof(rd_in), rd_out, sizeof(rd_out));
	wire(d, att_in, sizeof(att_in), att_out, sizeof(att_out));
	wire(d, wr_in, sizeof(wr_in), wr_out, sizeof(wr_out));
	wire(d, rd2_in, sizeof(rd2_in), rd2_out, sizeof(rd2_out));
	wire(d, sec_in, sizeof(sec_in), sec_out, sizeof(sec_out));
	/* then silent until a new SYNC */
	wire(d, rd_in, sizeof(rd_in), NULL, 0);
	{
		struct frames fr;

		xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
		assert_int_equal(fr.n, SIMDEV_SYNC_REPLIES);
	}
	/* boot-log noise before a frame and extra C0s are skipped */
	{
		uint8_t noisy[sizeof(rd_in) + 8] = { 'r', 's', 't', ':', 0x0d, 0x0a, 0xC0, 0xC0 };

		memcpy(noisy + 8, rd_in + 1, sizeof(rd_in) - 1);
		wire(d, noisy, sizeof(noisy) - 1, rd_out, sizeof(rd_out));
	}
	simdev_free(d);
}

static void test_simdev_read_reg_magic_and_mac(void **state)
{
	struct {
		enum simdev_chip chip;
		uint32_t magic, lo, hi;
	} t[] = {
		{ SIMDEV_CHIP_ESP32, 0x00F01D83u, 0x3FF5A004u, 0x3FF5A008u },
		{ SIMDEV_CHIP_ESP32S3, 0x9u, 0x60007044u, 0x60007048u },
		{ SIMDEV_CHIP_ESP32C3, 0x1B31506Fu, 0x60008844u, 0x60008848u },
		{ SIMDEV_CHIP_ESP32S2, 0x000007C6u, 0x3F41A044u, 0x3F41A048u },
		{ SIMDEV_CHIP_ESP32C2, 0x6F51306Fu, 0x60008840u, 0x60008844u },
		{ SIMDEV_CHIP_ESP32C6, 0x2CE0806Fu, 0x600B0844u, 0x600B0848u },
		{ SIMDEV_CHIP_ESP32H2, 0xD7B73E80u, 0x600B0844u, 0x600B0848u },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct simdev *d = mk(t[i].chip, 0);

		assert_int_equal(read_reg(d, 0x40001000u), t[i].magic);
		/* default MAC 24:0a:c4:00:00:01 laid out as esptool's read_mac reads it */
		assert_int_equal(read_reg(d, t[i].lo), 0xc4000001u);
		assert_int_equal(read_reg(d, t[i].hi) & 0xFFFF, 0x240a);
		assert_int_equal(read_reg(d, 0x12345678u), 0);
		simdev_free(d);
	}
}

static void test_simdev_mac_from_config(void **state)
{
	struct simdev_config c;
	struct simdev *d = NULL;

	(void)state;
	simdev_config_default(&c);
	c.chip = SIMDEV_CHIP_ESP32S3;
	c.timing = 0;
	assert_int_equal(simdev_mac_parse("de:ad:be:ef:00:42", c.mac), 0);
	assert_int_equal(simdev_mac_parse("de:ad:be:ef:00", c.mac), SIMDEV_EINVAL);
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	assert_int_equal(read_reg(d, 0x60007044u), 0xbeef0042u);
	assert_int_equal(read_reg(d, 0x60007048u), 0xdeadu);
	simdev_free(d);
}

static void test_simdev_write_reg_masks_and_reads_back(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	struct frames fr;
	uint8_t bad[12] = { 0 };

	(void)state;
	write_reg(d, 0x3FF48000u, 0x12345678u, 0xFFFFFFFFu);
	assert_int_equal(read_reg(d, 0x3FF48000u), 0x12345678u);
	write_reg(d, 0x3FF48000u, 0xABCDEF00u, 0x0000FF00u);
	assert_int_equal(read_reg(d, 0x3FF48000u), 0x1234EF78u);
	/* the chip magic is ROM: writes do not stick */
	write_reg(d, 0x40001000u, 0, 0xFFFFFFFFu);
	assert_int_equal(read_reg(d, 0x40001000u), 0x00F01D83u);
	/* not a multiple of 16 bytes */
	xfer(d, 0x09, bad, sizeof(bad), 0, &fr);
	expect_status(&fr, 0, 0x09, 0, 1, 0x05);
	simdev_free(d);
}

static void change_baud(struct simdev *d, uint32_t baud)
{
	uint8_t a[8];
	struct frames fr;

	le_put32(a, baud);
	le_put32(a + 4, 0);
	xfer(d, 0x0f, a, 8, 0, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, 0x0f, 0, 0, 0);
}

static void test_simdev_uart_clkdiv_follows_baud(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32S3, 0);

	(void)state;
	/* esptool: xtal = host baud * div / 1e6 must come out near 40 */
	assert_int_equal(read_reg(d, 0x60000014u) & 0xFFFFF, 40000000u / 115200);
	change_baud(d, 460800);
	assert_int_equal(simdev_baud(d), 460800);
	assert_int_equal(read_reg(d, 0x60000014u) & 0xFFFFF, 40000000u / 460800);
	simdev_free(d);
}

static void test_simdev_esp32_baud_needs_clock_correction(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint32_t cali, ck8m, corrected;
	double rom;

	(void)state;
	assert_int_equal(read_reg(d, 0x3FF40014u) & 0xFFFFF, 40000000u / 115200);
	/* esptool's get_rom_cal_crystal_freq */
	cali = (read_reg(d, 0x3FF5F06Cu) >> 7) & 0x01FFFFFF;
	ck8m = read_reg(d, 0x3FF5A010u) & 0xFF;
	rom = (double)cali * 15625 * ck8m / 40;
	assert_true(rom > 41000000 && rom < 42000000);
	/* uncorrected: the ROM lands about 4 % low */
	change_baud(d, 921600);
	assert_true(simdev_baud(d) < 921600 * 0.97);
	/* corrected as esptool does: within 0.1 % */
	corrected = (uint32_t)(921600 * rom / 40000000);
	change_baud(d, corrected);
	assert_true(simdev_baud(d) > 921600 * 0.999 && simdev_baud(d) < 921600 * 1.001);
	simdev_free(d);
}

/* An unknown command's reply: status 01 05 under the ROM's last header. */
static void expect_unknown(const struct frames *fr, size_t i, uint8_t op, uint32_t val)
{
	expect_status(fr, i, op, 0, 1, 0x05);
	assert_int_equal(le_get32(fr->f[i] + 4), val);
}

static void test_simdev_security_info_per_chip(void **state)
{
	static const struct {
		enum simdev_chip chip;
		size_t len;
		uint32_t id;
	} t[] = {
		{ SIMDEV_CHIP_ESP32S2, 12, 0 },  { SIMDEV_CHIP_ESP32S3, 20, 9 }, { SIMDEV_CHIP_ESP32C2, 20, 12 },
		{ SIMDEV_CHIP_ESP32C3, 20, 5 },  { SIMDEV_CHIP_ESP32C6, 20, 13 }, { SIMDEV_CHIP_ESP32H2, 20, 16 },
	};
	struct frames fr;
	uint8_t a[4];
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);

	(void)state;
	/* ESP32: unknown, answered twice under the SYNC header (value echoed) */
	xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
	xfer(d, 0x14, NULL, 0, 0, &fr);
	assert_int_equal(fr.n, 2);
	expect_unknown(&fr, 0, 0x08, SIMDEV_SYNC_VALUE);
	expect_unknown(&fr, 1, 0x08, SIMDEV_SYNC_VALUE);
	assert_int_equal(simdev_stats(d)->unknown, 1);
	/* and it answers nothing but SYNC until synced again */
	le_put32(a, 0x40001000u);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 0);
	assert_int_equal(simdev_stats(d)->ignored_unsynced, 1);
	xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
	assert_int_equal(fr.n, SIMDEV_SYNC_REPLIES);
	assert_int_equal(read_reg(d, 0x40001000u), 0x00F01D83u);
	/* the stub-only opcodes 0xD0..0xD4 likewise, now under READ_REG */
	for (uint8_t op = 0xD0; op <= 0xD4; op++) {
		xfer(d, op, a, 4, 0, &fr);
		assert_int_equal(fr.n, 2);
		expect_unknown(&fr, 0, 0x0a, 0x00F01D83u);
		xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
		assert_int_equal(read_reg(d, 0x40001000u), 0x00F01D83u);
	}
	simdev_free(d);

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		d = mk(t[i].chip, 0);
		xfer(d, 0x14, NULL, 0, 0, &fr);
		assert_int_equal(fr.n, 1);
		expect_status(&fr, 0, 0x14, t[i].len, 0, 0);
		assert_int_equal(le_get32(fr.f[0] + 8), 0); /* flags */
		if (t[i].len == 20)
			assert_int_equal(le_get32(fr.f[0] + 8 + 12), t[i].id);
		/* later ROMs answer an unknown command the same way, without
		 * needing a new SYNC afterwards */
		xfer(d, 0xD2, NULL, 0, 0, &fr);
		assert_int_equal(fr.n, 2);
		expect_unknown(&fr, 0, 0x14, 0);
		assert_int_equal(read_reg(d, 0x12345678u), 0);
		simdev_free(d);
	}
}

static void test_simdev_unknown_command_rejected_twice(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32S3, 0);
	struct frames fr;
	uint8_t x[4] = { 1, 2, 3, 4 };

	(void)state;
	xfer(d, 0x55, x, sizeof(x), 0, &fr);
	assert_int_equal(fr.n, 2);
	expect_status(&fr, 0, 0x55, 0, 1, 0x05);
	expect_status(&fr, 1, 0x55, 0, 1, 0x05);
	/* length field that disagrees with the frame: invalid message */
	{
		uint8_t raw[12] = { 0x00, 0x0a, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x40 };
		uint8_t enc[32];
		size_t n = slip_encode(raw, sizeof(raw), enc);

		simdev_rx(d, 0, enc, n);
		collect(d, UINT64_MAX - 1, &fr);
		assert_int_equal(fr.n, 1);
		expect_status(&fr, 0, 0x0a, 0, 1, 0x05);
	}
	/* responses (direction 1) and runts are ignored, not answered */
	{
		uint8_t raw[8] = { 0x01, 0x0a, 0, 0, 0, 0, 0, 0 };
		uint8_t enc[32];
		size_t n = slip_encode(raw, sizeof(raw), enc);

		simdev_rx(d, 0, enc, n);
		n = slip_encode(raw, 3, enc);
		simdev_rx(d, 0, enc, n);
		collect(d, UINT64_MAX - 1, &fr);
		assert_int_equal(fr.n, 0);
		assert_int_equal(simdev_stats(d)->bad_frames, 2);
	}
	simdev_free(d);
}

static void attach(struct simdev *d, uint32_t size)
{
	uint8_t a[24] = { 0 };
	struct frames fr;

	xfer(d, 0x0d, a, 8, 0, &fr);
	expect_status(&fr, 0, 0x0d, 0, 0, 0);
	if (size) {
		le_put32(a + 4, size);
		le_put32(a + 8, 0x10000);
		le_put32(a + 12, 0x1000);
		le_put32(a + 16, 0x100);
		le_put32(a + 20, 0xFFFF);
		xfer(d, 0x0b, a, 24, 0, &fr);
		expect_status(&fr, 0, 0x0b, 0, 0, 0);
	}
}

static void flash_begin(struct simdev *d, uint8_t cmd, unsigned words, uint32_t size, uint32_t blocks,
			uint32_t bsize, uint32_t off, uint8_t st, uint8_t er)
{
	uint8_t a[20] = { 0 };
	struct frames fr;

	le_put32(a, size);
	le_put32(a + 4, blocks);
	le_put32(a + 8, bsize);
	le_put32(a + 12, off);
	xfer(d, cmd, a, words * 4, 0, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, cmd, 0, st, er);
}

static void data_block(struct simdev *d, uint8_t cmd, const uint8_t *blk, uint32_t len, uint32_t seq, int bad_chk,
		       uint8_t st, uint8_t er)
{
	uint8_t *a = calloc(1, 16 + len);
	struct frames fr;

	assert_non_null(a);
	le_put32(a, len);
	le_put32(a + 4, seq);
	memcpy(a + 16, blk, len);
	xfer(d, cmd, a, 16 + len, (uint32_t)(csum(blk, len) ^ (bad_chk ? 1 : 0)), &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, cmd, 0, st, er);
	free(a);
}

static void test_simdev_security_flags_and_sdm(void **state)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	struct frames fr;
	uint8_t a[16] = { 0 };

	(void)state;
	simdev_config_default(&c);
	c.chip = SIMDEV_CHIP_ESP32C3;
	c.timing = 0;
	c.security_flags = SIMDEV_SEC_SECURE_BOOT | SIMDEV_SEC_SECURE_DOWNLOAD;
	c.flash_crypt_cnt = 1;
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	xfer(d, 0x14, NULL, 0, 0, &fr);
	expect_status(&fr, 0, 0x14, 20, 0, 0);
	assert_int_equal(le_get32(fr.f[0] + 8), 0x5);
	assert_int_equal(fr.f[0][8 + 4], 1);
	assert_int_equal(le_get32(fr.f[0] + 8 + 12), 5);
	/* nothing readable: refused as unknown, under the last header */
	le_put32(a, 0x40001000u);
	xfer(d, 0x0a, a, 4, 0, &fr);
	expect_unknown(&fr, 0, 0x14, 0);
	attach(d, 0);
	xfer(d, 0x13, a, 16, 0, &fr);
	expect_unknown(&fr, 0, 0x0d, 0);
	xfer(d, 0x05, a, 16, 0, &fr); /* MEM_BEGIN: no RAM loading either */
	expect_unknown(&fr, 0, 0x0d, 0);
	/* writing still works */
	flash_begin(d, 0x02, 5, 0x1000, 4, 0x400, 0x10000, 0, 0);
	simdev_free(d);
}

static void test_simdev_flash_begin_word_count_per_chip(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);

	(void)state;
	/* before SPI_ATTACH the ROM cannot reach the flash */
	flash_begin(d, 0x02, 4, 0x1000, 4, 0x400, 0x10000, 1, 0x06);
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 5, 0x1000, 4, 0x400, 0x10000, 1, 0x05); /* ESP32 takes 4 words */
	flash_begin(d, 0x02, 4, 0x1000, 4, 0x400, 0x10000, 0, 0);
	simdev_free(d);

	d = mk(SIMDEV_CHIP_ESP32S3, 0);
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 4, 0x1000, 4, 0x400, 0x10000, 1, 0x05); /* S3 takes 5 */
	flash_begin(d, 0x02, 5, 0x1000, 4, 0x400, 0x10000, 0, 0);
	simdev_free(d);
}

static void test_simdev_flash_size_defaults_to_2mb(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);

	(void)state;
	attach(d, 0);
	/* the ROM assumes 2 MiB until SPI_SET_PARAMS */
	flash_begin(d, 0x02, 4, 0x1000, 4, 0x400, 0x200000, 1, 0x06);
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 4, 0x1000, 4, 0x400, 0x200000, 0, 0);
	/* past the physical 4 MiB */
	flash_begin(d, 0x02, 4, 0x2000, 8, 0x400, 0x3FF000, 1, 0x06);
	simdev_free(d);
}

static void test_simdev_flash_data_checksum_seq_and_nor(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t blk[0x400];
	size_t fsz;
	uint8_t *flash = simdev_flash(d, &fsz);

	(void)state;
	assert_int_equal(fsz, 4u << 20);
	memset(flash + 0x8000, 0x00, 0x2000); /* old content, erased by BEGIN */
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 4, 0x800, 2, 0x400, 0x8000, 0, 0);
	/* whole sector 0x8000 erased, not the next one */
	assert_int_equal(flash[0x8FFF], 0xFF);
	assert_int_equal(flash[0x9000], 0x00);
	for (size_t i = 0; i < sizeof(blk); i++)
		blk[i] = (uint8_t)i;
	data_block(d, 0x03, blk, sizeof(blk), 0, 1, 1, 0x07); /* bad checksum */
	assert_int_equal(flash[0x8001], 0xFF);
	data_block(d, 0x03, blk, sizeof(blk), 1, 0, 1, 0x05); /* seq 1 before 0 */
	data_block(d, 0x03, blk, 0x200, 0, 0, 1, 0x05);       /* not padded */
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 0, 0);
	assert_memory_equal(flash + 0x8000, blk, sizeof(blk));
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 0, 0); /* a retry of seq 0 */
	memset(blk, 0xF0, sizeof(blk));
	blk[0] = 0x0F;
	data_block(d, 0x03, blk, sizeof(blk), 1, 0, 0, 0);
	assert_int_equal(flash[0x8400], 0x0F);
	assert_int_equal(flash[0x8401], 0xF0);
	/* programming only clears bits: a second write ANDs */
	flash_begin(d, 0x02, 4, 0, 1, 0x400, 0x20000, 0, 0);
	memset(blk, 0x0F, sizeof(blk));
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 0, 0);
	flash_begin(d, 0x02, 4, 0, 1, 0x400, 0x20000, 0, 0);
	memset(blk, 0x3C, sizeof(blk));
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 0, 0);
	assert_int_equal(flash[0x20000], 0x0C);
	assert_int_equal(simdev_stats(d)->sectors_erased, 1);
	assert_int_equal(simdev_stats(d)->pages_programmed, 4 * 4);
	simdev_free(d);
}

static void test_simdev_data_without_begin_fails(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32C3, 0);
	uint8_t blk[0x400];

	(void)state;
	memset(blk, 1, sizeof(blk));
	attach(d, 4u << 20);
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 1, 0x06);
	data_block(d, 0x11, blk, sizeof(blk), 0, 0, 1, 0x06);
	simdev_free(d);
}

static void test_simdev_deflate_writes_image(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32S3, 0);
	size_t n = 24 * 1024;
	uint8_t *img = malloc(n);
	uLongf clen = compressBound((uLong)n);
	uint8_t *comp = malloc(clen);
	uint8_t *flash = simdev_flash(d, NULL);
	uint32_t blocks;

	(void)state;
	assert_non_null(img);
	assert_non_null(comp);
	memset(img, 0xFF, n);
	for (size_t i = 0; i < 3000; i++)
		img[i * 7] = (uint8_t)(i * 13);
	assert_int_equal(compress2(comp, &clen, img, (uLong)n, 9), Z_OK);
	blocks = (uint32_t)((clen + 0x3FF) / 0x400);
	attach(d, 4u << 20);
	flash_begin(d, 0x10, 5, (uint32_t)n, blocks, 0x400, 0x9000, 0, 0);
	for (uint32_t s = 0; s < blocks; s++) {
		uint32_t len = (uint32_t)(clen - s * 0x400 < 0x400 ? clen - s * 0x400 : 0x400);

		data_block(d, 0x11, comp + s * 0x400, len, s, 0, 0, 0);
	}
	assert_memory_equal(flash + 0x9000, img, n);
	assert_int_equal(flash[0x9000 + n], 0xFF);
	/* 24 KiB inflated in chunks: still exactly 96 pages */
	assert_int_equal(simdev_stats(d)->pages_programmed, n / 256);
	/* garbage instead of zlib: deflate error */
	flash_begin(d, 0x10, 5, (uint32_t)n, 1, 0x400, 0x9000, 0, 0);
	memset(comp, 0x77, 0x100);
	data_block(d, 0x11, comp, 0x100, 0, 0, 1, 0x0b);
	free(img);
	free(comp);
	simdev_free(d);
}

static void test_simdev_deflate_past_region_fails(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t img[0x2000];
	uint8_t comp[0x3000];
	uLongf clen = sizeof(comp);

	(void)state;
	memset(img, 0x11, sizeof(img));
	assert_int_equal(compress2(comp, &clen, img, sizeof(img), 9), Z_OK);
	attach(d, 4u << 20);
	/* announces one block of uncompressed data, sends two */
	flash_begin(d, 0x10, 4, 0x1000, 1, 0x400, 0x9000, 0, 0);
	data_block(d, 0x11, comp, (uint32_t)clen, 0, 0, 1, 0x0b);
	simdev_free(d);
}

static void test_simdev_md5_is_ascii_hex(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[16] = { 0 }, md[16];
	char hex[33];
	unsigned mdlen = 0;
	struct frames fr;
	uint8_t *flash = simdev_flash(d, NULL);

	(void)state;
	for (int i = 0; i < 0x1000; i++)
		flash[0x1000 + i] = (uint8_t)(i * 3);
	le_put32(a, 0x1000);
	le_put32(a + 4, 0x1000);
	xfer(d, 0x13, a, 16, 0, &fr);
	expect_status(&fr, 0, 0x13, 0, 1, 0x06); /* not attached */
	attach(d, 0);
	xfer(d, 0x13, a, 16, 0, &fr);
	expect_status(&fr, 0, 0x13, 32, 0, 0);
	assert_true(EVP_Digest(flash + 0x1000, 0x1000, md, &mdlen, EVP_md5(), NULL));
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_memory_equal(fr.f[0] + 8, hex, 32);
	le_put32(a, 0x1FF000);
	le_put32(a + 4, 0x2000); /* crosses the default 2 MiB */
	xfer(d, 0x13, a, 16, 0, &fr);
	expect_status(&fr, 0, 0x13, 0, 1, 0x09);
	simdev_free(d);
}

static void test_simdev_read_flash_slow_64_bytes(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32C3, 0);
	uint8_t a[8];
	struct frames fr;
	uint8_t *flash = simdev_flash(d, NULL);

	(void)state;
	for (int i = 0; i < 64; i++)
		flash[0x8000 + i] = (uint8_t)(0xA0 + i);
	attach(d, 0);
	le_put32(a, 0x8000);
	le_put32(a + 4, 16);
	xfer(d, 0x0e, a, 8, 0, &fr);
	/* always a 64-byte buffer, the first 16 bytes asked for */
	expect_status(&fr, 0, 0x0e, 64, 0, 0);
	assert_memory_equal(fr.f[0] + 8, flash + 0x8000, 16);
	le_put32(a + 4, 65);
	xfer(d, 0x0e, a, 8, 0, &fr);
	expect_status(&fr, 0, 0x0e, 0, 1, 0x0a);
	simdev_free(d);
}

static void test_simdev_spi_rdid_via_registers(void **state)
{
	struct {
		enum simdev_chip chip;
		uint32_t base, usr2, w0;
	} t[] = {
		{ SIMDEV_CHIP_ESP32, 0x3FF42000u, 0x24, 0x80 },
		{ SIMDEV_CHIP_ESP32S3, 0x60002000u, 0x20, 0x58 },
		{ SIMDEV_CHIP_ESP32C3, 0x60002000u, 0x20, 0x58 },
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct simdev *d = mk(t[i].chip, 0);

		/* esptool's run_spiflash_command(0x9F, read_bits=24) */
		write_reg(d, t[i].base + t[i].usr2, (7u << 28) | 0x9F, 0xFFFFFFFFu);
		write_reg(d, t[i].base + t[i].w0, 0, 0xFFFFFFFFu);
		write_reg(d, t[i].base, 1u << 18, 0xFFFFFFFFu);
		assert_int_equal(read_reg(d, t[i].base) & (1u << 18), 0);
		assert_int_equal(read_reg(d, t[i].base + t[i].w0), 0x1640EFu); /* 4 MiB Winbond */
		/* RDSR after WRSR */
		write_reg(d, t[i].base + t[i].w0, 0x0200, 0xFFFFFFFFu);
		write_reg(d, t[i].base + t[i].usr2, (7u << 28) | 0x01, 0xFFFFFFFFu);
		write_reg(d, t[i].base, 1u << 18, 0xFFFFFFFFu);
		write_reg(d, t[i].base + t[i].usr2, (7u << 28) | 0x35, 0xFFFFFFFFu);
		write_reg(d, t[i].base, 1u << 18, 0xFFFFFFFFu);
		assert_int_equal(read_reg(d, t[i].base + t[i].w0), 0x02);
		simdev_free(d);
	}
}

static void test_simdev_mem_refused_gracefully(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[16] = { 0 }, blk[32];
	struct frames fr;

	(void)state;
	le_put32(a, 32);
	le_put32(a + 4, 1);
	le_put32(a + 8, 0x1800);
	le_put32(a + 12, 0x3FFB0000u);
	xfer(d, 0x05, a, 16, 0, &fr);
	expect_status(&fr, 0, 0x05, 0, 1, 0x06); /* no stub can run here */
	xfer(d, 0x05, a, 12, 0, &fr);
	expect_status(&fr, 0, 0x05, 0, 1, 0x05);
	memset(blk, 0x42, sizeof(blk));
	data_block(d, 0x07, blk, sizeof(blk), 0, 1, 1, 0x07);
	data_block(d, 0x07, blk, sizeof(blk), 0, 0, 1, 0x06);
	le_put32(a, 0);
	le_put32(a + 4, 0x40080000u);
	xfer(d, 0x06, a, 8, 0, &fr);
	expect_status(&fr, 0, 0x06, 0, 1, 0x06);
	/* still in the loader */
	assert_int_equal(read_reg(d, 0x40001000u), 0x00F01D83u);
	simdev_free(d);
}

static void test_simdev_flash_end_leaves_loader(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[4] = { 1, 0, 0, 0 };
	struct frames fr;

	(void)state;
	xfer(d, 0x04, a, 4, 0, &fr);
	expect_status(&fr, 0, 0x04, 0, 0, 0);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_APP);
	xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
	assert_int_equal(fr.n, 0);
	simdev_free(d);
}

static void test_simdev_defl_end_and_staying_loader(void **state)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	uint8_t a[4] = { 0, 0, 0, 0 };
	struct frames fr;

	(void)state;
	simdev_config_default(&c);
	c.chip = SIMDEV_CHIP_ESP32C3;
	c.timing = 0;
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	xfer(d, 0x12, a, 4, 0, &fr);
	expect_status(&fr, 0, 0x12, 0, 0, 0);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_APP);
	xfer(d, 0x12, a, 3, 0, &fr); /* silent now */
	assert_int_equal(fr.n, 0);
	simdev_power_cycle(d, 0, 1);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_DOWNLOAD);
	simdev_discard_tx(d, UINT64_MAX - 1); /* the banner */
	xfer(d, 0x12, a, 3, 0, &fr);
	expect_status(&fr, 0, 0x12, 0, 1, 0x05); /* wrong length */
	simdev_free(d);

	/* end_leaves_loader = 0: the session ends, the loader keeps answering */
	c.end_leaves_loader = 0;
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	xfer(d, 0x04, a, 4, 0, &fr);
	expect_status(&fr, 0, 0x04, 0, 0, 0);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_DOWNLOAD);
	xfer(d, 0x08, sync_payload, sizeof(sync_payload), 0, &fr);
	assert_int_equal(fr.n, 8);
	simdev_free(d);
}

static void test_simdev_write_reg_delay_costs_time(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 1);
	uint8_t a[32] = { 0 };
	uint64_t bt = 10000000000ull / 115200;

	(void)state;
	/* esptool's write_reg(..., delay_after_us=1000): a second dummy entry */
	le_put32(a, 0x3FF48000u);
	le_put32(a + 4, 1);
	le_put32(a + 8, 0xFFFFFFFFu);
	le_put32(a + 12, 0);
	le_put32(a + 16, 0x60000078u);
	le_put32(a + 28, 1000);
	send_req(d, 0, 0x09, a, sizeof(a), 0);
	/* 40 bytes + 2 delimiters in, 1 ms, first reply byte */
	assert_int_equal(simdev_next_event_ns(d), 42 * bt + 1000000 + bt);
	simdev_free(d);
}

static void test_simdev_timing_of_wire_and_flash(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 1);
	uint8_t a[16] = { 0 };
	struct frames fr;
	uint64_t bt = 10000000000ull / 115200; /* ns per byte */
	uint64_t t;

	(void)state;
	/* SYNC: 46 bytes in (C0 + 44 + C0), then 8 replies of 14 bytes out */
	send_req(d, 0, 0x08, sync_payload, sizeof(sync_payload), 0);
	t = simdev_next_event_ns(d);
	assert_int_equal(t, 46 * bt + bt);
	{
		uint8_t b[256];

		assert_int_equal(simdev_tx(d, 46 * bt + 14 * bt - 1, b, sizeof(b)), 13); /* last byte still on the wire */
		assert_int_equal(simdev_tx(d, 46 * bt + 14 * bt, b, sizeof(b)), 1);
		assert_int_equal(simdev_tx(d, 46 * bt + 8 * 14 * bt, b, sizeof(b)), 7 * 14);
	}
	assert_int_equal(simdev_next_event_ns(d), UINT64_MAX);

	/* FLASH_BEGIN of 3 sectors: 3 x 45 ms after the request arrived */
	simdev_set_timing(d, 0, 45, 400);
	attach(d, 4u << 20);
	simdev_set_timing(d, 1, 45, 400);
	le_put32(a, 0x3000);
	le_put32(a + 4, 12);
	le_put32(a + 8, 0x400);
	le_put32(a + 12, 0x10000);
	t = 1000 * MS;
	send_req(d, t, 0x02, a, 16, 0);
	/* 24 bytes + 2 delimiters in, 3 sectors, then 14 bytes out */
	assert_int_equal(simdev_next_event_ns(d), t + 26 * bt + 135 * MS + bt);
	collect(d, t + 26 * bt + 135 * MS + 14 * bt, &fr);
	assert_int_equal(fr.n, 1);
	expect_status(&fr, 0, 0x02, 0, 0, 0);
	simdev_free(d);
}

static void test_simdev_program_time_per_page(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[16 + 0x400] = { 0 };
	struct frames fr;
	uint64_t t = 5000 * MS, arrive;
	size_t enc_len;

	(void)state;
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 4, 0x400, 1, 0x400, 0, 0, 0);
	simdev_set_timing(d, 1, 45, 400);
	le_put32(a, 0x400);
	memset(a + 16, 0x12, 0x400);
	/* 8 header + 0x410 payload, no bytes to escape, 2 delimiters */
	enc_len = 8 + 16 + 0x400 + 2;
	send_req(d, t, 0x03, a, sizeof(a), csum(a + 16, 0x400));
	arrive = t + enc_len * (10000000000ull / 115200);
	/* 4 pages of 0.4 ms before the reply starts */
	assert_int_equal(simdev_next_event_ns(d), arrive + 4 * 400000ull + 10000000000ull / 115200);
	collect(d, UINT64_MAX - 1, &fr);
	expect_status(&fr, 0, 0x03, 0, 0, 0);
	simdev_free(d);
}

static void test_simdev_change_baud_reply_at_old_rate(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32C3, 1);
	uint8_t a[8];
	struct frames fr;
	uint64_t t0, t1, bt = 10000000000ull / 115200;

	(void)state;
	simdev_set_host_baud(d, 115200);
	le_put32(a, 921600);
	le_put32(a + 4, 0);
	send_req(d, 0, 0x0f, a, 8, 0);
	t0 = simdev_next_event_ns(d);
	assert_int_equal(t0, 18 * bt + bt); /* first reply byte at 115200 */
	collect(d, UINT64_MAX - 1, &fr);
	expect_status(&fr, 0, 0x0f, 0, 0, 0);
	/* host still at 115200: the device at 921600 hears noise */
	send_req(d, 1000 * MS, 0x0a, a, 4, 0);
	collect(d, UINT64_MAX - 1, &fr);
	assert_int_equal(fr.n, 0);
	assert_true(simdev_stats(d)->garbled > 0);
	simdev_set_host_baud(d, 921600);
	send_req(d, 2000 * MS, 0x0a, a, 4, 0);
	t1 = simdev_next_event_ns(d);
	assert_int_equal(t1, 2000 * MS + 14 * (10000000000ull / 921600) + 10000000000ull / 921600);
	collect(d, UINT64_MAX - 1, &fr);
	assert_int_equal(fr.n, 1);
	simdev_free(d);
}

static void test_simdev_classic_reset_enters_download(void **state)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	struct frames fr;
	const struct simdev_line_event *ev;

	(void)state;
	simdev_config_default(&c);
	c.start_in_download = 0; /* running the app */
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	send_req(d, 0, 0x08, sync_payload, sizeof(sync_payload), 0);
	collect(d, 100 * MS, &fr);
	assert_int_equal(fr.n, 0);
	/* esptool ClassicReset: DTR=0 RTS=1; 100 ms; DTR=1; RTS=0; 50 ms; DTR=0 */
	simdev_set_lines(d, 200 * MS, 0, 1);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_RESET);
	simdev_set_lines(d, 300 * MS, 1, -1); /* (1,1): EN released only for an instant */
	simdev_set_lines(d, 300 * MS, -1, 0);
	simdev_set_lines(d, 350 * MS, 0, -1);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_DOWNLOAD);
	collect(d, 500 * MS, &fr);
	assert_int_equal(fr.n, 0);
	assert_non_null(strstr(fr.noise, "waiting for download"));
	assert_non_null(strstr(fr.noise, "boot:0x3"));
	send_req(d, 600 * MS, 0x08, sync_payload, sizeof(sync_payload), 0);
	collect(d, 700 * MS, &fr);
	assert_int_equal(fr.n, 8);
	assert_int_equal(simdev_line_log(d, &ev), 4);
	assert_int_equal(ev[1].dtr, 1);
	assert_int_equal(ev[1].rts, 1);
	assert_int_equal(ev[1].t_ns, 300 * MS);
	assert_int_equal(simdev_stats(d)->boots_download, 1);
	simdev_free(d);
}

static void test_simdev_hard_reset_boots_app(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 1);
	struct frames fr;

	(void)state;
	/* esptool HardReset: RTS=1, 100 ms, RTS=0 (IO0 high) */
	simdev_set_lines(d, 0, 0, 1);
	simdev_set_lines(d, 100 * MS, -1, 0);
	collect(d, 200 * MS, &fr);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_APP);
	assert_non_null(strstr(fr.noise, "SPI_FAST_FLASH_BOOT"));
	send_req(d, 300 * MS, 0x08, sync_payload, sizeof(sync_payload), 0);
	collect(d, 400 * MS, &fr);
	assert_int_equal(fr.n, 0);
	/* UnixTightReset-style: (0,0) (1,1) (0,1) 100 ms (1,0) 50 ms (0,0) */
	simdev_set_lines(d, 500 * MS, 0, 0);
	simdev_set_lines(d, 500 * MS, 1, 1);
	simdev_set_lines(d, 500 * MS, 0, 1);
	simdev_set_lines(d, 600 * MS, 1, 0);
	simdev_set_lines(d, 650 * MS, 0, 0);
	assert_int_equal(simdev_state(d), SIMDEV_STATE_DOWNLOAD);
	/* reset drops the baud back to 115200 */
	simdev_free(d);
}

static void test_simdev_drop_after_n_requests(void **state)
{
	struct simdev_config c;
	struct simdev *d = NULL;
	struct frames fr;
	uint8_t a[4] = { 0, 0x10, 0, 0x40 };

	(void)state;
	simdev_config_default(&c);
	c.timing = 0;
	c.drop_after = 2;
	assert_int_equal(simdev_new(&c, &d, NULL), 0);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 1);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 1);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 0);
	assert_int_equal(simdev_stats(d)->dropped, 1);
	/* the runtime knob counts from now */
	simdev_set_drop_after(d, 1);
	simdev_set_drop_after(d, -1);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 1);
	simdev_set_drop_after(d, 0);
	xfer(d, 0x0a, a, 4, 0, &fr);
	assert_int_equal(fr.n, 0);
	simdev_free(d);
}

static void read_all(struct simdev *d, uint8_t *buf, size_t *n)
{
	*n = simdev_tx(d, UINT64_MAX - 1, buf, 4096);
}

static void test_simdev_corrupt_rate_is_seeded(void **state)
{
	struct simdev *d1 = mk(SIMDEV_CHIP_ESP32, 0), *d2 = mk(SIMDEV_CHIP_ESP32, 0), *d3 = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[4] = { 0, 0x10, 0, 0x40 };
	uint8_t b1[4096], b2[4096], b3[4096];
	size_t n1, n2, n3;

	(void)state;
	simdev_set_corrupt(d1, 0.2, 42);
	simdev_set_corrupt(d2, 0.2, 42);
	for (int i = 0; i < 20; i++) {
		send_req(d1, 0, 0x0a, a, 4, 0);
		send_req(d2, 0, 0x0a, a, 4, 0);
		send_req(d3, 0, 0x0a, a, 4, 0);
	}
	read_all(d1, b1, &n1);
	read_all(d2, b2, &n2);
	read_all(d3, b3, &n3);
	assert_int_equal(n1, n3);
	assert_int_equal(n2, n3);
	assert_memory_equal(b1, b2, n1); /* same seed, same flips */
	assert_memory_not_equal(b1, b3, n1);
	assert_true(simdev_stats(d1)->corrupted > 10);
	assert_int_equal(simdev_stats(d3)->corrupted, 0);
	simdev_free(d1);
	simdev_free(d2);
	simdev_free(d3);
}

static void test_simdev_garbage_between_responses(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t a[4] = { 0, 0x10, 0, 0x40 };
	struct frames fr;

	(void)state;
	simdev_set_garbage(d, 1);
	for (int i = 0; i < 4; i++)
		send_req(d, 0, 0x0a, a, 4, 0);
	collect(d, UINT64_MAX - 1, &fr);
	assert_int_equal(fr.n, 4); /* frames survive */
	assert_true(fr.noise_len >= 4 * 2);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(le_get32(fr.f[i] + 4), 0x00F01D83u);
	simdev_free(d);
}

static void test_simdev_inject_error_and_silence(void **state)
{
	struct simdev *d = mk(SIMDEV_CHIP_ESP32, 0);
	uint8_t blk[0x400];

	(void)state;
	memset(blk, 0x5A, sizeof(blk));
	attach(d, 4u << 20);
	flash_begin(d, 0x02, 4, 0x800, 2, 0x400, 0, 0, 0);
	simdev_inject(d, 0x03, 1, 0x08);
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 1, 0x08);
	assert_int_equal(simdev_flash(d, NULL)[0], 0xFF); /* not acted on */
	data_block(d, 0x03, blk, sizeof(blk), 0, 0, 0, 0);
	/* a lost response: no reply, nothing written; the retry works */
	simdev_inject(d, 0x03, 1, 0);
	{
		uint8_t a[16 + 0x400] = { 0 };
		struct frames fr;

		le_put32(a, 0x400);
		le_put32(a + 4, 1);
		memcpy(a + 16, blk, 0x400);
		xfer(d, 0x03, a, sizeof(a), csum(blk, 0x400), &fr);
		assert_int_equal(fr.n, 0);
	}
	data_block(d, 0x03, blk, sizeof(blk), 1, 0, 0, 0);
	assert_int_equal(simdev_flash(d, NULL)[0x400], 0x5A);
	simdev_free(d);
}

static void test_simdev_bad_config_rejected(void **state)
{
	struct simdev_config c;
	struct simdev *d = (struct simdev *)&c;
	struct simdev_err err;

	(void)state;
	simdev_config_default(&c);
	c.flash_size = 3u << 20;
	assert_int_equal(simdev_new(&c, &d, &err), SIMDEV_EINVAL);
	assert_null(d);
	assert_non_null(strstr(err.msg, "3145728"));
	simdev_config_default(&c);
	c.corrupt_rate = 2;
	assert_int_equal(simdev_new(&c, &d, &err), SIMDEV_EINVAL);
	simdev_config_default(&c);
	c.usb_jtag = 1; /* the ESP32 has no USB-Serial/JTAG */
	assert_int_equal(simdev_new(&c, &d, &err), SIMDEV_EINVAL);
	assert_non_null(strstr(err.msg, "USB"));
	simdev_free(NULL);
}

static void test_simdev_parsers(void **state)
{
	enum simdev_chip chip;
	size_t sz;

	(void)state;
	assert_int_equal(simdev_chip_parse("esp32s3", &chip), 0);
	assert_int_equal(chip, SIMDEV_CHIP_ESP32S3);
	assert_int_equal(simdev_chip_parse("esp32c3", &chip), 0);
	assert_int_equal(chip, SIMDEV_CHIP_ESP32C3);
	assert_int_equal(simdev_chip_parse("esp8266", &chip), SIMDEV_EINVAL);
	assert_int_equal(simdev_size_parse("4MB", &sz), 0);
	assert_int_equal(sz, 4u << 20);
	assert_int_equal(simdev_size_parse("512k", &sz), 0);
	assert_int_equal(sz, 512u << 10);
	assert_int_equal(simdev_size_parse("0x200000", &sz), 0);
	assert_int_equal(sz, 2u << 20);
	assert_int_equal(simdev_size_parse("4GB", &sz), SIMDEV_EINVAL);
	assert_int_equal(simdev_size_parse("-1", &sz), SIMDEV_EINVAL);
}

static void test_simdev_flash_file_backed(void **state)
{
	char path[] = "/tmp/simdev_test_XXXXXX";
	int fd = mkstemp(path);
	uint8_t *m = NULL;
	struct simdev_err err;
	FILE *f;
	uint8_t b[4];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(simdev_flash_map(path, 256 * 1024, &m, &err), 0);
	assert_int_equal(m[100], 0xFF);
	m[0] = 0x12;
	simdev_flash_unmap(m, 256 * 1024);
	/* wrong size for an existing file */
	assert_int_equal(simdev_flash_map(path, 512 * 1024, &m, &err), SIMDEV_EINVAL);
	assert_null(m);
	assert_non_null(strstr(err.msg, path));
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(b, 1, 4, f), 4);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(b[1], 0xFF);
	fclose(f);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simdev_sync_answers_eight_times),
		cmocka_unit_test(test_simdev_exact_wire_bytes),
		cmocka_unit_test(test_simdev_read_reg_magic_and_mac),
		cmocka_unit_test(test_simdev_mac_from_config),
		cmocka_unit_test(test_simdev_write_reg_masks_and_reads_back),
		cmocka_unit_test(test_simdev_uart_clkdiv_follows_baud),
		cmocka_unit_test(test_simdev_esp32_baud_needs_clock_correction),
		cmocka_unit_test(test_simdev_security_info_per_chip),
		cmocka_unit_test(test_simdev_security_flags_and_sdm),
		cmocka_unit_test(test_simdev_unknown_command_rejected_twice),
		cmocka_unit_test(test_simdev_flash_begin_word_count_per_chip),
		cmocka_unit_test(test_simdev_flash_size_defaults_to_2mb),
		cmocka_unit_test(test_simdev_flash_data_checksum_seq_and_nor),
		cmocka_unit_test(test_simdev_data_without_begin_fails),
		cmocka_unit_test(test_simdev_deflate_writes_image),
		cmocka_unit_test(test_simdev_deflate_past_region_fails),
		cmocka_unit_test(test_simdev_md5_is_ascii_hex),
		cmocka_unit_test(test_simdev_read_flash_slow_64_bytes),
		cmocka_unit_test(test_simdev_spi_rdid_via_registers),
		cmocka_unit_test(test_simdev_mem_refused_gracefully),
		cmocka_unit_test(test_simdev_flash_end_leaves_loader),
		cmocka_unit_test(test_simdev_defl_end_and_staying_loader),
		cmocka_unit_test(test_simdev_write_reg_delay_costs_time),
		cmocka_unit_test(test_simdev_timing_of_wire_and_flash),
		cmocka_unit_test(test_simdev_program_time_per_page),
		cmocka_unit_test(test_simdev_change_baud_reply_at_old_rate),
		cmocka_unit_test(test_simdev_classic_reset_enters_download),
		cmocka_unit_test(test_simdev_hard_reset_boots_app),
		cmocka_unit_test(test_simdev_drop_after_n_requests),
		cmocka_unit_test(test_simdev_corrupt_rate_is_seeded),
		cmocka_unit_test(test_simdev_garbage_between_responses),
		cmocka_unit_test(test_simdev_inject_error_and_silence),
		cmocka_unit_test(test_simdev_bad_config_rejected),
		cmocka_unit_test(test_simdev_parsers),
		cmocka_unit_test(test_simdev_flash_file_backed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
