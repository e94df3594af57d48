/* bench_flash_parallel: flash one image to N devices from one process, one
 * thread per port, with the operation API the daemon uses. Prints the time of
 * one device alone and of all N together.
 * usage: bench_flash_parallel [--baud B] [--offset OFF] IMAGE PORT...
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/fsu.h"
#include "espfab/flashop.h"

struct job {
	const char *port;
	const uint8_t *img;
	size_t len;
	uint32_t off, baud;
	int rc;
	double secs;
	char msg[256];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	double t0 = now_s();

	flashop_options_init(&o);
	o.baud = j->baud;
	o.before = RESET_MODE_CLASSIC; /* no lines on a pty: carries on as no_reset */
	j->rc = flashop_open(j->port, &o, &f, &d);
	if (j->rc) {
		snprintf(j->msg, sizeof(j->msg), "%s", d.msg);
		goto out;
	}
	j->rc = flashop_write(f, j->off, j->img, j->len, FLASHOP_VERIFY, NULL, NULL);
	if (!j->rc)
		j->rc = flashop_hard_reset(f);
	if (j->rc)
		snprintf(j->msg, sizeof(j->msg), "%s", flashop_diag(f)->msg);
out:
	flashop_close(f);
	j->secs = now_s() - t0;
	return NULL;
}

static int run_set(struct job *jobs, int n, double *total)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	double t0 = now_s();
	int bad = 0;

	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, run_job, &jobs[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (jobs[i].rc) {
			fprintf(stderr, "bench: %s: %s\n", jobs[i].port, jobs[i].msg);
			bad++;
		}
	}
	*total = now_s() - t0;
	free(th);
	return bad;
}

int main(int argc, char **argv)
{
	uint32_t baud = 921600, off = 0x9000;
	int i = 1, n;
	uint8_t *img;
	size_t len;
	struct job *jobs;
	double one, all;

	for (; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--baud"))
			baud = (uint32_t)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--offset"))
			off = (uint32_t)strtoul(argv[i + 1], NULL, 0);
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: bench_flash_parallel [--baud B] [--offset OFF] IMAGE PORT...\n");
		return 2;
	}
	if (fsu_read_file(argv[i], SIZE_MAX, &img, &len) || len == 0) {
		fprintf(stderr, "bench: cannot read %s\n", argv[i]);
		return 1;
	}
	n = argc - i - 1;
	jobs = calloc((size_t)n, sizeof(*jobs));
	for (int k = 0; k < n; k++)
		jobs[k] = (struct job){.port = argv[i + 1 + k], .img = img, .len = len, .off = off, .baud = baud};
	if (run_set(jobs, 1, &one))
		return 1;
	{
		/* espfab-sim power-cycles its chip when it sees a new client;
		 * give it time to notice that the first run closed the pty */
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (run_set(jobs, n, &all))
		return 1;
	printf("parallel: %d devices at %u baud: one device %.3f s, all %d together %.3f s, ratio %.2f\n", n,
	       (unsigned)baud, one, n, all, all / one);
	free(jobs);
	free(img);
	return 0;
}
