/* Reset sequences: the exact DTR/RTS levels and their timing, and the
 * watchdog register writes, over the scripted fake port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/le.h"
#include "espfab/reset.h"
#include "test_rom_fakeport.h"

struct regop {
	uint8_t cmd;
	uint32_t addr, value;
};

struct regs {
	struct regop ops[32];
	unsigned n;
	uint32_t read_value;
	int silent_after; /* stop answering after this many ops (0 = never) */
};

static void respond(struct fakeport *fp, const uint8_t *req, size_t len)
{
	struct regs *r = fp->user;

	(void)len;
	if (r->n < 32)
		r->ops[r->n++] = (struct regop){req[1], le_get32(req + 8), req[1] == 0x09 ? le_get32(req + 12) : 0};
	if (r->silent_after && r->n > (unsigned)r->silent_after)
		return;
	fp_reply(fp, req[1], req[1] == 0x0a ? r->read_value : 0, NULL, 0, 0, 0);
}

static void expect_lines(const struct fakeport *fp, const int (*want)[3], unsigned n, uint64_t t0)
{
	assert_int_equal(fp->nlines, n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(fp->lines[i].dtr, want[i][0]);
		assert_int_equal(fp->lines[i].rts, want[i][1]);
		assert_int_equal(fp->lines[i].at_ms - t0, (uint64_t)want[i][2]);
	}
}

static void test_reset_classic_tight_sequence(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);
	/* dtr, rts, ms since start: EN low 100 ms with IO0 high, then EN up
	 * with IO0 low in one step, IO0 held 50 ms */
	static const int want[][3] = {{0, 0, 0}, {1, 1, 0}, {0, 1, 0}, {1, 0, 100}, {0, 0, 150}};
	uint64_t t0 = fp->now;

	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_CLASSIC, 0), 0);
	expect_lines(fp, want, 5, t0);
	port_close(&fp->base);
}

static void test_reset_classic_second_attempt_holds_550ms(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);
	static const int want[][3] = {{0, 0, 0}, {1, 1, 0}, {0, 1, 0}, {1, 0, 100}, {0, 0, 650}};
	uint64_t t0 = fp->now;

	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_CLASSIC, 1), 0);
	expect_lines(fp, want, 5, t0);
	port_close(&fp->base);
}

static void test_reset_usb_jtag_goes_through_both_asserted(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);
	static const int want[][3] = {{0, 0, 0}, {1, 0, 100}, {1, 1, 200}, {0, 1, 200}, {0, 0, 300}};
	uint64_t t0 = fp->now;

	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_USB_JTAG, 0), 0);
	expect_lines(fp, want, 5, t0);
	/* never through (0,0) while entering reset: only idle and release */
	port_close(&fp->base);
}

static void test_reset_none_touches_nothing(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);
	uint64_t t0 = fp->now;

	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_NONE, 0), 0);
	assert_int_equal(fp->nlines, 0);
	assert_int_equal(fp->now, t0);
	port_close(&fp->base);
}

static void test_reset_hard_is_rts_pulse(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);
	static const int want[][3] = {{0, 1, 0}, {0, 0, 100}};
	uint64_t t0 = fp->now;

	assert_int_equal(reset_hard_rts(&fp->base), 0);
	expect_lines(fp, want, 2, t0);
	port_close(&fp->base);
}

static void test_reset_without_lines_is_enolines(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);

	fp->no_lines = 1;
	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_CLASSIC, 0), ROM_ENOLINES);
	assert_int_equal(reset_hard_rts(&fp->base), ROM_ENOLINES);
	port_close(&fp->base);
}

static void test_reset_cancelled_stops_the_sequence(void **state)
{
	(void)state;
	struct fakeport *fp = fp_new(NULL, NULL);

	port_cancel(&fp->base);
	assert_int_equal(reset_enter_loader(&fp->base, RESET_MODE_CLASSIC, 0), ROM_ECANCELED);
	assert_int_equal(fp->nlines, 0);
	port_close(&fp->base);
}

static void test_reset_disable_watchdogs_esp32s3_with_keys(void **state)
{
	(void)state;
	struct regs r = {.read_value = 0x00001234};
	struct fakeport *fp = fp_new(respond, &r);
	struct rom *rom;
	static const struct regop want[] = {
		{0x09, 0x600080B0, 0x50D83AA1}, /* unlock RTC WDT */
		{0x09, 0x60008098, 0},          /* WDTCONFIG0 = 0: off */
		{0x09, 0x600080B0, 0},          /* lock */
		{0x09, 0x600080B8, 0x8F1D312A}, /* unlock SWD */
		{0x0a, 0x600080B4, 0},
		{0x09, 0x600080B4, 0x80001234}, /* auto-feed on, other bits kept */
		{0x09, 0x600080B8, 0},
	};

	assert_int_equal(rom_new(&fp->base, &rom), 0);
	assert_int_equal(reset_disable_watchdogs(rom, chip_by_id(CHIP_ESP32S3)), 0);
	assert_int_equal(r.n, 7);
	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(r.ops[i].cmd, want[i].cmd);
		assert_int_equal(r.ops[i].addr, want[i].addr);
		assert_int_equal(r.ops[i].value, want[i].value);
	}
	rom_free(rom);
	port_close(&fp->base);
}

static void test_reset_disable_watchdogs_c6_lp_wdt_and_esp32_none(void **state)
{
	(void)state;
	struct regs r = {.read_value = 0};
	struct fakeport *fp = fp_new(respond, &r);
	struct rom *rom;

	assert_int_equal(rom_new(&fp->base, &rom), 0);
	assert_int_equal(reset_disable_watchdogs(rom, chip_by_id(CHIP_ESP32)), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(reset_disable_watchdogs(rom, chip_by_id(CHIP_ESP32C6)), 0);
	assert_int_equal(r.n, 7);
	assert_int_equal(r.ops[0].addr, 0x600B1C18);
	assert_int_equal(r.ops[5].addr, 0x600B1C1C);
	assert_int_equal(r.ops[5].value, 1u << 18);
	assert_int_equal(r.ops[3].value, 0x50D83AA1);
	rom_free(rom);
	port_close(&fp->base);
}

static void test_reset_watchdog_reset_c3_tolerates_silence(void **state)
{
	(void)state;
	struct regs r = {.silent_after = 2};
	struct fakeport *fp = fp_new(respond, &r);
	struct rom *rom;

	assert_int_equal(rom_new(&fp->base, &rom), 0);
	/* the chip resets on the third write and never answers it */
	assert_int_equal(reset_watchdog(rom, chip_by_id(CHIP_ESP32C3)), 0);
	assert_true(r.n >= 3);
	assert_int_equal(r.ops[0].addr, 0x600080A8);
	assert_int_equal(r.ops[0].value, 0x50D83AA1);
	assert_int_equal(r.ops[1].addr, 0x60008094);
	assert_int_equal(r.ops[1].value, 2000);
	assert_int_equal(r.ops[2].addr, 0x60008090);
	assert_int_equal(r.ops[2].value, (1u << 31) | (5u << 28) | (1u << 8) | 2u);
	rom_free(rom);
	port_close(&fp->base);
}

static void test_reset_parse_words(void **state)
{
	(void)state;
	enum reset_mode m;
	enum reset_after a;

	assert_int_equal(reset_mode_parse("default_reset", &m), 0);
	assert_int_equal(m, RESET_MODE_CLASSIC);
	assert_int_equal(reset_mode_parse("usb_reset", &m), 0);
	assert_int_equal(m, RESET_MODE_USB_JTAG);
	assert_int_equal(reset_mode_parse("no_reset", &m), 0);
	assert_int_equal(m, RESET_MODE_NONE);
	assert_int_equal(reset_mode_parse("soft_reset", &m), ROM_EINVAL);
	assert_int_equal(reset_after_parse("hard_reset", &a), 0);
	assert_int_equal(a, RESET_AFTER_HARD);
	assert_int_equal(reset_after_parse("no_reset", &a), 0);
	assert_int_equal(a, RESET_AFTER_NONE);
	assert_int_equal(reset_after_parse("watchdog", &a), ROM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_classic_tight_sequence),
		cmocka_unit_test(test_reset_classic_second_attempt_holds_550ms),
		cmocka_unit_test(test_reset_usb_jtag_goes_through_both_asserted),
		cmocka_unit_test(test_reset_none_touches_nothing),
		cmocka_unit_test(test_reset_hard_is_rts_pulse),
		cmocka_unit_test(test_reset_without_lines_is_enolines),
		cmocka_unit_test(test_reset_cancelled_stops_the_sequence),
		cmocka_unit_test(test_reset_disable_watchdogs_esp32s3_with_keys),
		cmocka_unit_test(test_reset_disable_watchdogs_c6_lp_wdt_and_esp32_none),
		cmocka_unit_test(test_reset_watchdog_reset_c3_tolerates_silence),
		cmocka_unit_test(test_reset_parse_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
