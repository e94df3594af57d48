/* bench_nvs: images per second built in memory through the espfab_nvsgen API
 * (one thread): a 0x6000 partition with namespace mass_prod and three strings
 * (ProductID, DeviceSecret of 32 characters, DeviceName), plain and
 * AES-256-XTS encrypted. Values change per image, as on a production line.
 *   bench_nvs [CPU seconds per mode, default 2]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/nvs.h"

#define BENCH_SIZE 0x6000u

/* Thread CPU time: the machine is shared, so wall time would mostly measure
 * the other processes; both are printed. */
static double bench_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_image(struct nvs_gen *g, unsigned long i, const uint8_t *key, uint8_t *buf, struct nvs_err *err)
{
	char secret[33], name[32];
	size_t len;

	snprintf(secret, sizeof(secret), "%08lx%024lu", i * 2654435761ul, i);
	int n = snprintf(name, sizeof(name), "dev-%06lu", i);
	nvs_gen_reset(g);
	if (nvs_gen_add_row(g, "mass_prod", "namespace", "", "", 0, err) < 0 ||
	    nvs_gen_add_row(g, "ProductID", "data", "string", "ESP32-PRO-1", 11, err) < 0 ||
	    nvs_gen_add_row(g, "DeviceSecret", "data", "string", secret, 32, err) < 0 ||
	    nvs_gen_add_row(g, "DeviceName", "data", "string", name, (size_t)n, err) < 0)
		return -1;
	return nvs_gen_finish(g, key, buf, BENCH_SIZE, &len, err);
}

static double bench_mode(struct nvs_gen *g, const uint8_t *key, uint8_t *buf, double seconds, unsigned long *count,
			 double *wall_rate)
{
	struct nvs_err err = {0};
	unsigned long i = 0;
	double t0 = bench_clock(CLOCK_THREAD_CPUTIME_ID), w0 = bench_clock(CLOCK_MONOTONIC), t;

	do {
		for (unsigned k = 0; k < 1000; k++, i++) {
			if (bench_image(g, i, key, buf, &err) < 0) {
				fprintf(stderr, "bench_nvs: %s\n", err.msg);
				exit(1);
			}
		}
		t = bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
	} while (t < seconds);
	*count = i;
	*wall_rate = (double)i / (bench_clock(CLOCK_MONOTONIC) - w0);
	return (double)i / t;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	struct nvs_err err = {0};
	struct nvs_gen *g = NULL;
	uint8_t key[NVS_XTS_KEY_LEN];
	static uint8_t buf[BENCH_SIZE];
	unsigned long n_plain, n_enc;
	double plain, enc, plain_wall, enc_wall;

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	if (seconds <= 0)
		seconds = 2.0;
	if (nvs_gen_new(&g, BENCH_SIZE, NVS_VERSION_2, &err) < 0) {
		fprintf(stderr, "bench_nvs: %s\n", err.msg);
		return 1;
	}
	plain = bench_mode(g, NULL, buf, seconds, &n_plain, &plain_wall);
	enc = bench_mode(g, key, buf, seconds, &n_enc, &enc_wall);
	nvs_gen_free(g);
	printf("bench_nvs: 0x6000 image, namespace mass_prod + 3 strings, one thread, in memory\n");
	printf("%-10s %10s %14s %14s %12s %10s\n", "mode", "images", "images/cpu-s", "images/wall-s", "reference/s",
	       "target/s");
	printf("%-10s %10lu %14.0f %14.0f %12s %10s\n", "plain", n_plain, plain, plain_wall, "~40,000", "400,000");
	printf("%-10s %10lu %14.0f %14.0f %12s %10s\n", "encrypted", n_enc, enc, enc_wall, "~6,840", "100,000");
	return 0;
}
