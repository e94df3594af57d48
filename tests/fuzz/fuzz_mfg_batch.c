/* Fuzz the mfg batch parser: a config CSV and a values CSV (split at the
 * first NUL byte of the input) either make a batch whose every device CSV
 * and image can be built, or are refused with a message. Never a crash, a
 * leak or a hang. `file` rows are refused (no file source) so the harness
 * does no I/O. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/mfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t img[0x3000];
	struct mfg_batch_params p = {.config_name = "c.csv", .values_name = "v.csv", .prefix = "p"};
	const uint8_t *sep;
	struct mfg_batch *b = NULL;
	struct nvs_gen *g = NULL;
	struct nvs_err nerr;
	struct mfg_err err;
	char *csv = NULL;
	size_t cap = 0, len, clen;

	if (size > 16384)
		return 0;
	sep = memchr(data, 0, size);
	if (!sep)
		return 0;
	clen = (size_t)(sep - data);
	/* the byte after the NUL picks options */
	if (clen + 1 < size) {
		uint8_t opt = data[clen + 1];
		p.fileid = (opt & 1) ? "id" : NULL;
		p.prefix_num = (opt & 2) != 0;
		p.prefix_start = opt >> 4;
		p.prefix_digits = opt & 7;
		p.keygen = (opt & 8) != 0;
	}
	if (mfg_batch_new(&b, (const char *)data, clen, (const char *)sep + 1, size - clen - 1, &p, &err) == 0) {
		if (nvs_gen_new(&g, sizeof(img), NVS_VERSION_2, &nerr) == 0) {
			for (size_t i = 0; i < mfg_batch_count(b) && i < 8; i++) {
				if (mfg_batch_csv(b, i, &csv, &cap, &len, &err) != 0 || strlen(mfg_batch_stem(b, i)) == 0)
					abort();
				(void)mfg_batch_image(b, i, g, NULL, NULL, img, sizeof(img), &len, &err);
			}
			nvs_gen_free(g);
		}
		free(csv);
		mfg_batch_free(b);
	} else if (!err.msg[0]) {
		abort(); /* a refusal always says why */
	}
	return 0;
}
