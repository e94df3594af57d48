/* Encryption, key files and decryption against the reference's outputs
 * (../shared/golden/nvs 087, 089, 096, 104). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/nvs.h"
#include "nvs_testutil.h"

#define GOLDEN ESPFAB_SHARED_DIR "/golden/nvs/"

static uint8_t *slurp(const char *rel, size_t *len)
{
	char path[512];
	struct nvs_err err;
	uint8_t *data = NULL;

	snprintf(path, sizeof(path), GOLDEN "%s", rel);
	assert_int_equal(nvs_file_read(path, &data, len, &err), 0);
	return data;
}

static void test_nvs_crypt_keyfile_layout(void **state)
{
	(void)state;
	uint8_t key[NVS_XTS_KEY_LEN], file[NVS_KEYFILE_SIZE], parsed[NVS_XTS_KEY_LEN];
	struct nvs_err err;
	size_t len;
	uint8_t *want = slurp("087-enc-v2-small/nvs_keys.bin", &len);

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	nvs_keyfile_build(key, file);
	assert_int_equal(len, NVS_KEYFILE_SIZE);
	assert_memory_equal(file, want, NVS_KEYFILE_SIZE);
	assert_int_equal(nvs_keyfile_parse(file, 64, parsed, &err), 0);
	assert_memory_equal(parsed, key, 64);
	assert_int_equal(nvs_keyfile_parse(file, 63, parsed, &err), NVS_EINPUT);
	free(want);
}

static void test_nvs_crypt_hmac_key_derivation(void **state)
{
	(void)state;
	uint8_t key[NVS_XTS_KEY_LEN], file[NVS_KEYFILE_SIZE];
	struct nvs_err err;
	size_t hlen, wlen;
	uint8_t *hmac = slurp("096-enc-generate-key-hmac/hmac_key.bin", &hlen);
	uint8_t *want = slurp("096-enc-generate-key-hmac/keys/nvs_keys.bin", &wlen);

	assert_int_equal(nvs_key_from_hmac(hmac, hlen, key, &err), 0);
	nvs_keyfile_build(key, file);
	assert_int_equal(wlen, sizeof(file));
	assert_memory_equal(file, want, wlen);
	free(hmac);
	free(want);
}

static void check_encrypted(const char *case_dir, uint32_t size, enum nvs_version v)
{
	char rel[256];
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	size_t csv_len, key_len, want_len, out_len;
	uint8_t key[NVS_XTS_KEY_LEN], *out = malloc(size);
	uint8_t *csv, *keyfile, *want;
	struct nvs_file_source files;
	char base[512];

	snprintf(base, sizeof(base), GOLDEN "%s", case_dir);
	nvs_file_source_init(&files, base);
	snprintf(rel, sizeof(rel), "%s/input.csv", case_dir);
	csv = slurp(rel, &csv_len);
	snprintf(rel, sizeof(rel), "%s/nvs_keys.bin", case_dir);
	keyfile = slurp(rel, &key_len);
	snprintf(rel, sizeof(rel), "%s/expected.bin", case_dir);
	want = slurp(rel, &want_len);
	assert_int_equal(nvs_keyfile_parse(keyfile, key_len, key, &err), 0);
	assert_int_equal(nvs_gen_new(&g, size, v, &err), 0);
	assert_int_equal(nvs_gen_add_csv(g, (const char *)csv, csv_len, "input.csv", &files, &err), 0);
	assert_int_equal(nvs_gen_finish(g, key, out, size, &out_len, &err), 0);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len);
	/* The same generator, finished again: the cached key schedule is reused. */
	memset(out, 0, size);
	assert_int_equal(nvs_gen_finish(g, key, out, size, &out_len, &err), 0);
	assert_memory_equal(out, want, want_len);
	nvs_gen_free(g);
	free(out);
	free(csv);
	free(keyfile);
	free(want);
}

static void test_nvs_crypt_encrypted_images(void **state)
{
	(void)state;
	check_encrypted("087-enc-v2-small", 0x6000, NVS_VERSION_2);
	check_encrypted("089-enc-v2-multipage", 0x8000, NVS_VERSION_2);
	check_encrypted("090-enc-v1-multipage", 0x8000, NVS_VERSION_1);
	check_encrypted("095-enc-wifi", 0x6000, NVS_VERSION_2);
}

static void test_nvs_crypt_decrypt_image(void **state)
{
	(void)state;
	struct nvs_err err = {0};
	size_t in_len, key_len, want_len, out_len;
	uint8_t key[NVS_XTS_KEY_LEN], one[1];
	uint8_t *in = slurp("104-enc-decrypt-roundtrip/encrypted.bin", &in_len);
	uint8_t *kf = slurp("104-enc-decrypt-roundtrip/nvs_keys.bin", &key_len);
	uint8_t *want = slurp("104-enc-decrypt-roundtrip/expected.bin", &want_len);
	uint8_t *out = malloc(in_len);

	assert_int_equal(nvs_keyfile_parse(kf, key_len, key, &err), 0);
	assert_int_equal(nvs_decrypt_image(in, in_len, key, out, &out_len, &err), 0);
	assert_int_equal(out_len, want_len);
	assert_memory_equal(out, want, want_len);
	/* An empty input gives the reference's single 0xFF byte. */
	assert_int_equal(nvs_decrypt_image(in, 0, key, one, &out_len, &err), 0);
	assert_int_equal(out_len, 1);
	assert_int_equal(one[0], 0xFF);
	/* A trailing run shorter than one AES block cannot be decrypted. */
	assert_int_equal(nvs_decrypt_image(in, 64 + 40, key, out, &out_len, &err), NVS_ECRYPTO);
	free(in);
	free(kf);
	free(want);
	free(out);
}

/* The reference's `decrypt` reads 64 bytes of the key file and hands what
 * it got to cryptography's AES/XTS: 32 bytes are an AES-128-XTS key, other
 * lengths fail at the first entry to decrypt, and an image with nothing to
 * decrypt needs no valid key at all. SHA-256 below: nvs_partition_gen.py
 * 0.2.0 `decrypt encrypted.bin k32.bin out.bin` with the 104 case's image and
 * a key file holding bytes 00..1f. */
static void test_nvs_crypt_decrypt_key_lengths(void **state)
{
	(void)state;
	struct nvs_err err = {0};
	size_t in_len, out_len;
	uint8_t key[32], blank[0x2000];
	uint8_t *in = slurp("104-enc-decrypt-roundtrip/encrypted.bin", &in_len);
	uint8_t *out = malloc(in_len > sizeof(blank) ? in_len : sizeof(blank));
	char hex[65];

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	assert_int_equal(nvs_decrypt_image_key(in, in_len, key, 32, out, &out_len, &err), 0);
	assert_int_equal(out_len, in_len);
	tu_sha256_hex(out, out_len, hex);
	assert_string_equal(hex, "d168247ad5fb46081e08e057f52c62c64f8287e7ba6ecebc2f01cb0bfcb6f896");
	assert_int_equal(nvs_decrypt_image_key(in, in_len, key, 10, out, &out_len, &err), NVS_ECRYPTO);
	assert_int_equal(nvs_decrypt_image_key(in, in_len, key, 0, out, &out_len, &err), NVS_ECRYPTO);
	/* nothing but 0xFF and page headers: no key needed */
	memset(blank, 0xFF, sizeof(blank));
	memcpy(blank, in, 64);
	assert_int_equal(nvs_decrypt_image_key(blank, sizeof(blank), key, 10, out, &out_len, &err), 0);
	assert_int_equal(out_len, sizeof(blank));
	assert_memory_equal(out, blank, sizeof(blank));
	free(in);
	free(out);
}

/* An image without a single entry (a CSV with only its header) is written
 * by the reference's `encrypt` whatever the key: no entry is ever
 * encrypted, so cryptography never sees it (even a key with equal halves). */
static void test_nvs_crypt_no_entries_needs_no_valid_key(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	uint8_t key[NVS_XTS_KEY_LEN];
	static uint8_t plain[0x3000], enc[0x3000];
	size_t lp, le;

	memset(key, 0x42, sizeof(key));
	assert_int_equal(nvs_gen_new(&g, sizeof(plain), NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_csv(g, "key,type,encoding,value\n", 24, "h.csv", NULL, &err), 0);
	assert_int_equal(nvs_gen_entry_count(g), 0);
	assert_int_equal(nvs_gen_finish(g, NULL, plain, sizeof(plain), &lp, &err), 0);
	assert_int_equal(nvs_gen_finish(g, key, enc, sizeof(enc), &le, &err), 0);
	assert_int_equal(lp, le);
	assert_memory_equal(plain, enc, lp);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	assert_int_equal(nvs_gen_entry_count(g), 1);
	assert_int_equal(nvs_gen_finish(g, key, enc, sizeof(enc), &le, &err), NVS_ECRYPTO);
	nvs_gen_free(g);
}

static void test_nvs_crypt_rejects_equal_key_halves(void **state)
{
	(void)state;
	struct nvs_gen *g = NULL;
	struct nvs_err err = {0};
	uint8_t key[NVS_XTS_KEY_LEN], out[0x3000];
	size_t len;

	memset(key, 0x42, sizeof(key));
	assert_int_equal(nvs_gen_new(&g, sizeof(out), NVS_VERSION_2, &err), 0);
	assert_int_equal(nvs_gen_add_row(g, "ns", "namespace", "", "", 0, &err), 0);
	assert_int_equal(nvs_gen_finish(g, key, out, sizeof(out), &len, &err), NVS_ECRYPTO);
	assert_int_equal(len, 0);
	nvs_gen_free(g);
}

static void test_nvs_crypt_random_keys_differ(void **state)
{
	(void)state;
	uint8_t a[NVS_XTS_KEY_LEN], b[NVS_XTS_KEY_LEN];
	struct nvs_err err;

	assert_int_equal(nvs_key_random(a, sizeof(a), &err), 0);
	assert_int_equal(nvs_key_random(b, sizeof(b), &err), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nvs_crypt_keyfile_layout),
		cmocka_unit_test(test_nvs_crypt_hmac_key_derivation),
		cmocka_unit_test(test_nvs_crypt_encrypted_images),
		cmocka_unit_test(test_nvs_crypt_decrypt_image),
		cmocka_unit_test(test_nvs_crypt_rejects_equal_key_halves),
		cmocka_unit_test(test_nvs_crypt_decrypt_key_lengths),
		cmocka_unit_test(test_nvs_crypt_no_entries_needs_no_valid_key),
		cmocka_unit_test(test_nvs_crypt_random_keys_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
