/* ROM commands against exact bytes, over a scripted fake port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/le.h"
#include "espfab/rom.h"
#include "espfab/slip.h"
#include "test_rom_fakeport.h"

/* What the scripted device does; tests tweak it. */
struct script {
	unsigned sync_replies;  /* replies per SYNC (ROM: 8) */
	uint32_t sync_value;
	uint32_t reg_value;
	int silent;             /* answer nothing */
	int secinfo_len;        /* 20, 12, or 0 = reject (status 1 err 5, three times) */
	uint8_t fail_status, fail_err; /* non-zero: every other command fails so */
	int md5_text_bad;
	int stale_before;       /* queue a stale SYNC reply, a request-direction frame and text first */
	unsigned rejects_left;
	int booting;            /* the first SYNC is lost; the banner follows */
	int lose_flash_end;     /* READ_FLASH_SLOW: the reply's opening END is lost on the wire */
};

static void respond(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct script *s = fp->user;
	uint8_t cmd = req[1];

	assert_true(len >= 8);
	assert_int_equal(req[0], 0x00);
	assert_int_equal(req[2] | req[3] << 8, len - 8);
	if (s->silent)
		return;
	if (s->stale_before) {
		static const uint8_t foreign[] = {0xC0, 0x00, 0x0a, 0x04, 0x00, 1, 2, 3, 4, 9, 9, 9, 9, 0xC0};
		static const char text[] = "ets Jun  8 2016 00:22:57\r\nwaiting for download\r\n";
		fp_reply(fp, 0x08, 0x11111111, NULL, 0, 0, 0);
		fp_queue(fp, foreign, sizeof(foreign));
		fp_queue(fp, (const uint8_t *)text, strlen(text));
		fp_reply(fp, cmd == 0x0a ? 0x09 : 0x0a, 0x22222222, NULL, 0, 0, 0);
	}
	switch (cmd) {
	case ROM_CMD_SYNC:
		if (s->booting) {
			static const char banner[] = "ESP-ROM:esp32s3-20210327\r\nwaiting for download\r\n";
			s->booting = 0;
			fp_queue(fp, (const uint8_t *)banner, sizeof(banner) - 1);
			return;
		}
		for (unsigned i = 0; i < s->sync_replies; i++)
			fp_reply(fp, cmd, s->sync_value, NULL, 0, 0, 0);
		return;
	case ROM_CMD_GET_SECURITY_INFO: {
		uint8_t d[20] = {0x05, 0, 0, 0, 0x03, 1, 2, 3, 4, 5, 6, 7, 9, 0, 0, 0, 2, 0, 0, 0};
		if (s->secinfo_len == 0 || s->rejects_left) {
			if (s->rejects_left)
				s->rejects_left--;
			/* the ROM may answer an unknown command several times */
			for (int i = 0; i < 3; i++)
				fp_reply(fp, cmd, 0, NULL, 0, 0x01, 0x05);
			return;
		}
		fp_reply(fp, cmd, 0, d, (size_t)s->secinfo_len, 0, 0);
		return;
	}
	case ROM_CMD_SPI_FLASH_MD5: {
		const char *hex = s->md5_text_bad ? "zz0102030405060708090a0b0c0d0e0f"
						  : "000102030405060708090a0b0c0d0e0f";
		fp_reply(fp, cmd, 0, (const uint8_t *)hex, 32, s->fail_status, s->fail_err);
		return;
	}
	case ROM_CMD_READ_FLASH_SLOW: {
		static const char secret[] = "DeviceSecret=0123456789abcdef";
		uint8_t d[64];

		for (int i = 0; i < 64; i++)
			d[i] = (uint8_t)(le_get32(req + 8) + (uint32_t)i);
		if (s->lose_flash_end)
			memcpy(d, secret, sizeof(secret) - 1); /* an NVS string, as on a provisioned chip */
		fp_reply(fp, cmd, 0, d, sizeof(d), s->fail_status, s->fail_err);
		if (s->lose_flash_end) {
			/* fp_queue may compact rx: find the reply's opening END
			 * (escaped bytes hold none) back from its closing one */
			size_t at = fp->rx_len - 1;

			while (at > fp->rx_pos && fp->rx[at - 1] != 0xC0)
				at--;
			assert_true(at > fp->rx_pos);
			at--;
			memmove(fp->rx + at, fp->rx + at + 1, fp->rx_len - at - 1);
			fp->rx_len--;
		}
		return;
	}
	default:
		fp_reply(fp, cmd, s->reg_value, NULL, 0, s->fail_status, s->fail_err);
		return;
	}
}

struct fx {
	struct script s;
	struct fakeport *fp;
	struct rom *r;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->s.sync_replies = 8;
	x->s.sync_value = 0x20120707;
	x->s.reg_value = 0x00F01D83;
	x->s.secinfo_len = 20;
	x->fp = fp_new(respond, &x->s);
	assert_int_equal(rom_new(&x->fp->base, &x->r), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	rom_free(x->r);
	port_close(&x->fp->base);
	free(x);
	return 0;
}

static size_t last_req(struct fx *x, uint8_t *out, size_t cap)
{
	return fp_request(x->fp, x->fp->requests - 1, out, cap);
}

static void test_rom_build_request_header_and_checksum(void **state)
{
	(void)state;
	const uint8_t data[] = {0x01, 0x02, 0xEF};
	uint8_t out[16];
	const uint8_t want[] = {0x00, 0x03, 0x03, 0x00, 0xAA, 0xBB, 0xCC, 0xDD, 0x01, 0x02, 0xEF};

	assert_int_equal(rom_checksum(NULL, 0), 0xEF);
	assert_int_equal(rom_checksum(data, sizeof(data)), 0xEF ^ 0x01 ^ 0x02 ^ 0xEF);
	assert_int_equal(rom_build_request(0x03, data, 3, 0xDDCCBBAA, out), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static void test_rom_sync_exact_bytes_and_all_replies_drained(void **state)
{
	struct fx *x = *state;
	uint8_t want[8 + 36] = {0x00, 0x08, 36, 0x00, 0, 0, 0, 0, 0x07, 0x07, 0x12, 0x20};
	uint8_t req[128];
	uint32_t v = 0;

	memset(want + 12, 0x55, 32);
	assert_int_equal(rom_sync(x->r), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
	/* all eight replies consumed: nothing left for the next command */
	assert_int_equal(x->fp->rx_pos, x->fp->rx_len);
	x->s.reg_value = 0xCAFEF00D;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), 0);
	assert_int_equal(v, 0xCAFEF00D);
}

static void test_rom_sync_resent_when_the_rom_says_it_is_ready(void **state)
{
	struct fx *x = *state;
	uint64_t t0 = x->fp->now;

	x->s.booting = 1;
	assert_int_equal(rom_sync(x->r), 0);
	assert_int_equal(x->fp->requests, 2);
	/* no 100 ms timeout sat out: the banner triggered the second SYNC */
	assert_true(x->fp->now - t0 < ROM_SYNC_TIMEOUT_MS);
}

static void test_rom_sync_value_zero_is_a_stub(void **state)
{
	struct fx *x = *state;

	x->s.sync_value = 0;
	assert_int_equal(rom_sync(x->r), ROM_ESTUB);
	assert_int_equal(rom_diag(x->r)->error, ROM_ESTUB);
}

static void test_rom_sync_silence_times_out_at_100ms(void **state)
{
	struct fx *x = *state;
	uint64_t t0 = x->fp->now;

	x->s.silent = 1;
	assert_int_equal(rom_sync(x->r), ROM_ETIMEDOUT);
	assert_int_equal(x->fp->now - t0, ROM_SYNC_TIMEOUT_MS);
	assert_int_equal(rom_diag(x->r)->last_cmd, ROM_CMD_SYNC);
}

static void test_rom_read_reg_exact_bytes_skips_stale_frames_keeps_bootlog(void **state)
{
	struct fx *x = *state;
	const uint8_t want[] = {0x00, 0x0a, 0x04, 0x00, 0, 0, 0, 0, 0x00, 0x10, 0x00, 0x40};
	uint8_t req[64];
	uint32_t v = 0;

	x->s.stale_before = 1;
	x->s.reg_value = 0x000007C6;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), 0);
	assert_int_equal(v, 0x000007C6);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
	assert_int_equal(rom_stats(x->r)->stale, 3);
	/* the text is kept for diagnostics */
	x->s.stale_before = 0;
	x->s.silent = 1;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), ROM_ETIMEDOUT);
	assert_non_null(strstr(rom_diag(x->r)->boot_log, "waiting for download"));
}

static void test_rom_write_reg_exact_bytes(void **state)
{
	struct fx *x = *state;
	const uint8_t want[] = {0x00, 0x09, 0x10, 0x00, 0, 0, 0, 0, 0xB0, 0x80, 0x00, 0x60,
				0xA1, 0x3A, 0xD8, 0x50, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
	uint8_t req[64];

	assert_int_equal(rom_write_reg(x->r, 0x600080B0, 0x50D83AA1), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
}

static void test_rom_status_read_at_data_length_not_len_minus_2(void **state)
{
	struct fx *x = *state;
	/* status 0,0 then reserved bytes 0x01 0x05: a "len - 2" reader would
	 * see a failure (status 1, error 5) */
	uint8_t raw[] = {0x01, 0x0a, 0x04, 0x00, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x01, 0x05};
	uint8_t enc[64];
	struct rom_response resp;

	assert_int_equal(rom_parse_response(raw, sizeof(raw), 0x0a, 0, &resp), 0);
	assert_int_equal(resp.status, 0);
	assert_int_equal(resp.value, 0x12345678);
	/* and through the client */
	x->s.silent = 1;
	fp_queue(x->fp, enc, slip_encode(raw, sizeof(raw), enc));
	uint32_t v = 0;
	assert_int_equal(rom_read_reg(x->r, 0, &v), 0);
	assert_int_equal(v, 0x12345678);
}

static void test_rom_parse_response_rejects_and_discards(void **state)
{
	(void)state;
	struct rom_response resp;
	const uint8_t req_dir[] = {0x00, 0x0a, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t other[] = {0x01, 0x09, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t badlen[] = {0x01, 0x0a, 0x09, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t nostatus[] = {0x01, 0x0a, 0x00, 0x00, 0, 0, 0, 0};
	const uint8_t short_md5_fail[] = {0x01, 0x13, 0x04, 0x00, 0, 0, 0, 0, 0x01, 0x06, 0, 0};

	assert_int_equal(rom_parse_response(req_dir, sizeof(req_dir), 0x0a, 0, &resp), 1);
	assert_int_equal(rom_parse_response(other, sizeof(other), 0x0a, 0, &resp), 1);
	assert_int_equal(rom_parse_response(other, 7, 0x09, 0, &resp), 1);
	assert_int_equal(rom_parse_response(badlen, sizeof(badlen), 0x0a, 0, &resp), ROM_EPROTO);
	assert_int_equal(rom_parse_response(nostatus, sizeof(nostatus), 0x0a, 0, &resp), ROM_EPROTO);
	/* a failure reply without the 32 data bytes still carries the status */
	assert_int_equal(rom_parse_response(short_md5_fail, sizeof(short_md5_fail), 0x13, 32, &resp), 0);
	assert_int_equal(resp.status, 1);
	assert_int_equal(resp.rom_error, 6);
}

static void test_rom_failure_status_and_error_kept_verbatim(void **state)
{
	struct fx *x = *state;

	x->s.fail_status = 0x01;
	x->s.fail_err = 0x08;
	assert_int_equal(rom_flash_begin(x->r, 0, 0x6000, 24, 0x400, 0x9000, 0, 3000), ROM_EFAILED);
	const struct rom_diag *d = rom_diag(x->r);
	assert_int_equal(d->error, ROM_EFAILED);
	assert_int_equal(d->last_cmd, ROM_CMD_FLASH_BEGIN);
	assert_true(d->have_status);
	assert_int_equal(d->status, 0x01);
	assert_int_equal(d->rom_error, 0x08);
	assert_non_null(strstr(d->msg, "flash write error"));
	assert_non_null(strstr(d->msg, "FLASH_BEGIN"));
}

static void test_rom_unsupported_command_errors_drained(void **state)
{
	struct fx *x = *state;
	struct rom_security sec;

	x->s.secinfo_len = 0;
	assert_int_equal(rom_get_security_info(x->r, &sec), ROM_EUNSUPPORTED);
	assert_int_equal(rom_diag(x->r)->rom_error, 0x05);
	/* the two extra error replies must not answer the next request */
	x->s.secinfo_len = 20;
	assert_int_equal(rom_get_security_info(x->r, &sec), 0);
	assert_true(sec.have_chip_id);
	assert_int_equal(sec.chip_id, 9);
}

static void test_rom_late_reply_after_timeout_is_not_taken(void **state)
{
	struct fx *x = *state;
	uint32_t v = 0;
	uint64_t t0 = x->fp->now;

	x->s.silent = 1;
	assert_int_equal(rom_read_reg(x->r, 0x1000, &v), ROM_ETIMEDOUT);
	assert_int_equal(x->fp->now - t0, ROM_DEFAULT_TIMEOUT_MS); /* exactly its deadline */
	/* the old reply turns up late */
	fp_reply(x->fp, ROM_CMD_READ_REG, 0xBAD0BAD0, NULL, 0, 0, 0);
	x->s.silent = 0;
	x->s.reg_value = 0x600D600D;
	assert_int_equal(rom_read_reg(x->r, 0x1000, &v), 0);
	assert_int_equal(v, 0x600D600D);
}

/* A device that answers every request with endless text (no frame) still
 * gets a timeout at the deadline. */
static void noise_responder(struct fakeport *fp, const uint8_t *req, size_t len)
{
	(void)req;
	(void)len;
	for (int i = 0; i < 200; i++)
		fp_queue(fp, (const uint8_t *)"garbage garbage garbage garbage\r\n", 33);
}

static void test_rom_streaming_noise_still_times_out(void **state)
{
	struct fx *x = *state;
	uint32_t v;

	x->fp->respond = noise_responder;
	x->fp->latency_ms = 0;
	/* every read hands over 32 bytes and costs 20 virtual ms */
	x->fp->read_cost_ms = 20;
	assert_int_equal(rom_read_reg(x->r, 0, &v), ROM_ETIMEDOUT);
	assert_true(x->fp->now - 1000 <= ROM_DEFAULT_TIMEOUT_MS + 40);
}

static void test_rom_flash_begin_four_and_five_words(void **state)
{
	struct fx *x = *state;
	const uint8_t want4[] = {0x00, 0x02, 16, 0, 0, 0, 0, 0, 0x00, 0x60, 0, 0, 24, 0, 0, 0,
				 0x00, 0x04, 0, 0, 0x00, 0x90, 0, 0};
	const uint8_t want5[] = {0x00, 0x10, 20, 0, 0, 0, 0, 0, 0x00, 0x60, 0, 0, 1, 0, 0, 0,
				 0x00, 0x04, 0, 0, 0x00, 0x90, 0, 0, 0, 0, 0, 0};
	uint8_t req[64];

	assert_int_equal(rom_flash_begin(x->r, 0, 0x6000, 24, 0x400, 0x9000, 0, 3000), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want4));
	assert_memory_equal(req, want4, sizeof(want4));
	assert_int_equal(rom_flash_begin(x->r, 1, 0x6000, 1, 0x400, 0x9000, 1, 3000), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want5));
	assert_memory_equal(req, want5, sizeof(want5));
}

static void test_rom_flash_data_header_seq_and_payload_checksum(void **state)
{
	struct fx *x = *state;
	uint8_t block[ROM_FLASH_BLOCK], req[2048];
	uint8_t chk = 0xEF;

	for (size_t i = 0; i < sizeof(block); i++) {
		block[i] = (uint8_t)(i * 7 + 0xC0); /* plenty of bytes needing SLIP escapes */
		chk ^= block[i];
	}
	assert_int_equal(rom_flash_data(x->r, 0, block, sizeof(block), 5, 3000), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), 8 + 16 + sizeof(block));
	assert_int_equal(req[1], ROM_CMD_FLASH_DATA);
	assert_int_equal(req[2] | req[3] << 8, 16 + sizeof(block));
	assert_int_equal(le_get32(req + 4), chk); /* payload only, not the 16-byte header */
	assert_int_equal(le_get32(req + 8), sizeof(block));
	assert_int_equal(le_get32(req + 12), 5);
	assert_int_equal(le_get32(req + 16), 0);
	assert_int_equal(le_get32(req + 20), 0);
	assert_memory_equal(req + 24, block, sizeof(block));
	assert_int_equal(rom_flash_data(x->r, 1, block, 10, 0, 3000), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), 8 + 16 + 10);
	assert_int_equal(req[1], ROM_CMD_FLASH_DEFL_DATA);
	assert_int_equal(rom_flash_data(x->r, 1, block, ROM_FLASH_BLOCK + 1, 0, 3000), ROM_EINVAL);
}

static void test_rom_md5_hex_reply(void **state)
{
	struct fx *x = *state;
	const uint8_t want_req[] = {0x00, 0x13, 16, 0, 0, 0, 0, 0, 0x00, 0x90, 0, 0, 0x00, 0x60, 0, 0,
				    0, 0, 0, 0, 0, 0, 0, 0};
	uint8_t md5[16], req[64];

	assert_int_equal(rom_flash_md5(x->r, 0x9000, 0x6000, md5), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(md5[i], i);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want_req));
	assert_memory_equal(req, want_req, sizeof(want_req));
	x->s.md5_text_bad = 1;
	assert_int_equal(rom_flash_md5(x->r, 0x9000, 0x6000, md5), ROM_EPROTO);
}

static void test_rom_read_flash_slow_request_and_data(void **state)
{
	struct fx *x = *state;
	const uint8_t want[] = {0x00, 0x0e, 8, 0, 0, 0, 0, 0, 0x40, 0x80, 0, 0, 64, 0, 0, 0};
	uint8_t buf[64], req[64];

	assert_int_equal(rom_read_flash_slow(x->r, 0x8040, buf, 64), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf[i], (uint8_t)(0x40 + i));
	assert_int_equal(rom_read_flash_slow(x->r, 0, buf, 65), ROM_EINVAL);
	x->s.fail_status = 1;
	x->s.fail_err = 0x09;
	assert_int_equal(rom_read_flash_slow(x->r, 0, buf, 64), ROM_EFAILED);
	assert_int_equal(rom_diag(x->r)->rom_error, 0x09);
}

/* A lost opening END turns a reply into "text the chip printed": flash
 * bytes read back (NVS values) must not reach boot_log, which operators
 * see in errors and in `espfab flash --json`. */
static void test_rom_read_flash_payload_never_becomes_boot_log(void **state)
{
	struct fx *x = *state;
	uint8_t buf[64];
	uint32_t v;

	x->s.lose_flash_end = 1;
	assert_int_not_equal(rom_read_flash_slow(x->r, 0x9000, buf, 64), 0);
	assert_null(strstr(rom_diag(x->r)->boot_log, "0123456789abcdef"));
	assert_null(strstr(rom_diag(x->r)->boot_log, "DeviceSecret"));
	/* text outside frames is kept again for the next command */
	x->s.lose_flash_end = 0;
	x->s.stale_before = 1;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), 0);
	x->s.stale_before = 0;
	x->s.silent = 1;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), ROM_ETIMEDOUT);
	assert_non_null(strstr(rom_diag(x->r)->boot_log, "waiting for download"));
	assert_null(strstr(rom_diag(x->r)->boot_log, "DeviceSecret"));
	/* the same reply arriving after the timeout is drained before the next
	 * command: still not text */
	x->s.silent = 0;
	x->s.lose_flash_end = 1;
	x->fp->latency_ms = ROM_DEFAULT_TIMEOUT_MS + 100;
	assert_int_equal(rom_read_flash_slow(x->r, 0x9000, buf, 64), ROM_ETIMEDOUT);
	x->fp->latency_ms = 0;
	x->s.silent = 1;
	assert_int_equal(rom_read_reg(x->r, 0x40001000, &v), ROM_ETIMEDOUT);
	assert_null(strstr(rom_diag(x->r)->boot_log, "DeviceSecret"));
	assert_null(strstr(rom_diag(x->r)->boot_log, "0123456789abcdef"));
}

static void test_rom_security_info_20_and_12_bytes(void **state)
{
	struct fx *x = *state;
	struct rom_security s;
	const uint8_t want[] = {0x00, 0x14, 0, 0, 0, 0, 0, 0};
	uint8_t req[16];

	assert_int_equal(rom_get_security_info(x->r, &s), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
	assert_int_equal(s.flags, 5);
	assert_true(s.flags & ROM_SEC_SECURE_BOOT);
	assert_true(s.flags & ROM_SEC_SECURE_DOWNLOAD);
	assert_int_equal(s.flash_crypt_cnt, 3);
	assert_false(rom_security_flash_encrypted(&s)); /* two bits set: even */
	assert_int_equal(s.key_purposes[6], 7);
	assert_int_equal(s.chip_id, 9);
	assert_int_equal(s.api_version, 2);
	x->s.secinfo_len = 12;
	assert_int_equal(rom_get_security_info(x->r, &s), 0);
	assert_false(s.have_chip_id);
	x->s.secinfo_len = 7;
	assert_int_equal(rom_get_security_info(x->r, &s), ROM_EPROTO);
}

static void test_rom_attach_and_set_params_exact_bytes(void **state)
{
	struct fx *x = *state;
	const uint8_t attach[] = {0x00, 0x0d, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t params[] = {0x00, 0x0b, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0,
				  0, 0, 1, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0xFF, 0xFF, 0, 0};
	uint8_t req[64];

	assert_int_equal(rom_spi_attach(x->r), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(attach));
	assert_memory_equal(req, attach, sizeof(attach));
	assert_int_equal(rom_spi_set_params(x->r, 4 * 1024 * 1024), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(params));
	assert_memory_equal(req, params, sizeof(params));
}

static void test_rom_change_baud_switches_host_after_reply(void **state)
{
	struct fx *x = *state;
	const uint8_t want[] = {0x00, 0x0f, 8, 0, 0, 0, 0, 0, 0x00, 0x10, 0x0e, 0x00, 0, 0, 0, 0};
	uint8_t req[64];
	uint64_t t0 = x->fp->now;

	assert_int_equal(rom_change_baud(x->r, 921600, 921600), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
	assert_int_equal(x->fp->base.baud, 921600);
	assert_true(x->fp->now - t0 >= 2); /* waited for a quiet line */
	assert_true(x->fp->flushes >= 1);
}

static void test_rom_flash_end_only_on_request_no_wait(void **state)
{
	struct fx *x = *state;
	const uint8_t want[] = {0x00, 0x04, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	uint8_t req[64];

	x->s.silent = 1;
	assert_int_equal(rom_flash_end(x->r, 0, 1, 0), 0);
	assert_int_equal(last_req(x, req, sizeof(req)), sizeof(want));
	assert_memory_equal(req, want, sizeof(want));
}

static void test_rom_cancelled_port_returns_promptly(void **state)
{
	struct fx *x = *state;
	uint32_t v;
	uint64_t t0 = x->fp->now;

	x->s.silent = 1;
	port_cancel(&x->fp->base);
	assert_int_equal(rom_read_reg(x->r, 0, &v), ROM_ECANCELED);
	assert_int_equal(x->fp->now, t0);
	assert_int_equal(rom_sync(x->r), ROM_ECANCELED);
}

static void test_rom_device_gone_is_enodev(void **state)
{
	struct fx *x = *state;
	uint32_t v;

	x->fp->gone = 1;
	assert_int_equal(rom_read_reg(x->r, 0, &v), ROM_ENODEV);
	assert_int_equal(rom_diag(x->r)->error, ROM_ENODEV);
}

static void test_rom_timeouts_scale_with_size(void **state)
{
	(void)state;
	assert_int_equal(rom_erase_timeout_ms(24 * 1024), 3000);
	assert_int_equal(rom_erase_timeout_ms(4 * 1024 * 1024), 160000);
	assert_int_equal(rom_md5_timeout_ms(1024 * 1024), 8000);
	assert_int_equal(rom_md5_timeout_ms(100), 3000);
}

static void test_rom_strerror_distinct(void **state)
{
	(void)state;
	for (int a = ROM_EPORT; a <= 0; a++)
		for (int b = ROM_EPORT; b < a; b++)
			assert_string_not_equal(rom_strerror(a), rom_strerror(b));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rom_build_request_header_and_checksum),
		T(test_rom_sync_exact_bytes_and_all_replies_drained),
		T(test_rom_sync_resent_when_the_rom_says_it_is_ready),
		T(test_rom_sync_value_zero_is_a_stub),
		T(test_rom_sync_silence_times_out_at_100ms),
		T(test_rom_read_reg_exact_bytes_skips_stale_frames_keeps_bootlog),
		T(test_rom_write_reg_exact_bytes),
		T(test_rom_status_read_at_data_length_not_len_minus_2),
		cmocka_unit_test(test_rom_parse_response_rejects_and_discards),
		T(test_rom_failure_status_and_error_kept_verbatim),
		T(test_rom_unsupported_command_errors_drained),
		T(test_rom_late_reply_after_timeout_is_not_taken),
		T(test_rom_streaming_noise_still_times_out),
		T(test_rom_flash_begin_four_and_five_words),
		T(test_rom_flash_data_header_seq_and_payload_checksum),
		T(test_rom_md5_hex_reply),
		T(test_rom_read_flash_slow_request_and_data),
		T(test_rom_read_flash_payload_never_becomes_boot_log),
		T(test_rom_security_info_20_and_12_bytes),
		T(test_rom_attach_and_set_params_exact_bytes),
		T(test_rom_change_baud_switches_host_after_reply),
		T(test_rom_flash_end_only_on_request_no_wait),
		T(test_rom_cancelled_port_returns_promptly),
		T(test_rom_device_gone_is_enodev),
		cmocka_unit_test(test_rom_timeouts_scale_with_size),
		cmocka_unit_test(test_rom_strerror_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
