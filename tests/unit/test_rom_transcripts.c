/* Replays of real ROM replies: every frame below is copied byte for byte
 * from a published `esptool.py --trace` log of a real board ("Received full
 * packet: ..." lines), cited next to it. The scripted port answers each
 * request with the recorded frames; the client must read them as the chip
 * meant them. See docs/rom-behaviour.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/chip.h"
#include "espfab/flashop.h"
#include "espfab/le.h"
#include "espfab/rom.h"
#include "espfab/slip.h"
#include "test_rom_fakeport.h"

#define MAX_FRAMES 10

/* What the chip answers to one request command: hex frames (SLIP-decoded),
 * queued in order. */
struct answer {
	uint8_t cmd;
	const char *frames[MAX_FRAMES];
};

struct replay {
	const struct answer *answers;
	size_t n;
	unsigned unanswered;
};

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1] && n < cap) {
		unsigned v;
		char b[3] = {s[0], s[1], 0};

		v = (unsigned)strtoul(b, NULL, 16);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void replay_respond(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct replay *rp = fp->user;

	if (len < 8)
		return;
	for (size_t i = 0; i < rp->n; i++) {
		if (rp->answers[i].cmd != req[1])
			continue;
		for (size_t k = 0; k < MAX_FRAMES && rp->answers[i].frames[k]; k++) {
			uint8_t raw[600], enc[SLIP_ENCODED_MAX(600)];
			size_t n = unhex(rp->answers[i].frames[k], raw, sizeof(raw));

			fp_queue(fp, enc, slip_encode(raw, n, enc));
		}
		return;
	}
	rp->unanswered++;
}

/* A ROM context over a port that answers with the recorded frames. */
static struct rom *replay_rom(struct replay *rp, struct fakeport **fp)
{
	struct rom *r = NULL;

	*fp = fp_new(replay_respond, rp);
	assert_int_equal(rom_new(&(*fp)->base, &r), 0);
	return r;
}

static void replay_close(struct rom *r, struct fakeport *fp)
{
	rom_free(r);
	port_close(&fp->base);
}

/* esptool#352 (ESP32, "Error code 01050000"): the ROM's SYNC replies carry a
 * non-zero value (here 0x55552007) and 4 status bytes. */
static const char sync_352[] = "010804000720555500000000";

static void test_rom_transcripts_sync_replies_of_a_real_esp32(void **state)
{
	static const struct answer a[] = {
		{0x08, {sync_352, sync_352, sync_352, sync_352, sync_352, sync_352, sync_352, sync_352}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);

	(void)state;
	assert_int_equal(rom_sync(r), 0);
	/* all eight taken now: the next command's reply is not a SYNC one */
	assert_int_equal(fp->rx_len - fp->rx_pos, 0);
	replay_close(r, fp);
}

/* esptool#921 (ESP32-D0WD): READ_REG of the magic register 0x40001000
 * answered 0x00F01D83; READ_REG 0x3FF5A00C answered 0x0000A200. */
static void test_rom_transcripts_esp32_read_reg(void **state)
{
	static const struct answer a[] = {
		{0x0a, {"010a0400831df00000000000"}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	uint32_t v = 0;

	(void)state;
	assert_int_equal(rom_read_reg(r, 0x40001000u, &v), 0);
	assert_int_equal(v, 0x00F01D83u);
	assert_ptr_equal(chip_by_magic(v), chip_by_id(CHIP_ESP32));
	replay_close(r, fp);
}

/* esptool-js#141 (ESP32-S2): GET_SECURITY_INFO answered with length 0x10:
 * 12 bytes of data (flags, FLASH_CRYPT_CNT, 7 key purposes, no chip id)
 * and 4 status bytes. */
static void test_rom_transcripts_s2_security_info_is_12_bytes(void **state)
{
	static const struct answer a[] = {
		{0x14, {"011410000000000000000000000000000000000000000000"}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	struct rom_security s;

	(void)state;
	assert_int_equal(rom_get_security_info(r, &s), 0);
	assert_false(s.have_chip_id);
	assert_int_equal(s.flags, 0);
	replay_close(r, fp);
}

/* esptool#620 (ESP8266): its ROM sends 2 status bytes, and the magic
 * register reads 0xFFF0C101. */
static void test_rom_transcripts_esp8266_magic_two_status_bytes(void **state)
{
	static const struct answer a[] = {
		{0x0a, {"010a020001c1f0ff0000"}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	uint32_t v = 0;

	(void)state;
	assert_int_equal(rom_read_reg(r, 0x40001000u, &v), 0);
	assert_int_equal(v, 0xFFF0C101u);
	assert_false(chip_by_magic(v)->supported);
	replay_close(r, fp);
}

/* esptool#1119 (ESP32-C3 behind a Pico UART bridge): READ_REG of the MAC
 * eFuse word 0x60008844 answered 0xC25278EE. */
static void test_rom_transcripts_c3_mac_word(void **state)
{
	static const struct answer a[] = {
		{0x0a, {"010a0400ee7852c200000000"}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	uint32_t v = 0;

	(void)state;
	assert_int_equal(rom_read_reg(r, chip_by_id(CHIP_ESP32C3)->mac_reg, &v), 0);
	assert_int_equal(v, 0xC25278EEu);
	replay_close(r, fp);
}

/* The ESP32 ROM answers a command it does not know under its last response
 * header: after the SYNC above, GET_SECURITY_INFO gets the SYNC's command
 * byte and value with status 01 05 (the behaviour esptool's command()
 * reads as UnsupportedCommandError). The client must call that
 * "unsupported" at once, not wait for a reply with 0x14 until its
 * deadline. */
static void test_rom_transcripts_esp32_unknown_command_stale_header(void **state)
{
	static const struct answer a[] = {
		{0x08, {sync_352, sync_352, sync_352, sync_352, sync_352, sync_352, sync_352, sync_352}},
		{0x14, {"010804000720555501050000", "010804000720555501050000"}},
	};
	struct replay rp = {a, 2, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	struct rom_security s;
	uint64_t t0;

	(void)state;
	assert_int_equal(rom_sync(r), 0);
	t0 = fp->now;
	assert_int_equal(rom_get_security_info(r, &s), ROM_EUNSUPPORTED);
	/* decided on the reply, not on the 3 s deadline */
	assert_true(fp->now - t0 < ROM_DEFAULT_TIMEOUT_MS);
	assert_int_equal(rom_diag(r)->status, 0x01);
	assert_int_equal(rom_diag(r)->rom_error, 0x05);
	assert_non_null(strstr(rom_diag(r)->msg, "not supported"));
	assert_non_null(strstr(rom_diag(r)->msg, "SYNC"));
	assert_int_equal(rom_stats(r)->unsupported, 1);
	replay_close(r, fp);
}

/* A stale reply of another command that is not 01 05 stays a stale reply:
 * the client keeps waiting for its own (here it then comes). */
static void test_rom_transcripts_other_stale_reply_is_skipped(void **state)
{
	static const struct answer a[] = {
		{0x0a, {sync_352, "010a0400831df00000000000"}},
	};
	struct replay rp = {a, 1, 0};
	struct fakeport *fp;
	struct rom *r = replay_rom(&rp, &fp);
	uint32_t v = 0;

	(void)state;
	assert_int_equal(rom_read_reg(r, 0x40001000u, &v), 0);
	assert_int_equal(v, 0x00F01D83u);
	assert_int_equal(rom_stats(r)->stale, 1);
	replay_close(r, fp);
}

/* Whole identification of an ESP32 over recorded frames: SYNC replies and
 * the magic register from the transcripts above, the other registers
 * answered in the same format. GET_SECURITY_INFO gets the ROM's real
 * answer to an unknown command, and afterwards (as on the chip) nothing
 * but SYNC is answered: a client that asks it fails; the client must not. */
struct esp32_rom {
	int need_sync;
	unsigned secinfo_asked;
};

static void esp32_respond(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct esp32_rom *e = fp->user;
	uint8_t raw[64], enc[SLIP_ENCODED_MAX(64)];
	size_t n;
	uint32_t addr, v = 0;

	if (len < 8)
		return;
	if (req[1] == 0x08) {
		e->need_sync = 0;
		for (int i = 0; i < 8; i++) {
			n = unhex(sync_352, raw, sizeof(raw));
			fp_queue(fp, enc, slip_encode(raw, n, enc));
		}
		return;
	}
	if (e->need_sync)
		return;
	switch (req[1]) {
	case 0x14:
		e->secinfo_asked++;
		e->need_sync = 1;
		n = unhex("010804000720555501050000", raw, sizeof(raw));
		fp_queue(fp, enc, slip_encode(raw, n, enc));
		fp_queue(fp, enc, slip_encode(raw, n, enc));
		return;
	case 0x0a:
		addr = le_get32(req + 8);
		if (addr == 0x40001000u)
			v = 0x00F01D83u; /* esptool#921 */
		else if (addr == 0x3FF5A004u)
			v = 0xc4000001u; /* MAC 24:0a:c4:00:00:01 (block 0 words 1, 2) */
		else if (addr == 0x3FF5A008u)
			v = 0x0042240au; /* CRC byte on top: not MAC */
		else if (addr == 0x3FF42080u)
			v = 0x001640EFu; /* SPI W0 after RDID: 4 MiB Winbond */
		fp_reply(fp, 0x0a, v, NULL, 0, 0, 0);
		return;
	default:
		fp_reply(fp, req[1], 0, NULL, 0, 0, 0);
		return;
	}
}

static void test_rom_transcripts_esp32_identified_without_security_info(void **state)
{
	struct esp32_rom e = {0, 0};
	struct fakeport *fp = fp_new(esp32_respond, &e);
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	const struct flashop_info *in;

	(void)state;
	fp->no_lines = 1; /* strapped fixture: no reset lines */
	flashop_options_init(&o);
	o.before = RESET_MODE_NONE;
	assert_int_equal(flashop_attach(&fp->base, &o, &f, &d), 0);
	in = flashop_info(f);
	assert_ptr_equal(in->chip, chip_by_id(CHIP_ESP32));
	assert_int_equal(e.secinfo_asked, 0);
	assert_true(in->mac_valid);
	assert_int_equal(in->mac[0], 0x24);
	assert_int_equal(in->mac[5], 0x01);
	assert_int_equal(in->flash_size, 4u * 1024 * 1024);
	assert_false(in->flash_encrypted);
	assert_int_equal(flashop_stats(f)->unsupported, 0);
	assert_int_equal(flashop_stats(f)->retries, 0);
	flashop_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rom_transcripts_sync_replies_of_a_real_esp32),
		cmocka_unit_test(test_rom_transcripts_esp32_read_reg),
		cmocka_unit_test(test_rom_transcripts_s2_security_info_is_12_bytes),
		cmocka_unit_test(test_rom_transcripts_esp8266_magic_two_status_bytes),
		cmocka_unit_test(test_rom_transcripts_c3_mac_word),
		cmocka_unit_test(test_rom_transcripts_esp32_unknown_command_stale_header),
		cmocka_unit_test(test_rom_transcripts_other_stale_reply_is_skipped),
		cmocka_unit_test(test_rom_transcripts_esp32_identified_without_security_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
