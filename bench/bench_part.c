/* bench_part: how fast the partition-table module is in-process.
 *   bench_part [N]   (default 100000 iterations per figure)
 * Prints tables/s for: CSV -> verify -> binary (the two_ota table), and
 * part_locate() on a 0x1000-byte read-back (what the station does per device). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/part.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char csv[] = "nvs,data,nvs,,0x4000\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\n"
				  "factory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n";
	long n = argc > 1 ? atol(argv[1]) : 100000;
	uint8_t img[0x1000];
	struct part_err err;
	struct part_entry e;
	double t0, t1;
	unsigned long sum = 0;

	if (n <= 0)
		n = 1;
	t0 = now();
	for (long i = 0; i < n; i++) {
		struct part_table *t = NULL;
		if (part_csv_parse((const uint8_t *)csv, sizeof(csv) - 1, NULL, &t, &err) ||
		    part_table_verify(t, NULL, &err) || part_bin_write(t, NULL, img, &err)) {
			fprintf(stderr, "bench_part: %s\n", err.msg);
			return 1;
		}
		sum += img[100];
		part_table_free(t);
	}
	t1 = now();
	printf("csv->verify->binary (6 entries): %.0f tables/s (%.2f us each)\n", (double)n / (t1 - t0),
	       (t1 - t0) * 1e6 / (double)n);
	memset(img + PART_TABLE_MAX_LEN, 0xFF, sizeof(img) - PART_TABLE_MAX_LEN);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if (part_locate(img, sizeof(img), 0x8000, PART_RB_REQUIRE_MD5, NULL, &e, &err)) {
			fprintf(stderr, "bench_part: %s\n", err.msg);
			return 1;
		}
		sum += e.offset;
	}
	t1 = now();
	printf("part_locate on a 0x1000 read-back (MD5 + verify + lookup): %.0f/s (%.2f us each)\n",
	       (double)n / (t1 - t0), (t1 - t0) * 1e6 / (double)n);
	return sum == 0; /* keep the work observable */
}
