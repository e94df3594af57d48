/* Fuzz the NVS decoder: any bytes either decode (and every value can be read
 * back) or are rejected with a message; never a crash, leak or hang.
 * The first input byte chooses plain or encrypted decoding so both paths
 * (and the decrypt loop) get exercised. Inputs are padded/cut to whole pages
 * half the time so the fuzzer reaches the entry walker, not just the length
 * check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/nvs_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[NVS_XTS_KEY_LEN] = {
		0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
		22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
		44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
	struct nvs_decode *d = NULL;
	struct nvs_err err;
	uint8_t mode, *img;
	size_t len;
	volatile unsigned sink = 0;

	if (size < 1 || size > 64 * NVS_PAGE_SIZE)
		return 0;
	mode = data[0];
	data++;
	size--;
	len = size;
	if (mode & 1) /* round up to whole pages, pad with erased flash */
		len = (size + NVS_PAGE_SIZE - 1) / NVS_PAGE_SIZE * NVS_PAGE_SIZE;
	img = malloc(len ? len : 1);
	if (!img)
		return 0;
	memset(img, 0xFF, len);
	if (size)
		memcpy(img, data, size);
	if (nvs_decode_image(img, len, (mode & 2) ? key : NULL, &d, &err) == 0) {
		for (size_t i = 0; i < d->value_count; i++) {
			const struct nvs_decode_value *v = &d->values[i];
			for (size_t k = 0; k < v->len; k++)
				sink += v->data[k];
			if (v->ns)
				sink += nvs_decode_find(d, v->ns, v->key) != NULL;
		}
		for (size_t i = 0; i < d->problem_count; i++)
			sink += (unsigned)strlen(d->problems[i].msg);
		nvs_decode_free(d);
	} else if (!err.msg[0]) {
		abort(); /* a rejection always says why */
	}
	free(img);
	(void)sink;
	return 0;
}
