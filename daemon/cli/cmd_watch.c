/* espfab watch: a live view of espfabd's ports.
 *
 * On a terminal it redraws one frame per event: a header, one line per port,
 * the active batches and the latest events, each line cut to the window's
 * width (a wrapped line would throw the cursor arithmetic off) and the frame
 * cut to its height (a frame taller than the window scrolls away and cannot
 * be redrawn in place); what is below the frame is cleared, so nothing stale
 * stays. SIGWINCH redraws at the new size. States are words, coloured when
 * colour is allowed (not for NO_COLOR, TERM=dumb or --no-color), so the view
 * reads the same without colour. Elsewhere it prints one line per event; with
 * --json the events themselves. When the daemon goes away (a restart) it
 * reconnects every second and starts again from the new snapshot.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "cli_args.h"
#include "cmd_watch.h"
#include "ctl_client.h"

static volatile sig_atomic_t watch_stop;
volatile sig_atomic_t watch_resized;

static void on_stop(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	watch_resized = 1;
}

static json_t *find_port(struct watch *w, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(w->ports, i, p) {
		if (!strcmp(watch_jstr(p, "name"), name))
			return p;
	}
	p = json_pack("{s:s, s:s, s:i, s:i}", "name", name, "state", "?", "ok", 0, "failed", 0);
	json_array_append_new(w->ports, p);
	return p;
}

static void add_log(struct watch *w, const char *line)
{
	if (w->nlog == WATCH_LOG_MAX) {
		memmove(w->log[0], w->log[1], sizeof(w->log[0]) * (WATCH_LOG_MAX - 1));
		w->nlog = WATCH_LOG_MAX - 1;
	}
	snprintf(w->log[w->nlog++], sizeof(w->log[0]), "%.*s", (int)sizeof(w->log[0]) - 1, line);
}

static void stamp(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, cap, "%H:%M:%S", &tm);
}

static void update_batch(struct watch *w, json_t *ev)
{
	json_t *b;
	size_t i;
	long long id = watch_jint(ev, "batch");

	json_array_foreach(w->batches, i, b) {
		if (watch_jint(b, "id") == id) {
			json_object_update(b, ev);
			json_object_set_new(b, "id", json_integer(id));
			return;
		}
	}
	b = json_deep_copy(ev);
	json_object_set_new(b, "id", json_integer(id));
	json_array_append_new(w->batches, b);
}

/* A line for the log or, off a terminal, stdout. */
static void note(struct watch *w, const char *line)
{
	if (w->tty)
		add_log(w, line);
	else if (!w->json) {
		printf("%s\n", line);
		fflush(stdout);
	}
}

/* Returns 1 when watching should end (--batch finished). */
static int on_event(struct watch *w, json_t *ev)
{
	const char *kind = watch_jstr(ev, "event");
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
		snprintf(w->station, sizeof(w->station), "%s", watch_jstr(ev, "station"));
		snprintf(line, sizeof(line), "%s watching station %s (%zu ports)", ts, watch_jstr(ev, "station"),
			 json_array_size(w->ports));
	} else if (json_object_get(ev, "port") && strcmp(kind, "batch")) {
		p = find_port(w, watch_jstr(ev, "port"));
	}
	if (!strcmp(kind, "port")) {
		json_object_set(p, "state", json_object_get(ev, "state"));
		if (strcmp(watch_jstr(ev, "state"), "busy"))
			json_object_del(p, "progress");
	} else if (!strcmp(kind, "device.arrived")) {
		json_object_set(p, "mac", json_object_get(ev, "mac"));
		json_object_set(p, "chip", json_object_get(ev, "chip"));
		snprintf(line, sizeof(line), "%s %s arrived: %s %s", ts, watch_jstr(ev, "port"), watch_jstr(ev, "chip"), watch_jstr(ev, "mac"));
	} else if (!strcmp(kind, "device.left")) {
		json_object_set_new(p, "mac", json_string(""));
		json_object_set_new(p, "chip", json_string(""));
		snprintf(line, sizeof(line), "%s %s left: %s", ts, watch_jstr(ev, "port"), watch_jstr(ev, "mac"));
	} else if (!strcmp(kind, "step")) {
		json_object_set(p, "step", json_object_get(ev, "step"));
		json_object_set_new(p, "progress", json_pack("{s:i, s:i}", "done", 0, "total", 0));
		if (!w->tty)
			snprintf(line, sizeof(line), "%s %s %s", ts, watch_jstr(ev, "port"), watch_jstr(ev, "step"));
	} else if (!strcmp(kind, "progress")) {
		json_object_set_new(p, "progress", json_pack("{s:I, s:I}", "done", (json_int_t)watch_jint(ev, "done"), "total",
							     (json_int_t)watch_jint(ev, "total")));
	} else if (!strcmp(kind, "result")) {
		const char *r = watch_jstr(ev, "result");
		int ok = !strcmp(r, "verified");
		json_object_set_new(p, ok ? "ok" : "failed", json_integer(watch_jint(p, ok ? "ok" : "failed") + 1));
		json_object_set_new(p, "state", json_string("done"));
		json_object_set_new(p, "last", json_pack("{s:s, s:s, s:s}", "result", r, "record", watch_jstr(ev, "record"),
							 "error", watch_jstr(ev, "error")));
		snprintf(line, sizeof(line), "%s %s %s %s record %s in %.2fs%s%.160s", ts, watch_jstr(ev, "port"), r,
			 watch_jstr(ev, "mac"), watch_jstr(ev, "record")[0] ? watch_jstr(ev, "record") : "-",
			 (double)watch_jint(ev, "duration_ms") / 1000.0, watch_jstr(ev, "error")[0] ? ": " : "", watch_jstr(ev, "error"));
	} else if (!strcmp(kind, "batch")) {
		update_batch(w, ev);
		snprintf(line, sizeof(line), "%s batch %lld %s", ts, watch_jint(ev, "batch"), watch_jstr(ev, "state"));
		if (json_object_get(ev, "verified"))
			snprintf(line + strlen(line), sizeof(line) - strlen(line), ": %lld verified, %lld failed, %lld to go",
				 watch_jint(ev, "verified"), watch_jint(ev, "failed"), watch_jint(ev, "remaining"));
	}
	if (line[0])
		note(w, line);
	if (w->tty)
		watch_draw(w);
	if (w->batch) {
		json_t *b;
		size_t i;
		json_array_foreach(w->batches, i, b) {
			const char *st = watch_jstr(b, "state");
			if (watch_jint(b, "id") == w->batch && *st && strcmp(st, "active") && strcmp(st, "paused"))
				return 1;
		}
	}
	return 0;
}

/* Connect and subscribe; 0, or -1 with the reason in msg (nothing printed:
 * retries would repeat it every second over the frame). */
static int subscribe(const char *path, struct ctl_client **c, char *msg, size_t cap)
{
	struct ctl_client_err err;
	json_t *res = NULL;

	*c = NULL;
	if (ctl_client_connect(path, c, &err)) {
		snprintf(msg, cap, "%s", err.msg);
		return -1;
	}
	if (ctl_client_call(*c, "subscribe", NULL, &res, WATCH_CALL_MS, &err)) {
		snprintf(msg, cap, "%s", err.msg);
		ctl_client_free(*c);
		*c = NULL;
		return -1;
	}
	json_decref(res);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab watch [--json] [--plain] [--no-color] [--batch ID] [--timeout S]\n"
		   "  live per-port view (a redrawn frame on a terminal, one line per event\n"
		   "  otherwise); --batch exits when that batch is done or cancelled; reconnects\n"
		   "  when espfabd restarts.\n");
}

enum watch_opt_id { WATCH_OPT_JSON, WATCH_OPT_BATCH, WATCH_OPT_TIMEOUT, WATCH_OPT_PLAIN, WATCH_OPT_NO_COLOR, WATCH_OPT_HELP };

static const struct cli_opt watch_opts[] = {
	{"--json", 0, CLI_ARGS_FLAG, WATCH_OPT_JSON, {NULL, NULL}, 0},
	{"--batch", 0, CLI_ARGS_ONE, WATCH_OPT_BATCH, {NULL, NULL}, 0},
	{"--timeout", 0, CLI_ARGS_ONE, WATCH_OPT_TIMEOUT, {NULL, NULL}, 0},
	{"--plain", 0, CLI_ARGS_FLAG, WATCH_OPT_PLAIN, {NULL, NULL}, 0},
	{"--no-color", 0, CLI_ARGS_FLAG, WATCH_OPT_NO_COLOR, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, WATCH_OPT_HELP, {NULL, NULL}, 0},
};

struct watch_args {
	struct watch *w;
	int64_t timeout_s;
	int plain, no_colour;
};

static int watch_on_opt(void *ctx, const struct cli_opt *o, char **vals, int nvals)
{
	struct watch_args *a = ctx;

	(void)nvals;
	switch ((enum watch_opt_id)o->id) {
	case WATCH_OPT_JSON:
		a->w->json = 1;
		break;
	case WATCH_OPT_BATCH:
		if (cli_parse_id(vals[0], &a->w->batch)) {
			fprintf(stderr, "espfab watch: --batch: expected a batch id\n");
			return 2;
		}
		break;
	case WATCH_OPT_TIMEOUT:
		if (cli_parse_id(vals[0], &a->timeout_s)) {
			fprintf(stderr, "espfab watch: --timeout: expected seconds\n");
			return 2;
		}
		break;
	case WATCH_OPT_PLAIN:
		a->plain = 1;
		break;
	case WATCH_OPT_NO_COLOR:
		a->no_colour = 1;
		break;
	case WATCH_OPT_HELP:
		usage(stdout);
		return CLI_ARGS_DONE;
	}
	return 0;
}

/* The daemon went away (a restart, a stop): say so and wait for it. */
static void watch_lost(struct watch *w, struct ctl_client **c, const struct ctl_client_err *err)
{
	char ts[16], line[400];

	ctl_client_free(*c);
	*c = NULL;
	stamp(ts, sizeof(ts));
	snprintf(w->link, sizeof(w->link), "reconnecting (%.100s)", err->msg);
	snprintf(line, sizeof(line), "%s connection to espfabd lost: %.200s; reconnecting", ts, err->msg);
	note(w, line);
	if (w->json)
		fprintf(stderr, "espfab watch: %s; reconnecting\n", err->msg);
	if (w->tty)
		watch_draw(w);
}

/* Subscribe again once retry_at has passed; 0 when connected. */
static int watch_reconnect(struct watch *w, struct ctl_client **c, const char *path, time_t *retry_at)
{
	char ts[16], line[128], msg[320];

	if (time(NULL) < *retry_at) {
		usleep(WATCH_WAIT_MS * 1000);
		return -1;
	}
	*retry_at = time(NULL) + WATCH_RETRY_S;
	if (subscribe(path, c, msg, sizeof(msg)))
		return -1;
	w->link[0] = '\0';
	stamp(ts, sizeof(ts));
	snprintf(line, sizeof(line), "%s reconnected to espfabd", ts);
	note(w, line);
	if (w->json)
		fprintf(stderr, "espfab watch: reconnected\n");
	return 0;
}

/* Events until a signal, the --batch's end or the --timeout; the exit status. */
static int watch_loop(struct watch *w, struct ctl_client **c, const char *path, int64_t timeout_s)
{
	struct ctl_client_err err;
	time_t start = time(NULL), retry_at = 0;

	while (!watch_stop) {
		json_t *m = NULL;
		int r;
		if (timeout_s && time(NULL) - start >= timeout_s) {
			fprintf(stderr, "espfab watch: timed out after %llds\n", (long long)timeout_s);
			return 3;
		}
		if (w->tty && watch_resized)
			watch_draw(w);
		if (!*c && watch_reconnect(w, c, path, &retry_at))
			continue;
		r = ctl_client_next(*c, &m, WATCH_WAIT_MS, &err);
		if (r == CTL_CLIENT_ETIMEDOUT)
			continue;
		if (r) {
			watch_lost(w, c, &err);
			retry_at = time(NULL) + WATCH_RETRY_S;
			continue;
		}
		if (!json_object_get(m, "event")) {
			json_decref(m);
			continue;
		}
		if (w->json) {
			json_dumpf(m, stdout, JSON_COMPACT);
			putchar('\n');
			fflush(stdout);
		}
		r = on_event(w, m);
		json_decref(m);
		if (r)
			break;
	}
	return 0;
}

int cmd_watch(int argc, char **argv, const struct cli_globals *g)
{
	static struct watch w; /* large: not on the stack */
	struct watch_args a = {.w = &w};
	const struct cli_args p = {.prog = "espfab watch", .opts = watch_opts,
				   .nopts = sizeof(watch_opts) / sizeof(watch_opts[0]), .flags = CLI_ARGS_PREFIX,
				   .style = CLI_ARGS_ESPFAB, .ctx = &a, .on_opt = watch_on_opt};
	struct ctl_client *c = NULL;
	struct sigaction sa;
	int rc = 1;
	const char *term = getenv("TERM"), *path;
	char msg[320], pathbuf[512];

	rc = cli_args_parse(&p, argc, argv, 1);
	if (rc)
		return rc == CLI_ARGS_DONE ? 0 : rc;
	rc = 1;
	w.tty = !w.json && !a.plain && isatty(STDOUT_FILENO);
	w.colour = w.tty && !a.no_colour && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
	w.ports = json_array();
	w.batches = json_array();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	watch_update_size(&w);
	/* The first connection must work: a wrong socket is an error, not a
	 * wait. After that, a lost daemon is waited for. */
	path = cli_socket_path(g, pathbuf, sizeof(pathbuf));
	if (subscribe(path, &c, msg, sizeof(msg))) {
		fprintf(stderr, "espfab watch: %s\n", msg);
		goto out;
	}
	rc = watch_loop(&w, &c, path, a.timeout_s);
out:
	ctl_client_free(c);
	json_decref(w.ports);
	json_decref(w.batches);
	return rc;
}
