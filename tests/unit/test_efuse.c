/* The eFuse module's pure part: the RS coding of key blocks, the RS error
 * fields per chip, the layouts and the name parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/efuse.h"

/* Independent of the encoder's algorithm: a codeword of reedsolo's
 * RSCodec(12) (polynomial 0x11D, generator 2, fcr 0, first byte = highest
 * coefficient) evaluates to 0 at 2^0 .. 2^11. */
static uint8_t mul(uint8_t a, uint8_t b)
{
	uint8_t r = 0;

	for (int i = 0; i < 8; i++) {
		if (b & 1)
			r ^= a;
		b >>= 1;
		a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1D : 0));
	}
	return r;
}

static uint8_t eval(const uint8_t *cw, size_t n, uint8_t x)
{
	uint8_t y = 0;

	for (size_t i = 0; i < n; i++)
		y = (uint8_t)(mul(y, x) ^ cw[i]);
	return y;
}

static void check_codeword(const uint8_t data[32])
{
	uint8_t cw[44], x = 1;

	memcpy(cw, data, 32);
	efuse_rs_encode(data, cw + 32);
	for (int i = 0; i < 12; i++, x = mul(x, 2))
		assert_int_equal(eval(cw, 44, x), 0);
	/* and a wrong check byte is not a codeword */
	cw[40] ^= 1;
	x = 1;
	int nonzero = 0;
	for (int i = 0; i < 12; i++, x = mul(x, 2))
		nonzero |= eval(cw, 44, x) != 0;
	assert_true(nonzero);
}

static void test_efuse_rs_codewords(void **state)
{
	uint8_t d[32];

	(void)state;
	memset(d, 0, sizeof(d));
	check_codeword(d);
	for (int i = 0; i < 32; i++)
		d[i] = (uint8_t)(i * 37 + 11);
	check_codeword(d);
	memset(d, 0xFF, sizeof(d));
	check_codeword(d);
	d[0] = 0;
	d[31] = 1;
	check_codeword(d);
}

static void test_efuse_rs_zero_block(void **state)
{
	uint8_t d[32] = { 0 }, c[12];

	(void)state;
	/* the code is linear: an unburnt block is a valid codeword */
	efuse_rs_encode(d, c);
	for (int i = 0; i < 12; i++)
		assert_int_equal(c[i], 0);
}

static void test_efuse_layouts(void **state)
{
	(void)state;
	assert_int_equal(efuse_layout_for("ESP32-C3")->base, 0x60008800u);
	assert_int_equal(efuse_layout_for("ESP32-C6")->base, 0x600B0800u);
	assert_int_equal(efuse_layout_for("ESP32-H2")->base, 0x600B0800u);
	assert_int_equal(efuse_layout_for("ESP32-S3")->base, 0x60007000u);
	assert_int_equal(efuse_layout_for("ESP32-S3")->wr_tim_conf1, 0x1F4u);
	assert_null(efuse_layout_for("ESP32"));
	assert_null(efuse_layout_for("ESP32-C2"));
	assert_null(efuse_layout_for("ESP32-S2"));
	assert_null(efuse_layout_for(NULL));
	/* espefuse mem_definition.py BLOCKS read addresses */
	assert_int_equal(efuse_block_rd_offset(0), 0x02Cu);
	assert_int_equal(efuse_block_rd_offset(1), 0x044u);
	assert_int_equal(efuse_block_rd_offset(2), 0x05Cu);
	assert_int_equal(efuse_block_rd_offset(4), 0x09Cu);
	assert_int_equal(efuse_block_rd_offset(9), 0x13Cu);
	assert_int_equal(efuse_block_rd_offset(10), 0x15Cu);
	assert_int_equal(efuse_block_words(1), 6u);
	assert_int_equal(efuse_block_words(4), 8u);
}

static void test_efuse_rs_status_fields(void **state)
{
	const struct efuse_layout *c3 = efuse_layout_for("ESP32-C3"), *c6 = efuse_layout_for("ESP32-C6");
	unsigned n;
	int f;

	(void)state;
	/* C6: BLOCK_KEY0 count at bits 12..14 of ERR0, fail bit 15 */
	efuse_rs_status(c6, 4, 5u << 12 | 1u << 15, 0, &n, &f);
	assert_int_equal(n, 5);
	assert_int_equal(f, 1);
	efuse_rs_status(c6, 4, 1u << 19, 0, &n, &f);
	assert_int_equal(n, 0);
	assert_int_equal(f, 0);
	/* BLOCK_KEY5: ERR1 bits 0..2 and 3 */
	efuse_rs_status(c6, 9, 0, 2u | 1u << 3, &n, &f);
	assert_int_equal(n, 2);
	assert_int_equal(f, 1);
	/* C3: the fail bit of BLOCK_KEY0 is 19 (espefuse BLOCK_FAIL_BIT) */
	efuse_rs_status(c3, 4, 1u << 15, 0, &n, &f);
	assert_int_equal(f, 0);
	efuse_rs_status(c3, 4, 1u << 19, 0, &n, &f);
	assert_int_equal(f, 1);
	efuse_rs_status(c3, 8, 0, 1u << 3, &n, &f);
	assert_int_equal(f, 1);
	efuse_rs_status(c3, 9, 0, 1u << 7, &n, &f);
	assert_int_equal(f, 1);
}

static void test_efuse_names(void **state)
{
	enum efuse_purpose p;
	unsigned k;

	(void)state;
	assert_int_equal(efuse_purpose_parse("HMAC_UP", &p), 0);
	assert_int_equal(p, EFUSE_PURPOSE_HMAC_UP);
	assert_int_equal(p, 8);
	assert_int_equal(efuse_purpose_parse("hmac_down_all", &p), 0);
	assert_int_equal(p, 5);
	assert_int_equal(efuse_purpose_parse("HMAC", &p), -1);
	assert_string_equal(efuse_purpose_name(8), "HMAC_UP");
	assert_string_equal(efuse_purpose_name(15), "?");
	assert_int_equal(efuse_key_block_parse("BLOCK_KEY0", &k), 0);
	assert_int_equal(k, 0);
	assert_int_equal(efuse_key_block_parse("BLOCK_KEY5", &k), 0);
	assert_int_equal(k, 5);
	assert_int_equal(efuse_key_block_parse("BLOCK9", &k), 0);
	assert_int_equal(k, 5);
	assert_int_equal(efuse_key_block_parse("BLOCK4", &k), 0);
	assert_int_equal(k, 0);
	assert_int_equal(efuse_key_block_parse("BLOCK_KEY6", &k), -1);
	assert_int_equal(efuse_key_block_parse("BLOCK3", &k), -1);
	assert_int_equal(efuse_key_block_parse("BLOCK_KEY00", &k), -1);
	assert_int_equal(efuse_key_block_parse("", &k), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_efuse_rs_codewords),
		cmocka_unit_test(test_efuse_rs_zero_block),
		cmocka_unit_test(test_efuse_layouts),
		cmocka_unit_test(test_efuse_rs_status_fields),
		cmocka_unit_test(test_efuse_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
