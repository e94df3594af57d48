/* Shared by the nvsgen unit tests (header only: each test is one program). */
#ifndef NVS_TESTUTIL_H
#define NVS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

/* Lower-case hex SHA-256, the form the golden notes quote for reference
 * images (cmocka's assert_* must be included first). */
static inline void tu_sha256_hex(const uint8_t *data, size_t len, char out[65])
{
	uint8_t md[32];
	unsigned int mdlen = 0;

	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

#endif
