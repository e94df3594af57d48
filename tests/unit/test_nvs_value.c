/* Value conversions, checked against what CPython 3.11 gives for the same
 * text (int(), int(x, 0), binascii.a2b_base64, struct.pack). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../nvsgen/nvs_internal.h"

static int conv(const char *enc, const char *value, bool from_file, struct nvs_scratch *s, struct nvs_value *v,
		struct nvs_err *err)
{
	return nvs_value_convert(enc, (const uint8_t *)value, value ? strlen(value) : 0, from_file, value == NULL,
				 0x6000, s, v, err);
}

static void test_nvs_value_int10_python_syntax(void **state)
{
	(void)state;
	bool neg;
	uint64_t mag;

	assert_int_equal(nvs_parse_int10((const uint8_t *)" 7 ", 3, false, &neg, &mag), 0);
	assert_int_equal(mag, 7);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"+5", 2, false, &neg, &mag), 0);
	assert_false(neg);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"1_000_000", 9, false, &neg, &mag), 0);
	assert_int_equal(mag, 1000000);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"007", 3, false, &neg, &mag), 0);
	assert_int_equal(mag, 7);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"-0", 2, false, &neg, &mag), 0);
	assert_true(neg);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xc2\xa0" "9\xe3\x80\x80", 6, false, &neg, &mag), 0);
	assert_int_equal(mag, 9);
	/* int() refuses 0x1C-0x1F (str.strip() takes them); bytes: ASCII only */
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\x1c" "9", 2, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xc2\xa0" "9", 3, true, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\x1c" "9", 2, true, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"0x10", 4, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"", 0, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"1__0", 4, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"_1", 2, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"1_", 2, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"- 1", 3, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"18446744073709551616", 20, false, &neg, &mag), -2);
}

static void test_nvs_value_int0_like_size_argument(void **state)
{
	(void)state;
	int64_t v;

	assert_int_equal(nvs_parse_int0("0x6000", &v), 0);
	assert_int_equal(v, 0x6000);
	assert_int_equal(nvs_parse_int0(" 24576 ", &v), 0);
	assert_int_equal(v, 24576);
	assert_int_equal(nvs_parse_int0("0x_10", &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(nvs_parse_int0("0o17", &v), 0);
	assert_int_equal(v, 15);
	assert_int_equal(nvs_parse_int0("0B101", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(nvs_parse_int0("00", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(nvs_parse_int0("-4096", &v), 0);
	assert_int_equal(v, -4096);
	assert_int_not_equal(nvs_parse_int0("0123", &v), 0);
	assert_int_not_equal(nvs_parse_int0("0x6000K", &v), 0);
	assert_int_not_equal(nvs_parse_int0("0x", &v), 0);
	assert_int_not_equal(nvs_parse_int0("0b2", &v), 0);
	assert_int_not_equal(nvs_parse_int0("", &v), 0);
}

static void test_nvs_value_base64_lenient(void **state)
{
	(void)state;
	uint8_t out[32];
	size_t n;

	assert_int_equal(nvs_base64_decode((const uint8_t *)"YW*Jj!ZA = =", 12, out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "abcd", 4);
	/* '=' before a quad is half full is ignored; 'YQ=x==' gives b'a\x0c'. */
	assert_int_equal(nvs_base64_decode((const uint8_t *)"=YQ==", 5, out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(nvs_base64_decode((const uint8_t *)"YQ=x==", 6, out, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "a\x0c", 2);
	assert_int_equal(nvs_base64_decode((const uint8_t *)"YWJ", 3, out, &n), -1);
	assert_int_equal(nvs_base64_decode((const uint8_t *)"Y", 1, out, &n), -1);
	assert_int_equal(nvs_base64_decode((const uint8_t *)"", 0, out, &n), 0);
	assert_int_equal(n, 0);
}

static void test_nvs_value_primitives_pack_little_endian(void **state)
{
	(void)state;
	struct nvs_scratch s = {0};
	struct nvs_value v;
	struct nvs_err err;

	assert_int_equal(conv("u8", "255", false, &s, &v, &err), 0);
	assert_int_equal(v.type, NVS_TYPE_U8);
	assert_int_equal(v.bits, 255);
	assert_int_equal(conv("i16", "-2", false, &s, &v, &err), 0);
	assert_int_equal(v.type, NVS_TYPE_I16);
	assert_int_equal(v.width, 2);
	assert_int_equal(v.bits & 0xffff, 0xfffe);
	assert_int_equal(conv("i64", "-9223372036854775808", false, &s, &v, &err), 0);
	assert_int_equal(v.bits, UINT64_C(0x8000000000000000));
	assert_int_equal(conv("u64", "18446744073709551615", false, &s, &v, &err), 0);
	assert_int_equal(v.bits, UINT64_MAX);
	assert_int_equal(conv("u8", "-0", false, &s, &v, &err), 0);
	assert_int_equal(conv("u8", "256", false, &s, &v, &err), NVS_EINPUT);
	assert_non_null(strstr(err.msg, "0..255"));
	assert_null(strstr(err.msg, "256")); /* values never appear in messages */
	assert_int_equal(conv("u8", "-1", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("i8", "128", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("i64", "-9223372036854775809", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("u32", NULL, false, &s, &v, &err), NVS_EINPUT);
	free(s.buf);
}

static void test_nvs_value_string_hex_binary(void **state)
{
	(void)state;
	struct nvs_scratch s = {0};
	struct nvs_value v;
	struct nvs_err err;

	assert_int_equal(conv("string", "h\xc3\xa9", false, &s, &v, &err), 0);
	assert_int_equal(v.kind, NVS_KIND_STRING);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.data, "h\xc3\xa9", 4);
	assert_int_equal(conv("string", "\xff", true, &s, &v, &err), NVS_EINPUT);

	assert_int_equal(conv("hex2bin", " DEadbeEF\n\x1c", false, &s, &v, &err), 0);
	assert_int_equal(v.kind, NVS_KIND_BLOB);
	assert_int_equal(v.len, 4);
	assert_memory_equal(v.data, "\xde\xad\xbe\xef", 4);
	assert_int_equal(conv("hex2bin", "abc", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("hex2bin", "zz", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("hex2bin", "", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 0);

	/* policy binary-from-data: UTF-8 bytes, byte length. */
	assert_int_equal(conv("binary", "\xc3\xa9t\xc3\xa9", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 5);
	assert_int_equal(conv("float", "1", false, &s, &v, &err), NVS_EINPUT);
	assert_non_null(strstr(err.msg, "unsupported encoding"));
	free(s.buf);
}

static void test_nvs_value_blob_fill(void **state)
{
	(void)state;
	struct nvs_scratch s = {0};
	struct nvs_value v;
	struct nvs_err err;

	assert_int_equal(conv("blob_fill(5;0xab)", "hi", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 5);
	assert_memory_equal(v.data, "hi\xab\xab\xab", 5);
	assert_int_equal(conv("blob_sz_fill(3;0x00)junk", "x", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 7);
	assert_memory_equal(v.data, "\x01\x00\x00\x00x\x00\x00", 7);
	assert_int_equal(conv("blob_fill(2;0xff)", NULL, false, &s, &v, &err), 0);
	assert_memory_equal(v.data, "\xff\xff", 2);
	assert_int_equal(conv("blob_fill(1;0x00)", "ab", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("blob_fill(4;0xa)", "", false, &s, &v, &err), NVS_EINPUT);
	assert_non_null(strstr(err.msg, "invalid encoding format"));
	assert_int_equal(conv("blob_fill(99999999999999999999;0x00)", "", false, &s, &v, &err), NVS_EINPUT);
	free(s.buf);
}

/* int() reads every Unicode decimal digit (category Nd) and treats Unicode
 * whitespace as spaces; so does the reference's regex "\d" in
 * blob_fill(N;0xPP). Expected values from CPython 3.11.2: int('١٢') == 12,
 * int('\uff11\uff16') == 16, int(' \u0967\u0966\u0966 ') == 100,
 * int('-\U0001d7d5') == -7, int('1_\u0663') == 13, int('\uff10x6000', 0) ==
 * int('\uff12\uff14\uff15\uff17\uff16', 0) == 24576, int(b'\xd9\xa1')
 * raises, re.match(r'...\((\d+);...', 'blob_fill(\uff11\uff16;0xff)') matches. */
static void test_nvs_value_unicode_digits(void **state)
{
	(void)state;
	struct nvs_scratch s = {0};
	struct nvs_value v;
	struct nvs_err err;
	bool neg;
	uint64_t mag;
	int64_t size;

	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xd9\xa1\xd9\xa2", 4, false, &neg, &mag), 0);
	assert_int_equal(mag, 12);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xef\xbc\x91\xef\xbc\x96", 6, false, &neg, &mag), 0);
	assert_int_equal(mag, 16);
	assert_int_equal(nvs_parse_int10((const uint8_t *)" \xe0\xa5\xa7\xe0\xa5\xa6\xe0\xa5\xa6 ", 11, false, &neg, &mag), 0);
	assert_int_equal(mag, 100);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"-\xf0\x9d\x9f\x95", 5, false, &neg, &mag), 0);
	assert_true(neg);
	assert_int_equal(mag, 7);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"1_\xd9\xa3", 4, false, &neg, &mag), 0);
	assert_int_equal(mag, 13);
	/* bytes (file rows) know ASCII digits only; other letters stay invalid */
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xd9\xa1", 2, true, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"1\xc3\xa9", 3, false, &neg, &mag), -1);
	assert_int_equal(nvs_parse_int10((const uint8_t *)"\xe2\x85\xa0", 3, false, &neg, &mag), -1); /* U+2160, Nl */
	/* a long value goes through the heap, not the stack buffer */
	{
		char big[300];
		memset(big, ' ', sizeof(big));
		memcpy(big + 100, "\xd9\xa5", 2);
		assert_int_equal(nvs_parse_int10((const uint8_t *)big, sizeof(big), false, &neg, &mag), 0);
		assert_int_equal(mag, 5);
	}
	assert_int_equal(nvs_parse_int0("\xef\xbc\x90x6000", &size), 0);
	assert_int_equal(size, 0x6000);
	assert_int_equal(nvs_parse_int0("\xef\xbc\x92\xef\xbc\x94\xef\xbc\x95\xef\xbc\x97\xef\xbc\x96", &size), 0);
	assert_int_equal(size, 24576);
	assert_int_equal(conv("u8", "\xd9\xa2\xd9\xa5\xd9\xa5", false, &s, &v, &err), 0);
	assert_int_equal(v.bits, 255);
	assert_int_equal(conv("u8", "\xd9\xa2\xd9\xa5\xd9\xa6", false, &s, &v, &err), NVS_EINPUT);
	assert_int_equal(conv("blob_fill(\xef\xbc\x91\xef\xbc\x96;0xff)", "ab", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 16);
	assert_memory_equal(v.data, "ab\xff\xff", 4);
	assert_int_equal(conv("blob_sz_fill(\xe0\xa5\xa8;0x00)", "", false, &s, &v, &err), 0);
	assert_int_equal(v.len, 6);
	free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_value_int10_python_syntax),
		cmocka_unit_test(test_nvs_value_int0_like_size_argument),
		cmocka_unit_test(test_nvs_value_base64_lenient),
		cmocka_unit_test(test_nvs_value_primitives_pack_little_endian),
		cmocka_unit_test(test_nvs_value_string_hex_binary),
		cmocka_unit_test(test_nvs_value_blob_fill),
		cmocka_unit_test(test_nvs_value_unicode_digits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
