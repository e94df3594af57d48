/* `espfab nvs` as a process, where the command line itself decides what the
 * reference (nvs_partition_gen.py 0.2.0) would do: key files and arguments.
 * Expected files are the golden vectors (../shared/golden/nvs) or hashes of
 * the reference's outputs for the same inputs, noted per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "espfab/nvs.h"

#define GOLDEN ESPFAB_SHARED_DIR "/golden/nvs/"
#define ESPFAB "'" ESPFAB_BIN_DIR "/espfab' nvs "

static char scratch[256];

static int setup_scratch(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/test_nvs_cli.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown_scratch(void **state)
{
	char cmd[512];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* Run "cd scratch && <fmt...>" in a shell; the exit status. */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", scratch);
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint8_t *load(const char *path, size_t *len)
{
	struct nvs_err err;
	uint8_t *data = NULL;

	if (nvs_file_read(path, &data, len, &err) != 0)
		fail_msg("%s", err.msg);
	return data;
}

static void put(const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void assert_same_file(const char *rel, const char *golden)
{
	char path[512];
	size_t a, b;
	uint8_t *got, *want;

	snprintf(path, sizeof(path), "%s/%s", scratch, rel);
	got = load(path, &a);
	want = load(golden, &b);
	assert_int_equal(a, b);
	assert_memory_equal(got, want, b);
	free(got);
	free(want);
}

static int exists(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", scratch, rel);
	return access(path, F_OK) == 0;
}

/* An EMPTY --inputkey file: the reference's generate() does "if not
 * encr_key: encr_key = generate_key(args)", so it makes keys as --keygen
 * does (here HMAC-derived, hence deterministic). nvs_partition_gen.py 0.2.0
 * run as `encrypt input.csv out.bin 0x6000 --inputkey empty.bin
 * --key_protect_hmac --kp_hmac_inputkey hmac_key.bin --keyfile nvs_keys.bin`
 * on case 099's inputs writes exactly case 099's expected.bin and
 * keys/nvs_keys.bin. */
static void test_nvs_cli_empty_inputkey_makes_keys(void **state)
{
	(void)state;
	assert_int_equal(sh("cp " GOLDEN "099-enc-hmac-keygen/input.csv " GOLDEN "099-enc-hmac-keygen/hmac_key.bin . "
			    "&& : > empty.bin"),
			 0);
	assert_int_equal(sh(ESPFAB "encrypt input.csv out.bin 0x6000 --inputkey empty.bin --key_protect_hmac "
				   "--kp_hmac_inputkey hmac_key.bin --keyfile nvs_keys.bin >/dev/null"),
			 0);
	assert_same_file("out.bin", GOLDEN "099-enc-hmac-keygen/expected.bin");
	assert_same_file("keys/nvs_keys.bin", GOLDEN "099-enc-hmac-keygen/keys/nvs_keys.bin");
}

/* A key file shorter than 64 bytes (but not empty): the reference
 * hex-decodes it at the first entry it encrypts and fails; a CSV without a
 * single row never encrypts anything and its image is written (the same
 * bytes as `generate`). */
static void test_nvs_cli_short_inputkey(void **state)
{
	char plain[512];
	(void)state;
	put("h.csv", "key,type,encoding,value\n", 24);
	put("d.csv", "key,type,encoding,value\nns,namespace,,\n", 39);
	put("short.bin", "0123456789", 10);
	assert_int_equal(sh(ESPFAB "generate h.csv plain.bin 0x3000 >/dev/null"), 0);
	assert_int_equal(sh(ESPFAB "encrypt h.csv enc.bin 0x3000 --inputkey short.bin >/dev/null"), 0);
	snprintf(plain, sizeof(plain), "%s/plain.bin", scratch);
	assert_same_file("enc.bin", plain);
	/* one namespace entry to encrypt: refused, nothing written */
	assert_int_not_equal(sh(ESPFAB "encrypt d.csv enc2.bin 0x3000 --inputkey short.bin >/dev/null 2>&1"), 0);
	assert_false(exists("enc2.bin"));
}

/* `decrypt` with a 32-byte key file: AES-128-XTS in the reference
 * (cryptography's XTS takes 256- and 512-bit keys). SHA-256 of what
 * nvs_partition_gen.py 0.2.0 writes for case 104's encrypted.bin and a key
 * file of bytes 00..1f. */
static void test_nvs_cli_decrypt_32_byte_key(void **state)
{
	uint8_t key[32];
	(void)state;
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	put("k32.bin", key, sizeof(key));
	assert_int_equal(sh(ESPFAB "decrypt " GOLDEN "104-enc-decrypt-roundtrip/encrypted.bin k32.bin out.bin >/dev/null"),
			 0);
	assert_int_equal(sh("sha256sum out.bin | grep -q "
			    "'^d168247ad5fb46081e08e057f52c62c64f8287e7ba6ecebc2f01cb0bfcb6f896 '"),
			 0);
	/* 10 bytes are no AES-XTS key: refused, nothing written */
	put("k10.bin", key, 10);
	assert_int_not_equal(
		sh(ESPFAB "decrypt " GOLDEN "104-enc-decrypt-roundtrip/encrypted.bin k10.bin out2.bin >/dev/null 2>&1"), 0);
	assert_false(exists("out2.bin"));
}

/* The reference's command line is Python 3.11 argparse. What it does with
 * these (checked by running nvs_partition_gen.py 0.2.0): --version is
 * type=int, so " 01", "+1" and "\u0661" (Arabic-Indic one) are version 1; a
 * run of positionals cut by an option is not resumed after it, so
 * "a.csv --version 1 b.csv o.bin 0x3000" leaves "0x3000" unrecognized
 * (exit 2); "--" is absorbed by the positionals next to it, and a trailing
 * one is unrecognized. */
static void test_nvs_cli_argparse_like_reference(void **state)
{
	char want[512];
	(void)state;
	static const char a_csv[] = "key,type,encoding,value\nns,namespace,,\nk,data,u8,1\n";
	static const char b_csv[] = "key,type,encoding,value\nn2,namespace,,\nj,data,u16,2\n";
	put("a.csv", a_csv, strlen(a_csv));
	put("b.csv", b_csv, strlen(b_csv));
	assert_int_equal(sh(ESPFAB "generate a.csv v1.bin 0x3000 --version 1 >/dev/null"), 0);
	snprintf(want, sizeof(want), "%s/v1.bin", scratch);
	assert_int_equal(sh(ESPFAB "generate a.csv o1.bin 0x3000 --version ' 01' >/dev/null"), 0);
	assert_same_file("o1.bin", want);
	assert_int_equal(sh(ESPFAB "generate a.csv o2.bin 0x3000 --vers=+1 >/dev/null"), 0);
	assert_same_file("o2.bin", want);
	assert_int_equal(sh(ESPFAB "generate a.csv o3.bin 0x3000 --version \xd9\xa1 >/dev/null"), 0);
	assert_same_file("o3.bin", want);
	/* after "--" everything is positional: output "--version", refused */
	assert_int_not_equal(sh(ESPFAB "generate -- a.csv o4.bin 0x3000 --version 1 >/dev/null 2>&1"), 0);
	assert_int_equal(sh(ESPFAB "generate --version 1 -- a.csv o4.bin 0x3000 >/dev/null"), 0);
	assert_same_file("o4.bin", want);
	assert_int_equal(sh(ESPFAB "generate a.csv --version 1 b.csv o5.bin 0x3000 2>/dev/null"), 2);
	assert_false(exists("o5.bin"));
	assert_int_equal(sh(ESPFAB "generate a.csv b.csv --version 1 o6.bin 0x3000 2>/dev/null"), 2);
	assert_false(exists("o6.bin"));
	assert_int_equal(sh(ESPFAB "generate a.csv o7.bin 0x3000 --version 1 -- 2>/dev/null"), 2);
	assert_false(exists("o7.bin"));
	/* split before the last two positionals: fine */
	assert_int_equal(sh(ESPFAB "generate a.csv b.csv --version 2 o8.bin 0x3000 >/dev/null 2>&1"), 2);
	assert_int_equal(sh(ESPFAB "generate a.csv --version 1 o9.bin 0x3000 >/dev/null"), 0);
	assert_same_file("o9.bin", want);
	assert_int_equal(sh(ESPFAB "generate a.csv --version 3 o10.bin 0x3000 2>/dev/null"), 2);
	assert_int_equal(sh(ESPFAB "encrypt a.csv o11.bin 0x3000 --k x 2>/dev/null"), 2); /* ambiguous */
	assert_int_equal(sh(ESPFAB "generate a.csv o12.bin 0x3000 --outdir -x 2>/dev/null"), 2);
	assert_false(exists("o12.bin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nvs_cli_empty_inputkey_makes_keys, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_nvs_cli_short_inputkey, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_nvs_cli_decrypt_32_byte_key, setup_scratch, teardown_scratch),
		cmocka_unit_test_setup_teardown(test_nvs_cli_argparse_like_reference, setup_scratch, teardown_scratch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
