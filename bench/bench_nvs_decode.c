/* bench_nvs_decode: images decoded per second, one thread, for the image the
 * station writes most (0x6000, namespace mass_prod with ProductID,
 * DeviceSecret and DeviceName), plain and encrypted: the cost of the
 * daemon's read-back check. Prints figures, asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/nvs.h"
#include "espfab/nvs_decode.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t img[0x6000];
	uint8_t key[NVS_XTS_KEY_LEN];
	struct nvs_gen *g = NULL;
	struct nvs_err err;
	size_t len;
	long n = argc > 1 ? atol(argv[1]) : 20000;

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	if (nvs_gen_new(&g, sizeof(img), NVS_VERSION_2, &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	for (int enc = 0; enc < 2; enc++) {
		double t0, c0, t, c;
		nvs_gen_reset(g);
		if (nvs_gen_add_row(g, "mass_prod", "namespace", "", "", 0, &err) ||
		    nvs_gen_add_row(g, "ProductID", "data", "string", "PRD-000001", 10, &err) ||
		    nvs_gen_add_row(g, "DeviceSecret", "data", "string", "9f86d081884c7d659a2feaa0c55ad015", 32, &err) ||
		    nvs_gen_add_row(g, "DeviceName", "data", "string", "lamp-0001", 9, &err) ||
		    nvs_gen_finish(g, enc ? key : NULL, img, sizeof(img), &len, &err))
			return fprintf(stderr, "%s\n", err.msg), 1;
		t0 = now();
		c0 = cpu();
		for (long i = 0; i < n; i++) {
			struct nvs_decode *d = NULL;
			if (nvs_decode_image(img, len, enc ? key : NULL, &d, &err) || d->problem_count ||
			    !nvs_decode_find(d, "mass_prod", "DeviceSecret"))
				return fprintf(stderr, "decode failed: %s\n", err.msg), 1;
			nvs_decode_free(d);
		}
		t = now() - t0;
		c = cpu() - c0;
		printf("nvs_decode_image %s 0x6000 image: %.0f images/s wall, %.0f per CPU-second (%ld images)\n",
		       enc ? "encrypted" : "plain", (double)n / t, (double)n / c, n);
	}
	nvs_gen_free(g);
	return 0;
}
