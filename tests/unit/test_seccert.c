/* Unit tests of espfab/seccert.h and espfab/seccert_pem.h: byte-exact images
 * against configure_esp_secure_cert.py's output (tests/data/secure_cert, see
 * the README there), the walker's findings, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "espfab/seccert.h"
#include "espfab/seccert_pem.h"

#define DATA ESPFAB_TEST_DATA "/secure_cert/"

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s%s", DATA, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Build an image the way the reference's default run does: CA cert (when
 * given), device cert, private key, integrity TLV. */
static size_t build_from_files(const char *ca, const char *dev, const char *key, uint8_t *img, size_t cap)
{
	struct seccert_entry e[3];
	uint8_t *raw[3] = {NULL, NULL, NULL}, *tlv[3] = {NULL, NULL, NULL};
	size_t rawlen[3], tlvlen[3], n = 0, out = 0;
	struct seccert_err err = {0};
	bool pem;

	if (ca) {
		raw[0] = slurp(ca, &rawlen[0]);
		assert_int_equal(seccert_pem_cert(raw[0], rawlen[0], "ca", &tlv[0], &tlvlen[0], &pem, &err), 0);
		e[n++] = (struct seccert_entry){.type = SECCERT_CA_CERT, .data = tlv[0], .len = tlvlen[0]};
	}
	raw[1] = slurp(dev, &rawlen[1]);
	assert_int_equal(seccert_pem_cert(raw[1], rawlen[1], "dev", &tlv[1], &tlvlen[1], &pem, &err), 0);
	e[n++] = (struct seccert_entry){.type = SECCERT_DEV_CERT, .data = tlv[1], .len = tlvlen[1]};
	raw[2] = slurp(key, &rawlen[2]);
	if (seccert_pem_key(raw[2], rawlen[2], "key", &tlv[2], &tlvlen[2], &pem, &err) != 0)
		fail_msg("%s", err.msg);
	e[n++] = (struct seccert_entry){.type = SECCERT_PRIV_KEY, .data = tlv[2], .len = tlvlen[2]};
	if (seccert_build(e, n, true, img, cap, &out, &err) != 0)
		fail_msg("%s", err.msg);
	for (int i = 0; i < 3; i++) {
		free(raw[i]);
		seccert_pem_free_secret(tlv[i], tlv[i] ? tlvlen[i] : 0);
	}
	return out;
}

static void check_golden(const char *ca, const char *dev, const char *key, const char *golden)
{
	uint8_t img[SECCERT_MAX_IMAGE];
	size_t glen, len = build_from_files(ca, dev, key, img, sizeof(img));
	uint8_t *want = slurp(golden, &glen);

	assert_int_equal(len, glen);
	for (size_t i = 0; i < len; i++)
		if (img[i] != want[i])
			fail_msg("%s: first difference at byte 0x%zx", golden, i);
	free(want);
}

static void test_seccert_golden_ecdsa_p256(void **state)
{
	(void)state;
	check_golden("ca_cert.pem", "ec_cert.pem", "ec_key.pem", "ecdsa_p256.bin");
}

static void test_seccert_golden_rsa2048(void **state)
{
	(void)state;
	check_golden("ca_cert.pem", "rsa_cert.pem", "rsa_key.pem", "rsa2048.bin");
}

static void test_seccert_golden_der(void **state)
{
	(void)state;
	check_golden("ca_cert.der", "ec_cert.der", "ec_key.der", "ecdsa_der.bin");
}

static void test_seccert_golden_no_ca(void **state)
{
	(void)state;
	check_golden(NULL, "ec_cert.pem", "ec_key.pem", "ecdsa_noca.bin");
}

/* CRLF, text before the block, SEC1 instead of PKCS#8: the reference
 * re-encodes its inputs, so the image is the same as ecdsa_p256.bin. */
static void test_seccert_golden_canonical(void **state)
{
	(void)state;
	check_golden("ca_cert.pem", "ec_cert_crlf.pem", "ec_key_sec1.pem", "ecdsa_canon.bin");
	check_golden("ca_cert.pem", "ec_cert_crlf.pem", "ec_key_sec1.pem", "ecdsa_p256.bin");
}

static void test_seccert_parse_golden(void **state)
{
	size_t len;
	uint8_t *img = slurp("ecdsa_p256.bin", &len);
	struct seccert_image *im = NULL;
	struct seccert_err err = {0};
	static const uint8_t types[] = {SECCERT_CA_CERT, SECCERT_DEV_CERT, SECCERT_PRIV_KEY, SECCERT_INTEGRITY};
	(void)state;

	assert_int_equal(seccert_parse(img, len, &im, &err), 0);
	assert_int_equal(im->tlv_count, 4);
	assert_int_equal(im->problem_count, 0);
	assert_int_equal(im->used, len);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(im->tlvs[i].type, types[i]);
		assert_true(im->tlvs[i].crc_ok);
		assert_int_equal(im->tlvs[i].flags, 0);
	}
	assert_int_equal(im->tlvs[0].offset, 0);
	assert_memory_equal(im->tlvs[1].data, "-----BEGIN CERTIFICATE-----", 27);
	assert_int_equal(im->tlvs[1].data[im->tlvs[1].length - 1], 0);
	assert_ptr_equal(seccert_find(im, SECCERT_PRIV_KEY, 0), &im->tlvs[2]);
	assert_null(seccert_find(im, SECCERT_PRIV_KEY, 1));
	seccert_image_free(im);
	free(img);
}

/* A whole partition read from flash: the erased tail ends the chain. */
static void test_seccert_parse_erased_tail(void **state)
{
	size_t len;
	uint8_t *img = slurp("rsa2048.bin", &len);
	uint8_t part[0x2000];
	struct seccert_image *im = NULL;
	struct seccert_err err = {0};
	(void)state;

	memset(part, 0xFF, sizeof(part));
	memcpy(part, img, len);
	assert_int_equal(seccert_parse(part, sizeof(part), &im, &err), 0);
	assert_int_equal(im->tlv_count, 4);
	assert_int_equal(im->used, len);
	assert_int_equal(im->problem_count, 0);
	seccert_image_free(im);
	free(img);
}

static void test_seccert_parse_flipped_byte(void **state)
{
	size_t len;
	uint8_t *img = slurp("ecdsa_p256.bin", &len);
	struct seccert_image *im = NULL;
	struct seccert_err err = {0};
	(void)state;

	img[40] ^= 0x01; /* inside the CA certificate's data */
	assert_int_equal(seccert_parse(img, len, &im, &err), 0);
	assert_int_equal(im->tlv_count, 4);
	assert_false(im->tlvs[0].crc_ok);
	assert_true(im->tlvs[1].crc_ok);
	assert_int_equal(im->problem_count, 2);
	assert_int_equal(im->problems[0].kind, SECCERT_P_CRC);
	assert_int_equal(im->problems[0].offset, 0);
	assert_non_null(strstr(im->problems[0].msg, "ca_cert"));
	assert_int_equal(im->problems[1].kind, SECCERT_P_INTEGRITY);
	seccert_image_free(im);
	free(img);
}

static void test_seccert_parse_rejects(void **state)
{
	uint8_t buf[64];
	struct seccert_image *im = (struct seccert_image *)buf; /* must be reset to NULL */
	struct seccert_err err = {0};
	size_t len;
	uint8_t *img;
	(void)state;

	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(seccert_parse(buf, sizeof(buf), &im, &err), SECCERT_EFORMAT);
	assert_null(im);
	assert_non_null(strstr(err.msg, "erased"));

	memcpy(buf, "\x11\xba\x5e\xbb", 4);
	assert_int_equal(seccert_parse(buf, sizeof(buf), &im, &err), SECCERT_EFORMAT);
	assert_non_null(strstr(err.msg, "0xbb5eba11"));

	assert_int_equal(seccert_parse(buf, 3, &im, &err), SECCERT_EFORMAT);

	/* Cut inside the third TLV: its length runs past the end. */
	img = slurp("ecdsa_p256.bin", &len);
	assert_int_equal(seccert_parse(img, len - 100, &im, &err), SECCERT_EFORMAT);
	assert_null(im);
	assert_non_null(strstr(err.msg, "runs past the end"));
	assert_non_null(strstr(err.msg, "priv_key"));
	free(img);
}

static void test_seccert_padding_and_crc(void **state)
{
	uint8_t data[18] = "0123456789abcdef!";
	uint8_t img[128];
	size_t len = 0;
	struct seccert_err err = {0};
	struct seccert_entry e = {.type = SECCERT_USER_DATA_1, .subtype = 3, .data = data, .len = 16};
	(void)state;

	assert_int_equal(seccert_tlv_size(0), 16);
	assert_int_equal(seccert_tlv_size(16), 32);
	assert_int_equal(seccert_tlv_size(17), 48);
	assert_int_equal(seccert_build(&e, 1, false, img, sizeof(img), &len, &err), 0);
	assert_int_equal(len, 32);
	e.len = 17;
	assert_int_equal(seccert_build(&e, 1, false, img, sizeof(img), &len, &err), 0);
	assert_int_equal(len, 48);
	assert_memory_equal(img, "\x11\xba\x5e\xba\x00\x00\x00\x00\x33\x03\x11\x00", 12);
	for (size_t i = 12 + 17; i < 44; i++)
		assert_int_equal(img[i], 0);
	/* zlib.crc32(header + data + padding, 0xffffffff), little-endian: the
	 * value below was computed with Python's zlib for these 44 bytes. */
	assert_memory_equal(img + 44, "\xa2\x9a\xc8\xa4", 4);
}

static void test_seccert_build_limits(void **state)
{
	static uint8_t big[0x10000];
	uint8_t img[SECCERT_MAX_IMAGE];
	size_t len = 12345;
	struct seccert_err err = {0};
	struct seccert_entry e = {.type = SECCERT_USER_DATA_5, .data = big, .len = sizeof(big)};
	(void)state;

	assert_int_equal(seccert_build(&e, 1, false, img, sizeof(img), &len, &err), SECCERT_EINVAL);
	assert_non_null(strstr(err.msg, "65535"));
	e.len = SECCERT_MAX_IMAGE - 16; /* fits exactly without integrity */
	assert_int_equal(seccert_build(&e, 1, false, img, sizeof(img), &len, &err), 0);
	assert_int_equal(len, SECCERT_MAX_IMAGE);
	len = 12345;
	assert_int_equal(seccert_build(&e, 1, true, img, sizeof(img), &len, &err), SECCERT_ETOOBIG);
	assert_int_equal(len, 12345);
	assert_non_null(strstr(err.msg, "integrity"));
	e.len = SECCERT_MAX_IMAGE;
	assert_int_equal(seccert_build(&e, 1, false, img, sizeof(img), &len, &err), SECCERT_ETOOBIG);
}

static void test_seccert_pem_refusals(void **state)
{
	struct seccert_err err = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;
	bool pem;
	EVP_PKEY *k = NULL;
	BIO *b;
	char *p;
	long n;
	(void)state;

	assert_int_equal(seccert_pem_cert((const uint8_t *)"hello", 5, "device certificate", &out, &out_len, &pem,
					  &err),
			 SECCERT_ECRYPTO);
	assert_string_equal(err.msg, "device certificate: neither a PEM nor a DER X.509 certificate");
	assert_null(out);
	assert_int_equal(seccert_pem_key((const uint8_t *)"hello", 5, "private key", &out, &out_len, &pem, &err),
			 SECCERT_ECRYPTO);
	assert_string_equal(err.msg, "private key: neither a PEM nor a DER private key");

	/* Ed25519 has no traditional form: refused, like the reference. */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	b = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(seccert_pem_key((const uint8_t *)p, (size_t)n, "private key", &out, &out_len, &pem, &err),
			 SECCERT_ECRYPTO);
	assert_non_null(strstr(err.msg, "ED25519"));
	BIO_free(b);

	/* An encrypted PEM key: refused without prompting. */
	b = BIO_new(BIO_s_mem());
	EVP_PKEY_free(k);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_true(PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"pass"));
	n = BIO_get_mem_data(b, &p);
	assert_int_equal(seccert_pem_key((const uint8_t *)p, (size_t)n, "private key", &out, &out_len, &pem, &err),
			 SECCERT_ECRYPTO);
	assert_non_null(strstr(err.msg, "encrypted"));
	BIO_free(b);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seccert_golden_ecdsa_p256), cmocka_unit_test(test_seccert_golden_rsa2048),
	    cmocka_unit_test(test_seccert_golden_der),        cmocka_unit_test(test_seccert_golden_no_ca),
	    cmocka_unit_test(test_seccert_golden_canonical),  cmocka_unit_test(test_seccert_parse_golden),
	    cmocka_unit_test(test_seccert_parse_erased_tail), cmocka_unit_test(test_seccert_parse_flipped_byte),
	    cmocka_unit_test(test_seccert_parse_rejects),     cmocka_unit_test(test_seccert_padding_and_crc),
	    cmocka_unit_test(test_seccert_build_limits),      cmocka_unit_test(test_seccert_pem_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
