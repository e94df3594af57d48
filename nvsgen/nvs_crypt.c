/* NVS encryption: AES-256-XTS per 32-byte entry (OpenSSL EVP), key files and
 * the HMAC-based key derivation of nvs_partition_gen.py's generate-key. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "nvs_internal.h"

void nvs_xts_init(struct nvs_xts *x)
{
	x->ctx = NULL;
	x->enc = -1;
	x->key_len = 0;
	memset(x->key, 0, sizeof(x->key));
}

void nvs_xts_deinit(struct nvs_xts *x)
{
	EVP_CIPHER_CTX_free(x->ctx);
	x->ctx = NULL;
	x->enc = -1;
	OPENSSL_cleanse(x->key, sizeof(x->key));
}

/* AES-XTS with a 32-byte key is AES-128-XTS, with 64 bytes AES-256-XTS: the
 * two sizes cryptography's modes.XTS accepts. */
static int nvs_xts_setkey_len(struct nvs_xts *x, const uint8_t *key, size_t key_len, int enc, struct nvs_err *err)
{
	if (key_len != 32 && key_len != NVS_XTS_KEY_LEN)
		return nvs_fail(err, NVS_ECRYPTO, "an AES-XTS key has 32 or 64 bytes, this one %zu", key_len);
	if (!x->ctx) {
		x->ctx = EVP_CIPHER_CTX_new();
		if (!x->ctx)
			return nvs_fail(err, NVS_ENOMEM, "out of memory");
	}
	/* The key schedule is kept between images while the key stays the
	 * same; per entry only the tweak (IV) changes. */
	if (x->enc == enc && x->key_len == key_len && !CRYPTO_memcmp(x->key, key, key_len))
		return 0;
	x->enc = -1;
	if (!EVP_CipherInit_ex(x->ctx, key_len == 32 ? EVP_aes_128_xts() : EVP_aes_256_xts(), NULL, key, NULL, enc))
		/* OpenSSL refuses XTS keys whose two halves are equal (so does
		 * cryptography: "duplicated keys are not allowed"). */
		return nvs_fail(err, NVS_ECRYPTO, "the XTS key was refused (are its two halves equal?)");
	memcpy(x->key, key, key_len);
	x->key_len = key_len;
	x->enc = enc;
	return 0;
}

int nvs_xts_setkey(struct nvs_xts *x, const uint8_t key[NVS_XTS_KEY_LEN], int enc, struct nvs_err *err)
{
	return nvs_xts_setkey_len(x, key, NVS_XTS_KEY_LEN, enc, err);
}

int nvs_xts_run(struct nvs_xts *x, uint64_t offset, const uint8_t *in, uint8_t *out, size_t len, struct nvs_err *err)
{
	uint8_t tweak[16] = {0};
	int outl = 0;

	for (int i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(offset >> (8 * i));
	if (len < 16 || !EVP_CipherInit_ex(x->ctx, NULL, NULL, NULL, tweak, x->enc) ||
	    !EVP_CipherUpdate(x->ctx, out, &outl, in, (int)len) || (size_t)outl != len)
		return nvs_fail(err, NVS_ECRYPTO, "AES-XTS failed at offset 0x%llx", (unsigned long long)offset);
	return 0;
}

int nvs_keyfile_parse(const uint8_t *data, size_t len, uint8_t key[NVS_XTS_KEY_LEN], struct nvs_err *err)
{
	if (len < NVS_XTS_KEY_LEN)
		return nvs_fail(err, NVS_EINPUT, "key file holds %zu bytes, the XTS key needs %u", len, NVS_XTS_KEY_LEN);
	memcpy(key, data, NVS_XTS_KEY_LEN);
	return 0;
}

void nvs_keyfile_build(const uint8_t key[NVS_XTS_KEY_LEN], uint8_t out[NVS_KEYFILE_SIZE])
{
	memset(out, 0xFF, NVS_KEYFILE_SIZE);
	memcpy(out, key, NVS_XTS_KEY_LEN);
	le_put32(out + NVS_XTS_KEY_LEN, nvs_crc32(key, NVS_XTS_KEY_LEN));
}

int nvs_key_random(uint8_t *key, size_t len, struct nvs_err *err)
{
	if (RAND_bytes(key, (int)len) != 1)
		return nvs_fail(err, NVS_ECRYPTO, "the random generator failed");
	return 0;
}

int nvs_key_from_hmac(const uint8_t *hmac_key, size_t hmac_len, uint8_t key[NVS_XTS_KEY_LEN], struct nvs_err *err)
{
	/* HMAC_EKEY_SEED / HMAC_TKEY_SEED of the reference, each repeated 8 times. */
	static const uint8_t seed_e[4] = {0x5A, 0x5A, 0xBE, 0xAE}, seed_t[4] = {0xA5, 0xA5, 0xDE, 0xCE};
	static const uint8_t empty[1] = {0};
	uint8_t msg[32];
	unsigned int outl = 0;
	int rc = 0;

	for (int half = 0; half < 2 && rc == 0; half++) {
		for (int i = 0; i < 8; i++)
			memcpy(msg + 4 * i, half ? seed_t : seed_e, 4);
		if (!HMAC(EVP_sha256(), hmac_len ? hmac_key : empty, (int)hmac_len, msg, sizeof(msg), key + 32 * half,
			  &outl) ||
		    outl != 32)
			rc = nvs_fail(err, NVS_ECRYPTO, "HMAC-SHA256 failed");
	}
	if (rc < 0)
		OPENSSL_cleanse(key, NVS_XTS_KEY_LEN);
	return rc;
}

int nvs_decrypt_image_key(const uint8_t *in, size_t len, const uint8_t *key, size_t key_len, uint8_t *out,
			  size_t *out_len, struct nvs_err *err)
{
	static const uint8_t empty[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	struct nvs_xts x;
	unsigned file_entry = 0, decrypted = 0;
	uint64_t page = 0;
	int rc = 0;

	*out_len = 0;
	nvs_xts_init(&x);
	if (len == 0) {
		/* The reference's output buffer starts as one 0xFF byte. */
		out[0] = 0xFF;
		*out_len = 1;
		goto out;
	}
	for (size_t pos = 0; pos < len; pos += 32) {
		size_t n = len - pos < 32 ? len - pos : 32;
		if (file_entry == 128) {
			file_entry = 0;
			decrypted = 0;
			page++;
		}
		/* The tweak counts only the entries decrypted so far in the page:
		 * right as long as the written entries are contiguous. */
		if (file_entry >= 2 && !(n == 32 && !memcmp(in + pos, empty, 32))) {
			/* Like the reference, a key is only needed (and checked) once
			 * there is something to decrypt. */
			rc = nvs_xts_setkey_len(&x, key, key_len, 0, err);
			if (rc < 0)
				goto out;
			rc = nvs_xts_run(&x, page * NVS_PAGE_SIZE + NVS_FIRST_ENTRY + decrypted * 32u, in + pos,
					 out + pos, n, err);
			if (rc < 0)
				goto out;
			decrypted++;
		} else {
			memcpy(out + pos, in + pos, n);
		}
		file_entry++;
	}
	*out_len = len;
out:
	nvs_xts_deinit(&x);
	return rc;
}

int nvs_decrypt_image(const uint8_t *in, size_t len, const uint8_t key[NVS_XTS_KEY_LEN], uint8_t *out,
		      size_t *out_len, struct nvs_err *err)
{
	return nvs_decrypt_image_key(in, len, key, NVS_XTS_KEY_LEN, out, out_len, err);
}
