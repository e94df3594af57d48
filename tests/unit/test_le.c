/* Unit tests of the little-endian helpers (common/include/espfab/le.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "espfab/le.h"

static void test_le_put_writes_low_byte_first(void **state)
{
	uint8_t b[8];

	(void)state;
	le_put32(b, 0x12345678);
	assert_int_equal(b[0], 0x78);
	assert_int_equal(b[3], 0x12);
	assert_int_equal(le_get32(b), 0x12345678);
	le_put16(b, 0xA55A);
	assert_int_equal(b[0], 0x5A);
	assert_int_equal(b[1], 0xA5);
	le_put64(b, 0x0102030405060708ull);
	for (int i = 0; i < 8; i++)
		assert_int_equal(b[i], 8 - i);
}

static void test_le_get_reads_high_bits_unsigned(void **state)
{
	/* The top bit must not sign-extend through int promotion. */
	static const uint8_t ff[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE};

	(void)state;
	assert_int_equal(le_get16(ff), 0xFFFFu);
	assert_int_equal(le_get32(ff), 0xFFFFFFFFu);
	assert_true(le_get64(ff) == 0xFEFFFFFFFFFFFFFFull);
	assert_int_equal(le_get32(ff + 4), 0xFEFFFFFFu);
}

static void test_le_round_trip_unaligned(void **state)
{
	uint8_t buf[16];

	(void)state;
	memset(buf, 0xEE, sizeof(buf));
	le_put32(buf + 1, 0xDEADBEEF);
	le_put64(buf + 5, 0x8000000000000001ull);
	le_put16(buf + 13, 0x8001);
	assert_int_equal(buf[0], 0xEE);
	assert_int_equal(le_get32(buf + 1), 0xDEADBEEF);
	assert_true(le_get64(buf + 5) == 0x8000000000000001ull);
	assert_int_equal(le_get16(buf + 13), 0x8001);
	assert_int_equal(buf[15], 0xEE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_le_put_writes_low_byte_first),
		cmocka_unit_test(test_le_get_reads_high_bits_unsigned),
		cmocka_unit_test(test_le_round_trip_unaligned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
