/* Unit tests of espfab/seccert_issue.h: profiles, the CA, issued
 * certificates (verified against the CA, bound to the MAC) and the image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "espfab/seccert.h"
#include "espfab/seccert_issue.h"
#include "espfab/seccert_pem.h"

#define DATA ESPFAB_TEST_DATA "/secure_cert/"
#define MAC "24:0a:c4:12:34:56"

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

static struct seccert_ca *load_ca(const char *cert, const char *key, int want, const char *msg)
{
	size_t cl, kl;
	uint8_t *c = slurp(cert, &cl), *k = slurp(key, &kl);
	struct seccert_ca *ca = NULL;
	struct seccert_err err = {0};
	int rc = seccert_ca_load(c, cl, k, kl, &ca, &err);
	free(c);
	free(k);
	if (rc != want)
		fail_msg("CA load: %d %s", rc, err.msg);
	if (msg)
		assert_non_null(strstr(err.msg, msg));
	return ca;
}

static const char *profile_ec = "{\"subject\": [[\"O\", \"espfab test\"], [\"CN\", \"dev-{mac_hex}\"],"
				"[\"serialNumber\", \"{field:serial}\"]],"
				"\"validity_days\": 30, \"ca_cert\": \"ca.pem\", \"ca_key\": \"ca.key\"}";

static int field(void *ctx, const char *name, const char **value, size_t *len)
{
	(void)ctx;
	if (strcmp(name, "serial"))
		return -1;
	*value = "SN-0042";
	*len = 7;
	return 0;
}

static void test_seccert_issue_profile(void **state)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	char *js = NULL;
	(void)state;

	assert_int_equal(seccert_profile_parse(profile_ec, strlen(profile_ec), &p, &err), 0);
	assert_int_equal(p.key_type, SECCERT_KEY_EC_P256);
	assert_int_equal(p.n_subject, 3);
	assert_int_equal(p.validity_days, 30);
	assert_true(p.include_ca);
	assert_false(p.keep_keys);
	assert_string_equal(p.partition, "esp_secure_cert");
	assert_int_equal(seccert_profile_json(&p, &js, &err), 0);
	{
		struct seccert_profile q;
		assert_int_equal(seccert_profile_parse(js, strlen(js), &q, &err), 0);
		assert_memory_equal(&p, &q, sizeof(p));
	}
	free(js);

#define BAD(text, want)                                                                                          \
	do {                                                                                                     \
		const char *t_ = text;                                                                           \
		assert_int_equal(seccert_profile_parse(t_, strlen(t_), &p, &err), SECCERT_EINVAL);              \
		if (!strstr(err.msg, want))                                                                      \
			fail_msg("'%s': got '%s'", t_, err.msg);                                                 \
	} while (0)
	BAD("{\"subject\": [[\"CN\", \"fixed\"]], \"ca_cert\": \"a\", \"ca_key\": \"b\"}", "{mac}");
	BAD("{\"subject\": [[\"CN\", \"{mac}\"]], \"ca_cert\": \"a\", \"ca_key\": \"b\", \"colour\": 1}",
	    "unknown member \"colour\"");
	BAD("{\"key\": \"dsa\", \"subject\": [[\"CN\", \"{mac}\"]], \"ca_cert\": \"a\", \"ca_key\": \"b\"}", "rsa-2048");
	BAD("{\"subject\": [[\"XX\", \"{mac}\"]], \"ca_cert\": \"a\", \"ca_key\": \"b\"}", "unknown subject attribute");
	BAD("{\"subject\": [[\"CN\", \"{mac}\"]]}", "ca_key");
	BAD("[1]", "not a JSON object");
	BAD("{\"subject\": ", "identity profile: line");
}

static void check_cert(X509 *x, EVP_PKEY *k, const struct seccert_ca *ca)
{
	char cn[128] = "", sn[64] = "";
	GENERAL_NAMES *san;
	bool found = false;

	assert_int_equal(X509_verify(x, X509_get0_pubkey(ca->cert)), 1);
	assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(x)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca->cert)), 0);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "dev-240ac4123456");
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_serialNumber, sn, sizeof(sn));
	assert_string_equal(sn, "SN-0042");
	san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_URI &&
		    !strcmp((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), "urn:dev:mac:240ac4123456"))
			found = true;
	}
	GENERAL_NAMES_free(san);
	assert_true(found);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	/* A chain check as a cloud does it: the CA as the only trust anchor. */
	{
		X509_STORE *st = X509_STORE_new();
		X509_STORE_CTX *sc = X509_STORE_CTX_new();
		X509_STORE_add_cert(st, ca->cert);
		X509_STORE_CTX_init(sc, st, x, NULL);
		X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT);
		if (X509_verify_cert(sc) != 1)
			fail_msg("chain: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		X509_STORE_CTX_free(sc);
		X509_STORE_free(st);
	}
}

static void test_seccert_issue_ec_and_rsa(void **state)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	struct seccert_ca *ca = load_ca("ca_cert.pem", "ca_key.pem", 0, NULL);
	struct seccert_vars v = {.mac = MAC, .record_id = "r1", .field = field};
	X509 *x = NULL, *y = NULL;
	EVP_PKEY *k = NULL, *l = NULL;
	char s1[64], s2[64];
	(void)state;

	assert_int_equal(strlen(ca->sha256), 64);
	assert_int_equal(seccert_profile_parse(profile_ec, strlen(profile_ec), &p, &err), 0);
	if (seccert_issue(&p, ca, &v, &x, &k, &err))
		fail_msg("%s", err.msg);
	check_cert(x, k, ca);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
	assert_int_equal(seccert_cert_serial(x, s1, sizeof(s1)), 0);
	assert_int_equal(strlen(s1), 2 * SECCERT_ISSUE_SERIAL_LEN);
	/* 30 days */
	{
		int days = 0, secs = 0;
		ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x));
		assert_int_equal(days, 30);
	}

	p.key_type = SECCERT_KEY_RSA_2048;
	if (seccert_issue(&p, ca, &v, &y, &l, &err))
		fail_msg("%s", err.msg);
	check_cert(y, l, ca);
	assert_int_equal(EVP_PKEY_get_base_id(l), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(l), 2048);
	assert_int_equal(seccert_cert_serial(y, s2, sizeof(s2)), 0);
	assert_string_not_equal(s1, s2);

	X509_free(x);
	X509_free(y);
	EVP_PKEY_free(k);
	EVP_PKEY_free(l);
	seccert_ca_free(ca);
}

static void test_seccert_issue_template_errors(void **state)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	struct seccert_ca *ca = load_ca("ca_cert.pem", "ca_key.pem", 0, NULL);
	struct seccert_vars v = {.mac = MAC}; /* no field lookup */
	X509 *x = (X509 *)&p;
	EVP_PKEY *k = (EVP_PKEY *)&p;
	(void)state;

	assert_int_equal(seccert_profile_parse(profile_ec, strlen(profile_ec), &p, &err), 0);
	assert_int_equal(seccert_issue(&p, ca, &v, &x, &k, &err), SECCERT_EINVAL);
	assert_string_equal(err.msg, "subject template: the record has no field 'serial'");
	assert_null(x);
	assert_null(k);
	snprintf(p.subject[2].tmpl, sizeof(p.subject[2].tmpl), "{nope}");
	assert_int_equal(seccert_issue(&p, ca, &v, &x, &k, &err), SECCERT_EINVAL);
	assert_non_null(strstr(err.msg, "unknown placeholder {nope}"));
	seccert_ca_free(ca);
}

static void test_seccert_issue_ca_refusals(void **state)
{
	(void)state;
	/* The device key is not the CA certificate's. */
	assert_null(load_ca("ca_cert.pem", "ec_key.pem", SECCERT_ECRYPTO, "does not belong"));
	/* A device certificate is not a CA. */
	assert_null(load_ca("ec_cert.pem", "ec_key.pem", SECCERT_ECRYPTO, "not a CA"));
	assert_null(load_ca("ec_key.pem", "ca_key.pem", SECCERT_ECRYPTO, "CA certificate"));
}

static void test_seccert_issue_image(void **state)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	struct seccert_ca *ca = load_ca("ca_cert.pem", "ca_key.pem", 0, NULL);
	struct seccert_vars v = {.mac = MAC, .field = field};
	struct seccert_image *im = NULL;
	X509 *x = NULL, *back = NULL;
	EVP_PKEY *k = NULL, *kback = NULL;
	uint8_t buf[0x2000];
	size_t len = 0;
	(void)state;

	assert_int_equal(seccert_profile_parse(profile_ec, strlen(profile_ec), &p, &err), 0);
	assert_int_equal(seccert_issue(&p, ca, &v, &x, &k, &err), 0);
	assert_int_equal(seccert_issue_image(ca->cert, x, k, true, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(seccert_parse(buf, len, &im, &err), 0);
	assert_int_equal(im->tlv_count, 4);
	assert_int_equal(im->problem_count, 0);
	assert_int_equal(buf[len - 1], 0xFF);
	assert_int_equal(seccert_pem_read_cert(seccert_find(im, SECCERT_DEV_CERT, 0)->data,
					       seccert_find(im, SECCERT_DEV_CERT, 0)->length, &back, &err),
			 0);
	assert_int_equal(X509_cmp(back, x), 0);
	assert_int_equal(seccert_pem_read_key(seccert_find(im, SECCERT_PRIV_KEY, 0)->data,
					      seccert_find(im, SECCERT_PRIV_KEY, 0)->length, &kback, &err),
			 0);
	assert_int_equal(EVP_PKEY_eq(kback, k), 1);
	seccert_image_free(im);

	/* Without CA and key: device certificate and integrity only, unpadded. */
	assert_int_equal(seccert_issue_image(NULL, x, NULL, false, buf, sizeof(buf), &len, &err), 0);
	assert_int_equal(seccert_parse(buf, len, &im, &err), 0);
	assert_int_equal(im->tlv_count, 2);
	assert_int_equal(im->used, len);
	assert_int_equal(im->tlvs[0].type, SECCERT_DEV_CERT);
	seccert_image_free(im);
	/* A partition too small for it. */
	assert_int_equal(seccert_issue_image(ca->cert, x, k, true, buf, 1024, &len, &err), SECCERT_ETOOBIG);

	X509_free(x);
	X509_free(back);
	EVP_PKEY_free(k);
	EVP_PKEY_free(kback);
	seccert_ca_free(ca);
}

/* A key made beforehand (the station's key pool) is the one certified. */
static void test_seccert_issue_given_key(void **state)
{
	struct seccert_profile p;
	struct seccert_err err = {0};
	struct seccert_ca *ca = load_ca("ca_cert.pem", "ca_key.pem", 0, NULL);
	struct seccert_vars v = {.mac = MAC, .field = field};
	EVP_PKEY *given = NULL, *key = NULL;
	X509 *x = NULL;
	(void)state;

	assert_int_equal(seccert_profile_parse(profile_ec, strlen(profile_ec), &p, &err), 0);
	assert_int_equal(seccert_keygen(SECCERT_KEY_EC_P256, &given, &err), 0);
	assert_int_equal(seccert_issue_key(&p, ca, &v, given, &x, &key, &err), 0);
	assert_ptr_equal(key, given);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), given), 1);
	check_cert(x, key, ca);
	X509_free(x);
	EVP_PKEY_free(key);
	/* The wrong type is refused, and the key is freed (ASan's leak check). */
	assert_int_equal(seccert_keygen(SECCERT_KEY_RSA_2048, &given, &err), 0);
	assert_int_equal(seccert_issue_key(&p, ca, &v, given, &x, &key, &err), SECCERT_EINVAL);
	assert_null(x);
	assert_null(key);
	assert_non_null(strstr(err.msg, "not of the profile's type"));
	seccert_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seccert_issue_profile),         cmocka_unit_test(test_seccert_issue_ec_and_rsa),
	    cmocka_unit_test(test_seccert_issue_template_errors), cmocka_unit_test(test_seccert_issue_ca_refusals),
	    cmocka_unit_test(test_seccert_issue_image),          cmocka_unit_test(test_seccert_issue_given_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
