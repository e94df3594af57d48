/* Crash-test helper: does store work until it is killed with -9.
 *   store_crash_helper DB init                 product "lamp" (unique DeviceSecret)
 *   store_crash_helper DB import FIRST COUNT   one values file of COUNT records
 *   store_crash_helper DB loop STATION SEED    claim/send/verify|fail|release forever
 *   store_crash_helper DB recover STATION      startup recovery, then check
 *   store_crash_helper DB check CHUNK          invariant + all-or-nothing imports
 * Exit 0 on success; messages on stderr. */
#include <espfab/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t table[32] = {0xaa, 0x50, 0x01, 0x02};
static const char config[] = "mass_prod,namespace,\nProductID,data,string\nDeviceSecret,data,string\n"
			     "DeviceName,data,string\n";

static int die(const char *what, const struct store_err *err)
{
	fprintf(stderr, "store_crash_helper: %s: %s\n", what, err->msg);
	return 1;
}

static int do_import(struct store *s, int first, int count)
{
	struct store_err err = {0};
	size_t cap = 64 + (size_t)count * 96;
	char *b = malloc(cap), *p = b;
	p += sprintf(p, "id,ProductID,DeviceSecret,DeviceName\n");
	for (int i = first; i < first + count; i++)
		p += sprintf(p, "%d,PRD-%06d,secret-%08d,dev-%d\n", i, i, i, i);
	struct store_import_opts o = {.product = "lamp", .source = "crash.csv"};
	int rc = store_import_csv(s, &o, b, (size_t)(p - b), NULL, &err);
	free(b);
	return rc ? die("import", &err) : 0;
}

static int do_loop(struct store *s, const char *station, unsigned seed)
{
	struct store_err err = {0};
	srand(seed);
	for (;;) {
		/* A small pool of MACs shared by every loop, so devices come back,
		 * re-provision, and sometimes show up at two stations at once. */
		char mac[32];
		snprintf(mac, sizeof(mac), "02:00:00:00:%02x:%02x", rand() % 4, rand() % 100);
		struct store_claim_req req = {.product = "lamp", .station = station, .port = "p0", .mac = mac};
		struct store_record *r = NULL;
		int rc = store_claim(s, &req, &r, &err);
		if (rc == STORE_EEMPTY || rc == STORE_ERETIRED) {
			usleep(1000);
			continue;
		}
		if (rc == STORE_EBUSY)
			continue;
		if (rc)
			return die("claim", &err);
		int outcome = rand() % 6;
		if (outcome == 0)
			rc = store_release(s, r->job_id, "no sync", NULL, &err);
		else if ((rc = store_mark_sent(s, r->job_id, &err)) == 0)
			rc = outcome == 1 ? store_fail(s, r->job_id, "verify failed", NULL, &err)
					  : store_mark_verified(s, r->job_id, NULL, &err);
		store_record_free(r);
		/* STORE_ESTATE: the other station claimed the same MAC meanwhile and
		 * superseded this job; like the daemon, write nothing and go on. */
		if (rc && rc != STORE_EBUSY && rc != STORE_ESTATE)
			return die("transition", &err);
	}
}

static int do_check(struct store *s, int chunk)
{
	struct store_err err = {0};
	json_t *j = NULL;
	if (store_check(s, &err))
		return die("check", &err);
	if (store_query_stats(s, "lamp", &j, &err))
		return die("stats", &err);
	json_t *st = json_array_get(json_object_get(j, "stats"), 0);
	long long total = json_integer_value(json_object_get(st, "total"));
	long long sum = 0;
	const char *states[] = {"available", "sent", "verified", "retired"};
	for (int i = 0; i < 4; i++)
		sum += json_integer_value(json_object_get(st, states[i]));
	long long reserved = json_integer_value(json_object_get(st, "reserved"));
	printf("total %lld available %lld reserved %lld sent %lld verified %lld\n", total,
	       (long long)json_integer_value(json_object_get(st, "available")), reserved,
	       (long long)json_integer_value(json_object_get(st, "sent")),
	       (long long)json_integer_value(json_object_get(st, "verified")));
	json_decref(j);
	/* After recovery nothing is reserved, and every record is in one state. */
	if (reserved || sum != total) {
		fprintf(stderr, "store_crash_helper: %lld reserved, %lld of %lld records accounted for\n", reserved,
			sum, total);
		return 1;
	}
	/* All-or-nothing: imports come in whole chunks. */
	if (chunk > 0 && total % chunk) {
		fprintf(stderr, "store_crash_helper: %lld records is not a whole number of %d-record imports\n",
			total, chunk);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct store *s = NULL;
	struct store_err err = {0};
	int rc;
	if (argc < 3) {
		fprintf(stderr, "usage: store_crash_helper DB init|import|loop|recover|check ...\n");
		return 2;
	}
	if (store_open(&s, argv[1], STORE_OPEN_CREATE, NULL, &err))
		return die("open", &err);
	const char *cmd = argv[2];
	if (!strcmp(cmd, "init")) {
		static const char *const uniq[] = {"DeviceSecret"};
		struct store_product_spec spec = {.name = "lamp", .config_csv = config, .config_len = strlen(config),
						  .part_table = table, .part_table_len = sizeof(table),
						  .part_label = "nvs", .part_offset = 0x9000, .part_size = 0x6000,
						  .nvs_version = 2, .unique = uniq, .n_unique = 1};
		rc = store_product_add(s, &spec, &err) ? die("product", &err) : 0;
	} else if (!strcmp(cmd, "import") && argc == 5) {
		rc = do_import(s, atoi(argv[3]), atoi(argv[4]));
	} else if (!strcmp(cmd, "loop") && argc == 5) {
		rc = do_loop(s, argv[3], (unsigned)atoi(argv[4]));
	} else if (!strcmp(cmd, "recover") && argc == 4) {
		struct store_recovery rep;
		rc = store_recover(s, argv[3], &rep, &err) ? die("recover", &err) : 0;
		if (!rc)
			printf("recovered: %u released, %u interrupted\n", rep.released, rep.interrupted);
	} else if (!strcmp(cmd, "check") && argc == 4) {
		rc = do_check(s, atoi(argv[3]));
	} else {
		fprintf(stderr, "store_crash_helper: bad arguments\n");
		rc = 2;
	}
	store_close(s);
	return rc;
}
