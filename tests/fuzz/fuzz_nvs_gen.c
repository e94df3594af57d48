/* libFuzzer harness: CSV text -> NVS image (plain, then encrypted and
 * decrypted back). The first byte picks the partition size, the format
 * version and whether "file" rows are served (by a fake source that returns
 * the path's own bytes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/nvs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_read(void *ctx, const char *path, uint8_t **out, size_t *len, struct nvs_err *err)
{
	size_t n = strlen(path);
	(void)ctx;
	(void)err;
	*out = malloc(n ? n : 1);
	if (!*out)
		return NVS_ENOMEM;
	memcpy(*out, path, n);
	*len = n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t sizes[4] = {0x1000, 0x2000, 0x3000, 0x6000};
	static uint8_t img[0x6000 + 11 * 6], dec[0x6000 + 11 * 6];
	struct nvs_file_source files = {fake_read, NULL};
	struct nvs_gen *g = NULL;
	struct nvs_err err;
	uint8_t key[NVS_XTS_KEY_LEN];
	size_t len = 0, len2 = 0, dlen = 0;
	uint32_t part;

	if (size < 1)
		return 0;
	part = sizes[data[0] & 3];
	if (nvs_gen_new(&g, part, (data[0] & 4) ? NVS_VERSION_1 : NVS_VERSION_2, &err) < 0)
		abort();
	if (nvs_gen_add_csv(g, (const char *)data + 1, size - 1, "fuzz.csv", (data[0] & 8) ? &files : NULL, &err) == 0) {
		/* A plain image may be longer than the partition by the reference's
		 * grown entries (a few bytes per page); the encrypted one never is. */
		if (nvs_gen_finish(g, NULL, img, sizeof(img), &len, &err) < 0 || len != nvs_gen_image_len(g) ||
		    len > part + 11 * (part / 4096))
			abort();
		for (unsigned i = 0; i < sizeof(key); i++)
			key[i] = (uint8_t)i;
		if (nvs_gen_finish(g, key, img, sizeof(img), &len2, &err) < 0 || len2 > len || len2 > part ||
		    len2 % 4096)
			abort();
		if (nvs_decrypt_image(img, len2, key, dec, &dlen, &err) < 0 || dlen != len2)
			abort();
	} else if (err.msg[0] == '\0' || strchr(err.msg, '\n')) {
		abort(); /* every error is one non-empty line */
	}
	nvs_gen_free(g);
	return 0;
}
