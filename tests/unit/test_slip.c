#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/slip.h"

static void test_slip_encode_escapes(void **state)
{
	(void)state;
	const uint8_t in[] = {0x01, 0xC0, 0x02, 0xDB, 0x03};
	const uint8_t want[] = {0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0};
	uint8_t out[SLIP_ENCODED_MAX(sizeof(in))];

	size_t n = slip_encode(in, sizeof(in), out);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
}

static enum slip_status feed_all(struct slip_decoder *d, const uint8_t *b, size_t n, int *frames)
{
	enum slip_status last = SLIP_MORE;
	for (size_t i = 0; i < n; i++) {
		last = slip_feed(d, b[i]);
		if (last == SLIP_FRAME && frames)
			(*frames)++;
	}
	return last;
}

static void test_slip_decode_roundtrip_first_byte_escaped(void **state)
{
	(void)state;
	const uint8_t in[] = {0xC0, 0xDB, 0x00, 0xFF};
	uint8_t enc[SLIP_ENCODED_MAX(sizeof(in))], buf[64];
	struct slip_decoder d;
	size_t n = slip_encode(in, sizeof(in), enc);

	slip_decoder_init(&d, buf, sizeof(buf));
	assert_int_equal(feed_all(&d, enc, n, NULL), SLIP_FRAME);
	assert_int_equal(d.len, sizeof(in));
	assert_memory_equal(d.buf, in, sizeof(in));
}

static void test_slip_decode_skips_bootlog_and_empty_frames(void **state)
{
	(void)state;
	const char *log = "rst:0x1 (POWERON_RESET)\r\nwaiting for download\r\n";
	const uint8_t frame[] = {0xC0, 0xC0, 0xC0, 0x01, 0x08, 0xC0};
	uint8_t buf[64];
	char tail[128];
	int frames = 0;
	struct slip_decoder d;

	slip_decoder_init(&d, buf, sizeof(buf));
	feed_all(&d, (const uint8_t *)log, strlen(log), &frames);
	feed_all(&d, frame, sizeof(frame), &frames);
	assert_int_equal(frames, 1);
	assert_int_equal(d.len, 2);
	slip_noise_tail(&d, tail, sizeof(tail));
	assert_non_null(strstr(tail, "waiting for download"));
}

static void test_slip_decode_overflow_then_resync(void **state)
{
	(void)state;
	uint8_t buf[4];
	const uint8_t big[] = {0xC0, 1, 2, 3, 4, 5, 0xC0, 0xC0, 9, 0xC0};
	struct slip_decoder d;
	int frames = 0, overflow = 0;

	slip_decoder_init(&d, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(big); i++) {
		enum slip_status s = slip_feed(&d, big[i]);
		frames += s == SLIP_FRAME;
		overflow += s == SLIP_EOVERFLOW;
	}
	assert_int_equal(overflow, 1);
	assert_int_equal(frames, 1);
	assert_int_equal(d.len, 1);
	assert_int_equal(d.buf[0], 9);
}

static void test_slip_decode_bad_escape_drops_frame(void **state)
{
	(void)state;
	uint8_t buf[16];
	const uint8_t bad[] = {0xC0, 1, 0xDB, 0x05, 2, 0xC0, 0xC0, 7, 0xC0};
	struct slip_decoder d;
	int frames = 0, bad_esc = 0;

	slip_decoder_init(&d, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(bad); i++) {
		enum slip_status s = slip_feed(&d, bad[i]);
		frames += s == SLIP_FRAME;
		bad_esc += s == SLIP_EBADESC;
	}
	assert_int_equal(bad_esc, 1);
	assert_int_equal(frames, 1);
	assert_int_equal(d.buf[0], 7);
}

/* Replay: a broken frame followed by boot-log text, then a good frame.
 * Before the fix the broken frame's closing END opened a frame, the text
 * became a "frame" and the good frame was swallowed as text. */
static void test_slip_decode_bad_frame_then_text_keeps_next_frame(void **state)
{
	(void)state;
	uint8_t buf[4];
	const uint8_t in[] = {0xC0, 1, 0xDB, 0x05, 2, 0xC0, 'o', 'k', 0xC0, 7, 0xC0,
			      0xC0, 1, 2, 3, 4, 5, 6, 0xC0, 'x', 0xC0, 8, 0xC0};
	struct slip_decoder d;
	uint8_t got[4];
	int frames = 0;
	char tail[32];

	slip_decoder_init(&d, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(in); i++)
		if (slip_feed(&d, in[i]) == SLIP_FRAME) {
			assert_int_equal(d.len, 1);
			got[frames++] = d.buf[0];
		}
	assert_int_equal(frames, 2);
	assert_int_equal(got[0], 7);
	assert_int_equal(got[1], 8);
	slip_noise_tail(&d, tail, sizeof(tail));
	assert_string_equal(tail, "okx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slip_encode_escapes),
		cmocka_unit_test(test_slip_decode_roundtrip_first_byte_escaped),
		cmocka_unit_test(test_slip_decode_skips_bootlog_and_empty_frames),
		cmocka_unit_test(test_slip_decode_overflow_then_resync),
		cmocka_unit_test(test_slip_decode_bad_escape_drops_frame),
		cmocka_unit_test(test_slip_decode_bad_frame_then_text_keeps_next_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
