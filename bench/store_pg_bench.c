/* Claims per second with several station PROCESSES on one database:
 *   store_pg_bench DB STATIONS CLAIMS_PER_STATION [batch] [RATE]
 * DB is a file (SQLite) or a PostgreSQL URI (an empty database: the
 * product and STATIONS * CLAIMS_PER_STATION records are set up first).
 * Each station is a process with its own connection; all start together.
 * Prints one line: durable claims per second (each claim one committed
 * transaction, on the disk before it returns) and the whole device
 * lifecycle (claim, mark_sent, mark_verified: three durable commits) per
 * device, with the mean time per device of one station. bench/store_pg.sh
 * runs it for 1, 4, 8 stations on PostgreSQL and SQLite.
 * "batch": every claim is of one shared batch (as when all lines work on
 * one order), "-": no batch. RATE > 0: each station starts a device every
 * 1/RATE s (a production pace) instead of flat out; the line then says
 * whether the stations kept that pace and the worst device's store time. */
#include <espfab/store.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const uint8_t table[32] = {0xaa, 0x50, 0x01, 0x02};
static const char config[] = "mass_prod,namespace,\nProductID,data,string\nDeviceSecret,data,string\n"
			     "DeviceName,data,string\n";

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t batch_id; /* 0: claims without a batch */
static double rate;      /* devices per second and station, 0: flat out */

static int setup(const char *db, int n, int with_batch)
{
	struct store *s = NULL;
	struct store_err err = {0};
	static const char *const uniq[] = {"DeviceSecret"};
	struct store_product_spec spec = {.name = "bench", .config_csv = config, .config_len = strlen(config),
					  .part_table = table, .part_table_len = sizeof(table), .part_label = "nvs",
					  .part_offset = 0x9000, .part_size = 0x6000, .nvs_version = 2,
					  .unique = uniq, .n_unique = 1};
	size_t cap = 64 + (size_t)n * 96;
	char *csv = malloc(cap), *p = csv;
	if (!csv)
		return 1;
	p += sprintf(p, "id,ProductID,DeviceSecret,DeviceName\n");
	for (int i = 1; i <= n; i++)
		p += sprintf(p, "%d,PRD-%06d,%032x,dev-%d\n", i, i, (unsigned)i * 2654435761u, i);
	struct store_import_opts io = {.product = "bench", .source = "bench.csv"};
	int rc = store_open(&s, db, STORE_OPEN_CREATE, NULL, &err) || store_product_add(s, &spec, &err) ||
		 store_import_csv(s, &io, csv, (size_t)(p - csv), NULL, &err) ||
		 (with_batch && store_batch_add(s, "bench", n, NULL, 0, &batch_id, &err));
	if (rc)
		fprintf(stderr, "setup: %s\n", err.msg);
	store_close(s);
	free(csv);
	return rc;
}

/* One station: n claims (full = also mark sent and verified). Exit 0 when
 * all worked; the worst device's store time and the sum of all go to the
 * pipe out (seconds). */
static int station(const char *db, int id, int n, int full, int go, int out)
{
	struct store *s = NULL;
	struct store_err err = {0};
	double t0, t[2] = {0, 0}; /* the worst device's store time, the sum */
	char b;
	if (store_open(&s, db, 0, NULL, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	if (read(go, &b, 1) < 0)
		return 1;
	t0 = now();
	for (int i = 0; i < n; i++) {
		double td, wait = rate > 0 ? t0 + i / rate - now() : 0;
		if (wait > 0)
			nanosleep(&(struct timespec){.tv_sec = (time_t)wait,
						     .tv_nsec = (long)((wait - floor(wait)) * 1e9)},
				  NULL);
		td = now();
		char mac[32], name[16];
		snprintf(mac, sizeof(mac), "%02x:%02x:00:%02x:%02x:%02x", full, id, (i >> 16) & 0xff, (i >> 8) & 0xff,
			 i & 0xff);
		snprintf(name, sizeof(name), "st%d", id);
		struct store_claim_req req = {.product = "bench", .batch_id = batch_id, .station = name, .port = "p",
					      .mac = mac};
		struct store_record *r = NULL;
		if (store_claim(s, &req, &r, &err)) {
			fprintf(stderr, "claim: %s\n", err.msg);
			return 1;
		}
		struct store_audit_entry a = {.baud = 921600, .retries = 0, .duration_ms = 2500,
					      .flash_md5 = "d41d8cd98f00b204e9800998ecf8427e"};
		int rc = full ? store_mark_sent(s, r->job_id, &err) || store_mark_verified(s, r->job_id, &a, &err)
			      : store_release(s, r->job_id, "bench", NULL, &err);
		store_record_free(r);
		if (rc) {
			fprintf(stderr, "transition: %s\n", err.msg);
			return 1;
		}
		td = now() - td;
		t[0] = td > t[0] ? td : t[0];
		t[1] += td;
	}
	store_close(s);
	return write(out, t, sizeof(t)) == sizeof(t) ? 0 : 1;
}

/* All stations at once; seconds from the start signal to the last exit. */
static int run(const char *db, int stations, int n, int full, double *secs, double *worst, double *sum)
{
	pid_t kids[64];
	int go[2], res[2], bad = 0;
	if (pipe(go) || pipe(res))
		return 1;
	for (int i = 0; i < stations; i++) {
		if ((kids[i] = fork()) == 0) {
			close(go[1]);
			close(res[0]);
			_exit(station(db, i, n, full, go[0], res[1]));
		}
	}
	close(go[0]);
	close(res[1]);
	sleep(1); /* every station connected */
	double t0 = now();
	close(go[1]);
	for (int i = 0; i < stations; i++) {
		int st = 0;
		waitpid(kids[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	}
	*secs = now() - t0;
	*worst = *sum = 0;
	for (double w[2]; read(res[0], w, sizeof(w)) == sizeof(w);) {
		*worst = w[0] > *worst ? w[0] : *worst;
		*sum += w[1];
	}
	close(res[0]);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 6 || atoi(argv[2]) < 1 || atoi(argv[2]) > 64 || atoi(argv[3]) < 1 ||
	    (argc > 4 && strcmp(argv[4], "batch") && strcmp(argv[4], "-")) || (argc > 5 && atof(argv[5]) <= 0)) {
		fprintf(stderr, "usage: store_pg_bench DB STATIONS CLAIMS_PER_STATION [batch|-] [RATE]\n");
		return 2;
	}
	const char *db = argv[1];
	int stations = atoi(argv[2]), n = atoi(argv[3]), with_batch = argc > 4 && !strcmp(argv[4], "batch");
	const char *kind = strncmp(db, "postgres", 8) && strncmp(db, "service=", 8) ? "sqlite" : "postgresql";
	double sc = 0, sd, wc, wd, tc, td;
	rate = argc > 5 ? atof(argv[5]) : 0;
	/* Claims are released again at once (claim + release), so the
	 * records suffice for the lifecycle run after them. Paced, only the
	 * lifecycle runs. */
	if (setup(db, stations * n + 16, with_batch) || (!rate && run(db, stations, n, 0, &sc, &wc, &tc)) ||
	    run(db, stations, n, 1, &sd, &wd, &td))
		return 1;
	if (rate)
		printf("%-10s %8d %5s %9.1f/s %9.1f/s %13.2f %9.1f\n", kind, stations, with_batch ? "yes" : "no",
		       stations * rate, stations * n / sd, td * 1000.0 / (stations * n), wd * 1000.0);
	else
		printf("%-10s %8d %5s %12.0f %13.0f %16.2f\n", kind, stations, with_batch ? "yes" : "no",
		       2.0 * stations * n / sc, stations * n / sd, td * 1000.0 / (stations * n));
	return 0;
}
