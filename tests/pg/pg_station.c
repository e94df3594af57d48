/* A station stand-in for the PostgreSQL tests: provisions simulated devices
 * from one shared database with the daemon's rules, and survives outages.
 *   pg_station DB STATION ID [FLASH_MS [MAX]]   provision until no record is left
 *                                               (or MAX devices)
 *   pg_station DB STATION recover               the daemon's startup recovery
 *   pg_station DB STATION lease N               top the station's lease of lamp up to N
 * Devices are MACs ID:xx:xx:xx:xx:xx. For each one: claim, mark sent, then
 * "write" it: the line "WRITE mac record" on stdout (flushed) is the device
 * getting its record, printed only after mark_sent() returned 0, i.e. once
 * the binding is durable on the server. FLASH_MS of sleep before mark_sent
 * is the image building, as much after the write is the flashing.
 * Then mark verified. Any store error that is not a verdict (the server is
 * unreachable, restarting, busy) is an outage: "OUTAGE ..." on stderr once,
 * retries with a doubling backoff (10 ms .. 500 ms), "BACK" when a call
 * works again; the result of a written device is held and delivered when
 * the server is back, never dropped. Before the write any failure starts
 * the device over (claiming the same MAC again gives the same record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/store.h"

static int outage;
static long backoff_ms = 10;

static void sleep_ms(long ms)
{
	struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&d, NULL);
}

/* A failure that says nothing about the record: wait and try again. */
static int transient(int rc)
{
	return rc == STORE_EOFFLINE || rc == STORE_EBUSY || rc == STORE_EDB || rc == STORE_EIO;
}

static void went_wrong(const struct store_err *err)
{
	if (!outage)
		fprintf(stderr, "OUTAGE %s\n", err->msg);
	outage = 1;
	sleep_ms(backoff_ms);
	backoff_ms = backoff_ms * 2 > 500 ? 500 : backoff_ms * 2;
}

static void went_right(void)
{
	if (outage)
		fprintf(stderr, "BACK\n");
	outage = 0;
	backoff_ms = 10;
}

int main(int argc, char **argv)
{
	struct store *s = NULL;
	struct store_err err = {0};
	int rc;

	if (argc < 4) {
		fprintf(stderr,
			"usage: pg_station DB STATION ID [FLASH_MS [MAX]] | DB STATION recover | DB STATION lease N\n");
		return 2;
	}
	const char *db = argv[1], *station = argv[2];
	/* The station starts while the server may be down: retry the open too. */
	while ((rc = store_open(&s, db, 0, NULL, &err)) && transient(rc))
		went_wrong(&err);
	if (rc) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	went_right();
	if (!strcmp(argv[3], "recover")) {
		struct store_recovery rep;
		rc = store_recover(s, station, &rep, &err);
		if (!rc)
			printf("RECOVERED %u released %u interrupted\n", rep.released, rep.interrupted);
		else
			fprintf(stderr, "recover: %s\n", err.msg);
		store_close(s);
		return rc ? 1 : 0;
	}
	if (!strcmp(argv[3], "lease") && argc > 4) {
		int64_t held = 0;
		rc = store_lease_fill(s, station, "lamp", atoll(argv[4]), &held, &err);
		if (!rc)
			printf("LEASED %lld\n", (long long)held);
		else
			fprintf(stderr, "lease: %s\n", err.msg);
		store_close(s);
		return rc ? 1 : 0;
	}
	int id = atoi(argv[3]);
	long flash_ms = argc > 4 ? atol(argv[4]) : 0;
	long max = argc > 5 ? atol(argv[5]) : -1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (long dev = 0; max < 0 || dev < max; dev++) {
		char mac[32], port[16];
		struct store_record *r = NULL;
		snprintf(mac, sizeof(mac), "%02x:00:00:%02x:%02x:%02x", id & 0xff, (int)(dev >> 16) & 0xff,
			 (int)(dev >> 8) & 0xff, (int)dev & 0xff);
		snprintf(port, sizeof(port), "p%d", id);
		struct store_claim_req req = {.product = "lamp", .station = station, .port = port, .mac = mac};
		/* claim + mark sent, until both worked for one job */
		for (;;) {
			rc = store_claim(s, &req, &r, &err);
			if (rc == STORE_EEMPTY)
				goto done;
			if (rc && transient(rc)) {
				went_wrong(&err);
				continue;
			}
			if (rc) {
				fprintf(stderr, "claim %s: %s\n", mac, err.msg);
				return 1;
			}
			/* building the image, opening the ROM loader: an outage
			 * lands between claim and mark_sent as often as after */
			if (flash_ms)
				sleep_ms(flash_ms);
			rc = store_mark_sent(s, r->job_id, &err);
			if (!rc)
				break;
			store_record_free(r);
			r = NULL;
			/* Not bound (or not known to be): write nothing, start over. */
			if (transient(rc))
				went_wrong(&err);
		}
		went_right();
		printf("WRITE %s %s\n", mac, r->record_id);
		if (flash_ms)
			sleep_ms(flash_ms);
		/* The result: held until the server takes it. */
		while ((rc = store_mark_verified(s, r->job_id, NULL, &err)) && transient(rc))
			went_wrong(&err);
		if (rc == STORE_ESTATE) {
			/* The link broke after the server committed it: the job is
			 * verified already, or another claim of this MAC superseded it. */
			fprintf(stderr, "verified %s: %s\n", mac, err.msg);
		} else if (rc) {
			fprintf(stderr, "verified %s: %s\n", mac, err.msg);
			return 1;
		}
		went_right();
		printf("DONE %s %s\n", mac, r->record_id);
		store_record_free(r);
	}
done:
	store_close(s);
	return 0;
}
