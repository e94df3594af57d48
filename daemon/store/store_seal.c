/* Sealing field values at rest: AES-256-GCM under a key from a file.
 *
 * From the one 32-byte key three purpose keys are derived with
 * HMAC-SHA256(key, label), so the encryption key never doubles as a MAC key:
 *   "espfab seal enc v1"    AES-256-GCM key for values
 *   "espfab seal check v1"  stored in meta: tells a wrong key from a right one
 *   "espfab unique v1"      keys the digests of --unique values
 * A sealed value is nonce(12) || ciphertext || tag(16); the AAD names the
 * product, record id and field so a ciphertext cannot be moved to another
 * record or field without failing to open.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/fsu.h"
#include "espfab/le.h"
#include "store_int.h"

#define NONCE_LEN 12
#define TAG_LEN 16

static int derive(const uint8_t *key, const char *label, uint8_t out[32])
{
	unsigned len = 32;
	return HMAC(EVP_sha256(), key, STORE_SEAL_KEY_LEN, (const unsigned char *)label, strlen(label), out, &len)
		       ? 0
		       : -1;
}

void store_value_aad(char *buf, size_t len, int64_t product_id, const char *record_id, int pos)
{
	snprintf(buf, len, "espfab:%lld:%d:%s", (long long)product_id, pos, record_id);
}

int store_seal(const struct store *s, const uint8_t *pt, size_t len, const char *aad, uint8_t **out,
	       size_t *out_len, struct store_err *err)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t k[32], *buf = NULL;
	int n, rc = STORE_ESEAL;

	*out = NULL;
	if (!s->has_key)
		return store_fail_err(err, STORE_ESEAL, "no seal key");
	if (len > INT32_MAX)
		return store_fail_err(err, STORE_EINPUT, "value too long to seal");
	buf = malloc(NONCE_LEN + len + TAG_LEN);
	if (!buf) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	if (derive(s->key, "espfab seal enc v1", k) || RAND_bytes(buf, NONCE_LEN) != 1 ||
	    !(c = EVP_CIPHER_CTX_new()) || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, buf) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(c, buf + NONCE_LEN, &n, pt, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, buf + NONCE_LEN + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + NONCE_LEN + len) != 1) {
		store_fail_err(err, STORE_ESEAL, "sealing failed");
		goto out;
	}
	*out = buf;
	*out_len = NONCE_LEN + len + TAG_LEN;
	buf = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	free(buf);
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

int store_unseal(const struct store *s, const uint8_t *ct, size_t len, const char *aad, uint8_t **out,
		 size_t *out_len, struct store_err *err)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t k[32], *buf = NULL;
	size_t plen;
	int n, rc = STORE_ESEAL;

	*out = NULL;
	if (!s->has_key)
		return store_fail_err(err, STORE_ESEAL, "the records are sealed: a seal key is needed");
	if (len < NONCE_LEN + TAG_LEN || len - NONCE_LEN - TAG_LEN > INT32_MAX)
		return store_fail_err(err, STORE_ESEAL, "sealed value is truncated");
	plen = len - NONCE_LEN - TAG_LEN;
	buf = malloc(plen + 1);
	if (!buf) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	if (derive(s->key, "espfab seal enc v1", k) || !(c = EVP_CIPHER_CTX_new()) ||
	    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, ct) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(c, buf, &n, ct + NONCE_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(ct + NONCE_LEN + plen)) != 1 ||
	    EVP_DecryptFinal_ex(c, buf + n, &n) != 1) {
		store_fail_err(err, STORE_ESEAL, "sealed value does not open (wrong key or tampered)");
		goto out;
	}
	buf[plen] = '\0';
	*out = buf;
	*out_len = plen;
	buf = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	if (buf) {
		OPENSSL_cleanse(buf, plen + 1);
		free(buf);
	}
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

int store_unique_digest(const struct store *s, int pos, const uint8_t *v, size_t len, uint8_t out[32],
			struct store_err *err)
{
	static const uint8_t plain_key[STORE_SEAL_KEY_LEN] = {0};
	uint8_t k[32], p[4];
	unsigned olen = 32;
	int rc = 0;

	le_put32(p, (uint32_t)pos);
	/* Unsealed databases hold the plaintext anyway; a fixed key keeps one code path. */
	if (derive(s->has_key ? s->key : plain_key, "espfab unique v1", k))
		return store_fail_err(err, STORE_ESEAL, "digest failed");
	uint8_t *msg = malloc(len + 4);
	if (!msg) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(msg, p, 4);
	if (len)
		memcpy(msg + 4, v, len);
	if (!HMAC(EVP_sha256(), k, sizeof(k), msg, len + 4, out, &olen))
		rc = store_fail_err(err, STORE_ESEAL, "digest failed");
	OPENSSL_cleanse(msg, len + 4);
	free(msg);
out:
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

int store_seal_check_value(const struct store *s, uint8_t out[32])
{
	return derive(s->key, "espfab seal check v1", out);
}

int store_db_sealed(struct store *s, int *sealed, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prep(s, &st, "SELECT 1 FROM meta WHERE name = 'seal_check'", err);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*sealed = rc == SQLITE_ROW;
	store_unprep(s, st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, err, "meta");
}

/* need = 1: called inside an import transaction; a key given to an empty,
 * never-sealed database becomes its key. */
int store_seal_check(struct store *s, int need, struct store_err *err)
{
	sqlite3_stmt *st = NULL;
	uint8_t check[32];
	int rc;

	rc = store_prep(s, &st, "SELECT value FROM meta WHERE name = 'seal_check'", err);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int ok = 1;
		if (s->has_key) {
			ok = !derive(s->key, "espfab seal check v1", check) && sqlite3_column_bytes(st, 0) == 32 &&
			     CRYPTO_memcmp(check, sqlite3_column_blob(st, 0), 32) == 0;
		}
		store_unprep(s, st);
		if (!s->has_key)
			return need ? store_fail_err(err, STORE_ESEAL,
						     "the records are sealed: a seal key is needed (--seal-key)")
				    : 0;
		return ok ? 0 : store_fail_err(err, STORE_ESEAL, "the seal key does not match this database");
	}
	store_unprep(s, st);
	if (rc != SQLITE_DONE)
		return store_db_err(s, err, "meta");
	if (!s->has_key || !need)
		return 0;
	/* First sealed import: only a database without records may start
	 * sealing, so a database is either wholly sealed or wholly plain. */
	rc = store_prep(s, &st, "SELECT count(*) FROM records", err);
	if (rc)
		return rc;
	int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	store_unprep(s, st);
	if (n != 0)
		return store_fail_err(err, STORE_ESEAL,
				      "this database already holds unsealed records: sealing must start empty");
	if (derive(s->key, "espfab seal check v1", check))
		return store_fail_err(err, STORE_ESEAL, "key derivation failed");
	rc = store_prep(s, &st, "INSERT INTO meta (name, value) VALUES ('seal_check', ?)", err);
	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, check, sizeof(check), SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "meta");
	store_unprep(s, st);
	return rc;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int store_seal_key_read(const char *path, uint8_t *key, struct store_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0, n;
	/* 32 raw bytes or 64 hex digits and line ends: a longer file is no key */
	int rc = fsu_read_file(path, 130, &buf, &len);

	if (rc == -EFBIG)
		return store_fail_err(err, STORE_EINPUT, "%s: a seal key is 32 raw bytes or 64 hex digits", path);
	if (rc)
		return store_fail_err(err, STORE_EIO, "%s: %s", path, strerror(-rc));
	n = len;
	if (n == STORE_SEAL_KEY_LEN) {
		memcpy(key, buf, STORE_SEAL_KEY_LEN);
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n != 2 * STORE_SEAL_KEY_LEN) {
		rc = store_fail_err(err, STORE_EINPUT, "%s: a seal key is 32 raw bytes or 64 hex digits", path);
		goto out;
	}
	for (size_t i = 0; i < STORE_SEAL_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			rc = store_fail_err(err, STORE_EINPUT, "%s: a seal key is 32 raw bytes or 64 hex digits",
					    path);
			goto out;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
out:
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}
