/* Store throughput with durable commits (every transaction on the disk
 * before it returns) on the disk holding DIR:
 *   store_bench [DIR] [DEVICES] [THREADS,...]
 * For each thread count and both durability modes (group commit, the
 * default; plain synchronous=FULL) prints claim+audit transactions per
 * second (the claim, then one audited state change) and the full device
 * lifecycle (claim, mark_sent, mark_verified with its audit row). Each
 * thread is one station worker with its own connection. */
#include <espfab/store.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const uint8_t table[32] = {0xaa, 0x50, 0x01, 0x02};
static const char config[] = "mass_prod,namespace,\nProductID,data,string\nDeviceSecret,data,string\n"
			     "DeviceName,data,string\n";

static unsigned open_flags;

struct job {
	const char *db;
	int id, n, full;
	int done;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct store *s = NULL;
	struct store_err err = {0};
	if (store_open(&s, j->db, open_flags, NULL, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return NULL;
	}
	for (int i = 0; i < j->n; i++) {
		char mac[32];
		snprintf(mac, sizeof(mac), "%02x:%02x:00:%02x:%02x:%02x", j->full, j->id, (i >> 16) & 0xff, (i >> 8) & 0xff,
			 i & 0xff);
		struct store_claim_req req = {.product = "bench", .station = "bench", .port = "p", .mac = mac, .chip = "ESP32"};
		struct store_record *r = NULL;
		if (store_claim(s, &req, &r, &err)) {
			fprintf(stderr, "claim: %s\n", err.msg);
			break;
		}
		struct store_audit_entry a = {.mac = mac, .port = "p", .station = "bench", .record_id = r->record_id,
					      .image_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
					      .flash_md5 = "d41d8cd98f00b204e9800998ecf8427e", .baud = 921600,
					      .retries = 0, .duration_ms = 2500, .result = "ok", .event = "provision"};
		int rc;
		if (j->full)
			rc = store_mark_sent(s, r->job_id, &err) || store_mark_verified(s, r->job_id, &a, &err);
		else
			rc = store_audit_append(s, &a, &err);
		store_record_free(r);
		if (rc) {
			fprintf(stderr, "transition: %s\n", err.msg);
			break;
		}
		j->done++;
	}
	store_close(s);
	return NULL;
}

static int run(const char *db, int n, int threads, int full, double *secs, int *done)
{
	pthread_t t[64];
	struct job j[64];
	double t0 = now();
	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){.db = db, .id = i, .n = n / threads, .full = full};
		pthread_create(&t[i], NULL, worker, &j[i]);
	}
	*done = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		*done += j[i].done;
	}
	*secs = now() - t0;
	return *done == n / threads * threads ? 0 : 1;
}

static int bench(const char *dir, int n, int threads, unsigned flags)
{
	char db[4096];
	struct store *s = NULL;
	struct store_err err = {0};

	open_flags = flags;
	snprintf(db, sizeof(db), "%s/store_bench.db", dir);
	unlink(db);
	if (store_open(&s, db, STORE_OPEN_CREATE | flags, NULL, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	static const char *const uniq[] = {"DeviceSecret"};
	struct store_product_spec spec = {.name = "bench", .config_csv = config, .config_len = strlen(config),
					  .part_table = table, .part_table_len = sizeof(table), .part_label = "nvs",
					  .part_offset = 0x9000, .part_size = 0x6000, .nvs_version = 2,
					  .unique = uniq, .n_unique = 1};
	size_t cap = 64 + (size_t)2 * n * 96;
	char *csv = malloc(cap), *p = csv;
	p += sprintf(p, "id,ProductID,DeviceSecret,DeviceName\n");
	for (int i = 1; i <= 2 * n; i++)
		p += sprintf(p, "%d,PRD-%06d,%032x,dev-%d\n", i, i, (unsigned)i * 2654435761u, i);
	struct store_import_opts io = {.product = "bench", .source = "bench.csv"};
	double t0 = now();
	if (store_product_add(s, &spec, &err) || store_import_csv(s, &io, csv, (size_t)(p - csv), NULL, &err)) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return 1;
	}
	double timp = now() - t0;
	free(csv);
	store_close(s);

	double s1, s2;
	int d1, d2;
	if (run(db, n, threads, 0, &s1, &d1) || run(db, n, threads, 1, &s2, &d2))
		return 1;
	printf("%-14s %7d %9.0f %17.0f %16.0f %15.0f\n", flags & STORE_OPEN_GROUP_COMMIT ? "group commit" : "FULL (default)",
	       threads, 2 * n / timp, 2 * d1 / s1, d2 / s2, 3 * d2 / s2);
	fflush(stdout);
	unlink(db);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	const char *list = argc > 3 ? argv[3] : "1,4,16";

	if (n <= 0) {
		fprintf(stderr, "usage: store_bench [DIR] [DEVICES] [THREADS,...]\n");
		return 2;
	}
	printf("store_bench: %d devices per run in %s (WAL; every transaction durable before it returns)\n", n, dir);
	printf("%-14s %7s %9s %17s %16s %15s\n", "durability", "threads", "import/s", "claim+audit tx/s",
	       "lifecycle dev/s", "lifecycle tx/s");
	for (int full = 0; full < 2; full++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", list);
		for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
			int t = atoi(tok);
			if (t <= 0 || t > 64) {
				fprintf(stderr, "store_bench: thread counts are 1 to 64\n");
				return 2;
			}
			if (bench(dir, n, t, full ? 0 : STORE_OPEN_GROUP_COMMIT))
				return 1;
		}
	}
	return 0;
}
