/* espfab batch|status|watch: talk to espfabd over its control socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "config.h"

#define CALL_TIMEOUT_MS 30000

static const char *socket_path(const struct cli_globals *g, char *buf, size_t cap)
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

static int connect_daemon(const struct cli_globals *g, struct client **c)
{
	char buf[CONFIG_PATH_MAX];
	struct client_err err;

	if (client_connect(socket_path(g, buf, sizeof(buf)), c, &err)) {
		fprintf(stderr, "espfab: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* One request, its result printed by show() or as JSON. */
static int call(const struct cli_globals *g, const char *op, json_t *fields, int json,
		void (*show)(json_t *result))
{
	struct client *c = NULL;
	struct client_err err;
	json_t *res = NULL;
	int rc;

	if (connect_daemon(g, &c)) {
		json_decref(fields);
		return 1;
	}
	rc = client_call(c, op, fields, &res, CALL_TIMEOUT_MS, &err);
	client_free(c);
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

static int parse_id(const char *s, int64_t *out)
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

int cmd_batch(int argc, char **argv, const struct cli_globals *g)
{
	static const struct option opts[] = {
		{"product", required_argument, NULL, 'p'}, {"count", required_argument, NULL, 'n'},
		{"ports", required_argument, NULL, 'P'},   {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	const char *sub, *product = NULL, *ports = NULL;
	int64_t count = 0, id = 0;
	int json = 0, c;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		batch_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			product = optarg;
			break;
		case 'n':
			if (parse_id(optarg, &count)) {
				fprintf(stderr, "espfab batch: --count: expected a positive number, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'P':
			ports = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			batch_usage(stdout);
			return 0;
		default:
			batch_usage(stderr);
			return 2;
		}
	}
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
		if (optind >= argc || parse_id(argv[optind], &id)) {
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
}

int cmd_status(int argc, char **argv, const struct cli_globals *g)
{
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: espfab status [--json]\n");
			return 0;
		} else {
			fprintf(stderr, "espfab status: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	return call(g, "status", NULL, json, show_status);
}

/* ---- watch ---- */

struct watch {
	int tty, json;
	int64_t batch;   /* --batch: exit when it is no longer active */
	json_t *ports;   /* array of port objects, updated from events */
	json_t *batches; /* last known batch rows */
	char log[6][256];
	unsigned nlog;
	int drawn;       /* lines drawn last time (tty) */
};

static json_t *find_port(struct watch *w, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(w->ports, i, p)
	{
		if (!strcmp(jstr(p, "name"), name))
			return p;
	}
	p = json_pack("{s:s, s:s, s:i, s:i}", "name", name, "state", "?", "ok", 0, "failed", 0);
	json_array_append_new(w->ports, p);
	return p;
}

static void add_log(struct watch *w, const char *line)
{
	if (w->nlog == 6) {
		memmove(w->log[0], w->log[1], sizeof(w->log[0]) * 5);
		w->nlog = 5;
	}
	snprintf(w->log[w->nlog++], sizeof(w->log[0]), "%s", line);
}

static void stamp(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, cap, "%H:%M:%S", &tm);
}

static void draw(struct watch *w)
{
	json_t *p, *b;
	size_t i;
	int lines = 0;

	if (w->drawn)
		printf("\033[%dA", w->drawn);
	json_array_foreach(w->ports, i, p)
	{
		char line[512];
		port_line(p, line, sizeof(line), 1);
		printf("\033[2K%s\n", line);
		lines++;
	}
	json_array_foreach(w->batches, i, b)
	{
		if (strcmp(jstr(b, "state"), "active") && strcmp(jstr(b, "state"), "paused") &&
		    jint(b, "id") != w->batch)
			continue;
		printf("\033[2Kbatch %lld %s: %s %lld/%lld verified, %lld failed\n", jint(b, "id"), jstr(b, "product"),
		       jstr(b, "state"), jint(b, "verified"), jint(b, "count"), jint(b, "failed"));
		lines++;
	}
	for (unsigned k = 0; k < w->nlog; k++) {
		printf("\033[2K  %s\n", w->log[k]);
		lines++;
	}
	fflush(stdout);
	w->drawn = lines;
}

static void update_batch(struct watch *w, json_t *ev)
{
	json_t *b;
	size_t i;
	long long id = jint(ev, "batch");

	json_array_foreach(w->batches, i, b)
	{
		if (jint(b, "id") == id) {
			json_object_update(b, ev);
			json_object_set_new(b, "id", json_integer(id));
			return;
		}
	}
	b = json_deep_copy(ev);
	json_object_set_new(b, "id", json_integer(id));
	json_array_append_new(w->batches, b);
}

/* Returns 1 when watching should end (--batch finished). */
static int on_event(struct watch *w, json_t *ev)
{
	const char *kind = jstr(ev, "event");
	json_t *p = NULL;
	char line[512], ts[16];

	stamp(ts, sizeof(ts));
	line[0] = '\0';
	if (!strcmp(kind, "snapshot")) {
		json_decref(w->ports);
		json_decref(w->batches);
		w->ports = json_deep_copy(json_object_get(ev, "ports"));
		w->batches = json_deep_copy(json_object_get(ev, "batches"));
		if (!w->ports)
			w->ports = json_array();
		if (!w->batches)
			w->batches = json_array();
		snprintf(line, sizeof(line), "%s watching station %s (%zu ports)", ts, jstr(ev, "station"),
			 json_array_size(w->ports));
	} else if (json_object_get(ev, "port") && strcmp(kind, "batch")) {
		p = find_port(w, jstr(ev, "port"));
	}
	if (!strcmp(kind, "port")) {
		json_object_set(p, "state", json_object_get(ev, "state"));
		if (strcmp(jstr(ev, "state"), "busy"))
			json_object_del(p, "progress");
		line[0] = '\0';
	} else if (!strcmp(kind, "device.arrived")) {
		json_object_set(p, "mac", json_object_get(ev, "mac"));
		json_object_set(p, "chip", json_object_get(ev, "chip"));
		snprintf(line, sizeof(line), "%s %s arrived: %s %s", ts, jstr(ev, "port"), jstr(ev, "chip"), jstr(ev, "mac"));
	} else if (!strcmp(kind, "device.left")) {
		json_object_set_new(p, "mac", json_string(""));
		json_object_set_new(p, "chip", json_string(""));
		snprintf(line, sizeof(line), "%s %s left: %s", ts, jstr(ev, "port"), jstr(ev, "mac"));
	} else if (!strcmp(kind, "step")) {
		json_object_set(p, "step", json_object_get(ev, "step"));
		json_object_set_new(p, "progress", json_pack("{s:i, s:i}", "done", 0, "total", 0));
		if (!w->tty)
			snprintf(line, sizeof(line), "%s %s %s", ts, jstr(ev, "port"), jstr(ev, "step"));
	} else if (!strcmp(kind, "progress")) {
		json_object_set_new(p, "progress", json_pack("{s:I, s:I}", "done", (json_int_t)jint(ev, "done"), "total",
							     (json_int_t)jint(ev, "total")));
	} else if (!strcmp(kind, "result")) {
		const char *r = jstr(ev, "result");
		int ok = !strcmp(r, "verified");
		json_object_set_new(p, ok ? "ok" : "failed", json_integer(jint(p, ok ? "ok" : "failed") + 1));
		json_object_set_new(p, "state", json_string("done"));
		json_object_set_new(p, "last", json_pack("{s:s, s:s, s:s}", "result", r, "record", jstr(ev, "record"),
							 "error", jstr(ev, "error")));
		snprintf(line, sizeof(line), "%s %s %s %s record %s in %.2fs%s%.160s", ts, jstr(ev, "port"), r,
			 jstr(ev, "mac"), jstr(ev, "record")[0] ? jstr(ev, "record") : "-",
			 (double)jint(ev, "duration_ms") / 1000.0, jstr(ev, "error")[0] ? ": " : "", jstr(ev, "error"));
	} else if (!strcmp(kind, "batch")) {
		update_batch(w, ev);
		snprintf(line, sizeof(line), "%s batch %lld %s", ts, jint(ev, "batch"), jstr(ev, "state"));
		if (json_object_get(ev, "verified"))
			snprintf(line + strlen(line), sizeof(line) - strlen(line), ": %lld verified, %lld failed, %lld to go",
				 jint(ev, "verified"), jint(ev, "failed"), jint(ev, "remaining"));
	}
	if (w->tty) {
		if (line[0])
			add_log(w, line);
		draw(w);
	} else if (line[0] && !w->json) {
		printf("%s\n", line);
		fflush(stdout);
	}
	if (w->batch) {
		json_t *b;
		size_t i;
		json_array_foreach(w->batches, i, b)
		{
			const char *st = jstr(b, "state");
			if (jint(b, "id") == w->batch && *st && strcmp(st, "active") && strcmp(st, "paused"))
				return 1;
		}
	}
	return 0;
}

static volatile sig_atomic_t watch_stop;

static void on_sigint(int sig)
{
	(void)sig;
	watch_stop = 1;
}

int cmd_watch(int argc, char **argv, const struct cli_globals *g)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},	     {"batch", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'}, {"plain", no_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},	     {NULL, 0, NULL, 0},
	};
	struct watch w = {0};
	struct client *c = NULL;
	struct client_err err;
	json_t *res = NULL;
	int64_t timeout_s = 0;
	time_t start = time(NULL);
	int rc = 1, ch, plain = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			w.json = 1;
			break;
		case 'b':
			if (parse_id(optarg, &w.batch)) {
				fprintf(stderr, "espfab watch: --batch: expected a batch id\n");
				return 2;
			}
			break;
		case 't':
			if (parse_id(optarg, &timeout_s)) {
				fprintf(stderr, "espfab watch: --timeout: expected seconds\n");
				return 2;
			}
			break;
		case 'p':
			plain = 1;
			break;
		case 'h':
			printf("usage: espfab watch [--json] [--plain] [--batch ID] [--timeout S]\n"
			       "  live per-port view (progress bars on a terminal, one line per event\n"
			       "  otherwise); --batch exits when that batch is done or cancelled.\n");
			return 0;
		default:
			return 2;
		}
	}
	w.tty = !w.json && !plain && isatty(1);
	w.ports = json_array();
	w.batches = json_array();
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	if (connect_daemon(g, &c))
		goto out;
	if (client_call(c, "subscribe", NULL, &res, CALL_TIMEOUT_MS, &err)) {
		fprintf(stderr, "espfab: %s\n", err.msg);
		goto out;
	}
	json_decref(res);
	while (!watch_stop) {
		json_t *m = NULL;
		int r;
		if (timeout_s && time(NULL) - start >= timeout_s) {
			fprintf(stderr, "espfab watch: timed out after %llds\n", (long long)timeout_s);
			rc = 3;
			goto out;
		}
		r = client_next(c, &m, 500, &err);
		if (r == CLIENT_ETIMEDOUT)
			continue;
		if (r) {
			fprintf(stderr, "espfab: %s\n", err.msg);
			goto out;
		}
		if (!json_object_get(m, "event")) {
			json_decref(m);
			continue;
		}
		if (w.json) {
			json_dumpf(m, stdout, JSON_COMPACT);
			putchar('\n');
			fflush(stdout);
		}
		r = on_event(&w, m);
		json_decref(m);
		if (r)
			break;
	}
	rc = 0;
out:
	client_free(c);
	json_decref(w.ports);
	json_decref(w.batches);
	return rc;
}
