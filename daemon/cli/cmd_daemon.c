/* espfab batch|status|watch: talk to espfabd over its control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_args.h"
#include "ctl_client.h"
#include "config.h"

#define CALL_TIMEOUT_MS 30000

const char *cli_socket_path(const struct cli_globals *g, char *buf, size_t cap)
{
	static struct config cfg; /* large: not on the stack */

	if (g->socket_path)
		return g->socket_path;
	/* Where the daemon's configuration puts it. */
	if (cli_config(g, &cfg)) {
		config_defaults(&cfg);
		fprintf(stderr, "espfab: using the default socket %s\n", cfg.socket_path);
	}
	snprintf(buf, cap, "%s", cfg.socket_path);
	return buf;
}

int cli_connect_daemon(const struct cli_globals *g, struct ctl_client **c)
{
	char buf[CONFIG_PATH_MAX];
	struct ctl_client_err err;

	if (ctl_client_connect(cli_socket_path(g, buf, sizeof(buf)), c, &err)) {
		fprintf(stderr, "espfab: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* One request, its result printed by show() or as JSON. */
static int call(const struct cli_globals *g, const char *op, json_t *fields, int json,
		void (*show)(json_t *result))
{
	struct ctl_client *c = NULL;
	struct ctl_client_err err;
	json_t *res = NULL;
	int rc;

	if (cli_connect_daemon(g, &c)) {
		json_decref(fields);
		return 1;
	}
	rc = ctl_client_call(c, op, fields, &res, CALL_TIMEOUT_MS, &err);
	ctl_client_free(c);
	if (rc) {
		if (json) {
			json_t *e = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
					      err.remote_code[0] ? err.remote_code : "client", "message", err.msg);
			json_dumpf(e, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(e);
		}
		fprintf(stderr, "espfab: %s\n", err.msg);
		return 1;
	}
	if (json || !show) {
		json_dumpf(res, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		show(res);
	}
	json_decref(res);
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void show_batches(json_t *res)
{
	json_t *arr = json_object_get(res, "batches"), *b;
	size_t i;

	if (!json_array_size(arr)) {
		printf("no batches\n");
		return;
	}
	printf("%-6s %-20s %-10s %7s %9s %7s %10s %10s\n", "BATCH", "PRODUCT", "STATE", "COUNT", "VERIFIED", "FAILED",
	       "IN-FLIGHT", "REMAINING");
	json_array_foreach(arr, i, b)
	{
		printf("%-6lld %-20s %-10s %7lld %9lld %7lld %10lld %10lld\n", jint(b, "id"), jstr(b, "product"),
		       jstr(b, "state"), jint(b, "count"), jint(b, "verified"), jint(b, "failed"), jint(b, "in_flight"),
		       jint(b, "remaining"));
	}
}

static void show_batch_added(json_t *res)
{
	printf("batch %lld queued\n", jint(res, "batch"));
	if (json_is_string(json_object_get(res, "warning")))
		fprintf(stderr, "espfab batch add: warning: %s\n", jstr(res, "warning"));
}

int cli_parse_id(const char *s, int64_t *out)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || !*s || *end || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static void batch_usage(FILE *f)
{
	fprintf(f, "usage: espfab batch add --product NAME --count N [--ports NAME,...] [--json]\n"
		   "       espfab batch list [--json]\n"
		   "       espfab batch show|pause|resume|cancel ID [--json]\n");
}

enum batch_opt_id { BATCH_OPT_PRODUCT, BATCH_OPT_COUNT, BATCH_OPT_PORTS, BATCH_OPT_JSON, BATCH_OPT_HELP };

static const struct cli_opt batch_opts[] = {
	{"--product", 0, CLI_ARGS_ONE, BATCH_OPT_PRODUCT, {NULL, NULL}, 0},
	{"--count", 0, CLI_ARGS_ONE, BATCH_OPT_COUNT, {NULL, NULL}, 0},
	{"--ports", 0, CLI_ARGS_ONE, BATCH_OPT_PORTS, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, BATCH_OPT_JSON, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, BATCH_OPT_HELP, {NULL, NULL}, 0},
};

struct batch_args {
	const char *product, *ports, *id; /* id: the first positional */
	int64_t count;
	int json;
};

static int batch_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct batch_args *a = ctx;

	(void)nvals;
	switch ((enum batch_opt_id)o->id) {
	case BATCH_OPT_PRODUCT:
		a->product = vals[0];
		break;
	case BATCH_OPT_COUNT:
		if (cli_parse_id(vals[0], &a->count)) {
			fprintf(stderr, "espfab batch: --count: expected a positive number, got '%s'\n", vals[0]);
			return 2;
		}
		break;
	case BATCH_OPT_PORTS:
		a->ports = vals[0];
		break;
	case BATCH_OPT_JSON:
		a->json = 1;
		break;
	case BATCH_OPT_HELP:
		batch_usage(stdout);
		return CLI_ARGS_DONE;
	}
	return 0;
}

static int batch_on_run(void *ctx, char **run, int n, int *used)
{
	struct batch_args *a = ctx;

	if (!a->id)
		a->id = run[0];
	*used = n; /* the words after the id are not looked at */
	return 0;
}

int cmd_batch(int argc, char **argv, const struct cli_globals *g)
{
	struct batch_args a = {0};
	const struct cli_args p = {.prog = "espfab batch", .opts = batch_opts,
				   .nopts = sizeof(batch_opts) / sizeof(batch_opts[0]), .flags = CLI_ARGS_PREFIX,
				   .style = CLI_ARGS_ESPFAB, .ctx = &a, .on_opt = batch_on_opt, .on_run = batch_on_run};
	const char *sub, *product, *ports;
	int64_t count, id = 0;
	int json, rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		batch_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	rc = cli_args_parse(&p, argc, argv, 2);
	if (rc)
		return rc == CLI_ARGS_DONE ? 0 : rc;
	product = a.product;
	ports = a.ports;
	count = a.count;
	json = a.json;
	if (!strcmp(sub, "add")) {
		json_t *f, *pa = json_array();
		if (!product || !count) {
			fprintf(stderr, "espfab batch add: --product and --count are required\n");
			json_decref(pa);
			return 2;
		}
		if (ports) {
			char *dup = strdup(ports), *save = NULL;
			for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
				json_array_append_new(pa, json_string(t));
			free(dup);
		}
		f = json_pack("{s:s, s:I}", "product", product, "count", (json_int_t)count);
		if (json_array_size(pa))
			json_object_set(f, "ports", pa);
		json_decref(pa);
		return call(g, "batch.add", f, json, show_batch_added);
	}
	if (!strcmp(sub, "list"))
		return call(g, "batch.list", NULL, json, show_batches);
	if (!strcmp(sub, "show") || !strcmp(sub, "pause") || !strcmp(sub, "resume") || !strcmp(sub, "cancel")) {
		char op[32];
		if (!a.id || cli_parse_id(a.id, &id)) {
			fprintf(stderr, "espfab batch %s: expected a batch id\n", sub);
			return 2;
		}
		snprintf(op, sizeof(op), "batch.%s", sub);
		return call(g, op, json_pack("{s:I}", "batch", (json_int_t)id), json, show_batches);
	}
	fprintf(stderr, "espfab batch: unknown subcommand '%s'\n", sub);
	batch_usage(stderr);
	return 2;
}

/* ---- status ---- */

static void port_line(json_t *p, char *buf, size_t cap, int bar)
{
	const char *state = jstr(p, "state");
	json_t *last = json_object_get(p, "last");
	char extra[160] = "";

	if (!strcmp(state, "busy")) {
		json_t *pr = json_object_get(p, "progress");
		long long done = jint(pr, "done"), total = jint(pr, "total");
		int pct = total ? (int)(done * 100 / total) : 0;
		if (!total) {
			snprintf(extra, sizeof(extra), "%-8s %28s record %s", jstr(p, "step"), "", jstr(p, "record"));
		} else if (bar) {
			char b[21];
			int fill = pct / 5;
			for (int i = 0; i < 20; i++)
				b[i] = i < fill ? '#' : '.';
			b[20] = '\0';
			snprintf(extra, sizeof(extra), "%-8s [%s] %3d%%  record %s", jstr(p, "step"), b, pct,
				 jstr(p, "record"));
		} else {
			snprintf(extra, sizeof(extra), "%s %d%% record %s", jstr(p, "step"), pct, jstr(p, "record"));
		}
	} else if (last) {
		snprintf(extra, sizeof(extra), "last: %s %s%s%.80s", jstr(last, "result"), jstr(last, "record"),
			 jstr(last, "error")[0] ? " - " : "", jstr(last, "error"));
	}
	snprintf(buf, cap, "%-14s %-8s %-17s %-9s ok %-3lld fail %-3lld %s", jstr(p, "name"), state, jstr(p, "mac"),
		 jstr(p, "chip"), jint(p, "ok"), jint(p, "failed"), extra);
}

static void show_status(json_t *res)
{
	json_t *ports = json_object_get(res, "ports"), *p;
	json_t *counts = json_object_get(res, "counts");
	size_t i;

	printf("station %s (espfabd %s, pid %lld)%s: verified %lld, failed %lld\n", jstr(res, "station"),
	       jstr(res, "version"), jint(res, "pid"), json_is_true(json_object_get(res, "stopping")) ? " stopping" : "",
	       jint(counts, "verified"), jint(counts, "failed"));
	json_array_foreach(ports, i, p)
	{
		char line[512];
		port_line(p, line, sizeof(line), 0);
		printf("  %s\n", line);
	}
	if (json_array_size(json_object_get(res, "batches")))
		show_batches(res);
	{
		json_t *u = json_object_get(res, "uplink");
		if (u)
			printf("uplink to %s: %s, delivered up to audit #%lld, %lld pending%s%s\n", jstr(u, "url"),
			       jstr(u, "state"), jint(u, "delivered"), jint(u, "pending"),
			       jint(u, "failures") ? "; last error: " : "", jint(u, "failures") ? jstr(u, "last_error") : "");
	}
	{
		json_t *st = json_object_get(res, "store");
		if (st && strcmp(jstr(st, "state"), "ok"))
			printf("store: UNREACHABLE since %s, no device is written; %lld results held: %s\n",
			       jstr(st, "since"), jint(st, "held_results"), jstr(st, "error"));
		else if (st && jint(st, "held_results"))
			printf("store: ok, delivering %lld held results\n", jint(st, "held_results"));
	}
}

static int status_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	int *json = ctx;

	(void)vals;
	(void)nvals;
	if (o->short_name == 'h') {
		printf("usage: espfab status [--json]\n");
		return CLI_ARGS_DONE;
	}
	*json = 1;
	return 0;
}

int cmd_status(int argc, char **argv, const struct cli_globals *g)
{
	static const struct cli_opt opts[] = {
		{"--json", 0, CLI_ARGS_FLAG, 0, {NULL, NULL}, 0},
		{"--help", 'h', CLI_ARGS_FLAG, 1, {NULL, NULL}, 0},
	};
	int json = 0;
	const struct cli_args p = {.prog = "espfab status", .opts = opts, .nopts = 2, .style = CLI_ARGS_ESPFAB,
				   .ctx = &json, .on_opt = status_on_opt};
	int rc = cli_args_parse(&p, argc, argv, 1);

	if (rc)
		return rc == CLI_ARGS_DONE ? 0 : rc;
	return call(g, "status", NULL, json, show_status);
}
