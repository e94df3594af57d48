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
#include <getopt.h>
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
#include "ctl_client.h"

#define WATCH_LOG_MAX 64
#define WATCH_LINE_MAX 512
#define WATCH_CALL_MS 30000
#define WATCH_WAIT_MS 200
#define WATCH_RETRY_S 1

enum watch_colour {
	WATCH_PLAIN = 0,
	WATCH_GREEN,
	WATCH_RED,
	WATCH_YELLOW,
	WATCH_CYAN,
	WATCH_DIM,
	WATCH_BOLD,
};

struct watch {
	int tty, json, colour;
	int64_t batch;     /* --batch: exit when it is no longer active */
	json_t *ports;     /* array of port objects, updated from events */
	json_t *batches;   /* last known batch rows */
	char station[64];
	char link[128];    /* "" while connected, else what the connection is doing */
	char log[WATCH_LOG_MAX][256];
	unsigned nlog;
	int drawn;         /* lines of the last frame (tty) */
	unsigned cols, rows;
};

static volatile sig_atomic_t watch_stop, watch_resized;

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

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *sgr(const struct watch *w, enum watch_colour c)
{
	if (!w->colour)
		return "";
	switch (c) {
	case WATCH_PLAIN:
		return "\033[0m";
	case WATCH_GREEN:
		return "\033[32m";
	case WATCH_RED:
		return "\033[31m";
	case WATCH_YELLOW:
		return "\033[33m";
	case WATCH_CYAN:
		return "\033[36m";
	case WATCH_DIM:
		return "\033[2m";
	case WATCH_BOLD:
		return "\033[1m";
	}
	return "";
}

static enum watch_colour state_colour(const char *state)
{
	if (!strcmp(state, "busy"))
		return WATCH_YELLOW;
	if (!strcmp(state, "done"))
		return WATCH_GREEN;
	if (!strcmp(state, "waiting"))
		return WATCH_CYAN;
	if (!strcmp(state, "absent") || !strcmp(state, "stopped") || !strcmp(state, "?"))
		return WATCH_DIM;
	return WATCH_PLAIN;
}

static enum watch_colour result_colour(const char *result)
{
	if (!strcmp(result, "verified"))
		return WATCH_GREEN;
	if (!strcmp(result, "failed"))
		return WATCH_RED;
	if (!strcmp(result, "released"))
		return WATCH_YELLOW;
	return WATCH_PLAIN;
}

/* A line under construction: text with colour codes, and its width in
 * terminal columns (the codes take none). Text beyond max columns is cut. */
struct line {
	char buf[WATCH_LINE_MAX * 2];
	size_t len;
	unsigned width, max;
};

static void line_init(struct line *l, unsigned max)
{
	l->buf[0] = '\0';
	l->len = 0;
	l->width = 0;
	l->max = max;
}

static void line_code(struct line *l, const char *code)
{
	size_t n = strlen(code);

	if (l->len + n < sizeof(l->buf)) {
		memcpy(l->buf + l->len, code, n + 1);
		l->len += n;
	}
}

/* Appends printable text; control bytes become '?', a UTF-8 sequence
 * counts one column (names and messages are ASCII in practice). */
static void line_text(struct line *l, const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		int cont = (*p & 0xC0) == 0x80;
		if (!cont && l->width >= l->max)
			break;
		if (l->len + 2 >= sizeof(l->buf))
			break;
		l->buf[l->len++] = (char)(*p < 0x20 || *p == 0x7f ? '?' : *p);
		if (!cont)
			l->width++;
	}
	l->buf[l->len] = '\0';
}

static void line_fmt(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_fmt(struct line *l, const char *fmt, ...)
{
	char t[WATCH_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	line_text(l, t);
}

static void line_coloured(struct line *l, const struct watch *w, enum watch_colour c, const char *t)
{
	line_code(l, sgr(w, c));
	line_text(l, t);
	line_code(l, sgr(w, WATCH_PLAIN));
}

static void port_line(const struct watch *w, json_t *p, struct line *l, int name_w)
{
	const char *state = jstr(p, "state");
	json_t *last = json_object_get(p, "last");
	char st[16];

	/* Names whole (they tell slots apart), the rest is cut at the edge. */
	line_fmt(l, "%-*s ", name_w, jstr(p, "name"));
	snprintf(st, sizeof(st), "%-8s", state);
	line_coloured(l, w, state_colour(state), st);
	line_fmt(l, " %-17s %-9s ok %-3lld fail %-3lld ", jstr(p, "mac"), jstr(p, "chip"), jint(p, "ok"),
		 jint(p, "failed"));
	if (!strcmp(state, "busy")) {
		json_t *pr = json_object_get(p, "progress");
		long long done = jint(pr, "done"), total = jint(pr, "total");
		int pct = total ? (int)(done * 100 / total) : 0;
		char bar[21];
		for (int i = 0; i < 20; i++)
			bar[i] = i < pct / 5 ? '#' : '.';
		bar[20] = '\0';
		line_fmt(l, "%-8s ", jstr(p, "step"));
		if (total)
			line_fmt(l, "[%s] %3d%% ", bar, pct);
		line_fmt(l, "record %s", jstr(p, "record"));
	} else if (last) {
		line_text(l, "last: ");
		line_coloured(l, w, result_colour(jstr(last, "result")), jstr(last, "result"));
		line_fmt(l, " %s%s%s", jstr(last, "record"), jstr(last, "error")[0] ? " - " : "", jstr(last, "error"));
	}
}

static void update_size(struct watch *w)
{
	struct winsize ws;

	w->cols = 80;
	w->rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		w->cols = ws.ws_col;
		w->rows = ws.ws_row;
	}
}

static int batch_shown(const struct watch *w, json_t *b)
{
	return !strcmp(jstr(b, "state"), "active") || !strcmp(jstr(b, "state"), "paused") || jint(b, "id") == w->batch;
}

static void emit(struct line *l, int *lines)
{
	printf("\033[2K%s\n", l->buf);
	(*lines)++;
}

static void draw(struct watch *w)
{
	/* One column short of the width: a line that fills the last column
	 * leaves some terminals' cursor in a pending-wrap state. */
	unsigned maxw, budget;
	size_t nports = json_array_size(w->ports), nb = 0, shown_ports, i;
	json_t *p, *b;
	struct line l;
	int lines = 0, name_w = 8;
	long long verified = 0, failed = 0;

	if (watch_resized) {
		watch_resized = 0;
		update_size(w);
		/* The old frame may have scrolled or wrapped: start over. */
		printf("\033[H\033[2J");
		w->drawn = 0;
	}
	maxw = w->cols > 1 ? w->cols - 1 : 1;
	/* The frame plus the cursor's line must fit, or it scrolls. */
	budget = w->rows > 1 ? w->rows - 1 : 1;
	if (w->drawn)
		printf("\r\033[%dA", w->drawn);
	json_array_foreach(w->batches, i, b)
		nb += (size_t)batch_shown(w, b);
	json_array_foreach(w->ports, i, p) {
		size_t n = strlen(jstr(p, "name"));
		verified += jint(p, "ok");
		failed += jint(p, "failed");
		if (n > (size_t)name_w)
			name_w = n > 32 ? 32 : (int)n;
	}
	line_init(&l, maxw);
	line_code(&l, sgr(w, WATCH_BOLD));
	line_fmt(&l, "station %s: %zu ports, verified %lld, failed %lld", w->station, nports, verified, failed);
	line_code(&l, sgr(w, WATCH_PLAIN));
	if (w->link[0]) {
		line_text(&l, "  ");
		line_coloured(&l, w, WATCH_RED, w->link);
	}
	emit(&l, &lines);
	/* Ports first, then batches, then the newest events in what is left. */
	shown_ports = nports;
	if (1 + nports + nb > budget) {
		size_t room = budget > 1 + nb + 1 ? budget - 1 - nb - 1 : 0;
		shown_ports = room < nports ? room : nports;
	}
	for (i = 0; i < shown_ports; i++) {
		line_init(&l, maxw);
		port_line(w, json_array_get(w->ports, i), &l, name_w);
		emit(&l, &lines);
	}
	if (shown_ports < nports && (unsigned)lines < budget) {
		line_init(&l, maxw);
		line_fmt(&l, "... %zu more ports (window too small)", nports - shown_ports);
		emit(&l, &lines);
	}
	json_array_foreach(w->batches, i, b) {
		if (!batch_shown(w, b) || (unsigned)lines >= budget)
			continue;
		line_init(&l, maxw);
		line_fmt(&l, "batch %lld %s: ", jint(b, "id"), jstr(b, "product"));
		line_coloured(&l, w, !strcmp(jstr(b, "state"), "active") ? WATCH_YELLOW : WATCH_PLAIN, jstr(b, "state"));
		line_fmt(&l, " %lld/%lld verified, %lld failed", jint(b, "verified"), jint(b, "count"), jint(b, "failed"));
		emit(&l, &lines);
	}
	{
		unsigned room = budget > (unsigned)lines ? budget - (unsigned)lines : 0;
		unsigned first = w->nlog > room ? w->nlog - room : 0;
		for (unsigned k = first; k < w->nlog; k++) {
			line_init(&l, maxw);
			line_text(&l, "  ");
			line_text(&l, w->log[k]);
			emit(&l, &lines);
		}
	}
	/* Whatever an earlier, longer frame left below. */
	printf("\033[J");
	fflush(stdout);
	w->drawn = lines;
}

static json_t *find_port(struct watch *w, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(w->ports, i, p) {
		if (!strcmp(jstr(p, "name"), name))
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
	snprintf(w->log[w->nlog++], sizeof(w->log[0]), "%s", line);
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
	long long id = jint(ev, "batch");

	json_array_foreach(w->batches, i, b) {
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
		snprintf(w->station, sizeof(w->station), "%s", jstr(ev, "station"));
		snprintf(line, sizeof(line), "%s watching station %s (%zu ports)", ts, jstr(ev, "station"),
			 json_array_size(w->ports));
	} else if (json_object_get(ev, "port") && strcmp(kind, "batch")) {
		p = find_port(w, jstr(ev, "port"));
	}
	if (!strcmp(kind, "port")) {
		json_object_set(p, "state", json_object_get(ev, "state"));
		if (strcmp(jstr(ev, "state"), "busy"))
			json_object_del(p, "progress");
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
	if (line[0])
		note(w, line);
	if (w->tty)
		draw(w);
	if (w->batch) {
		json_t *b;
		size_t i;
		json_array_foreach(w->batches, i, b) {
			const char *st = jstr(b, "state");
			if (jint(b, "id") == w->batch && *st && strcmp(st, "active") && strcmp(st, "paused"))
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

int cmd_watch(int argc, char **argv, const struct cli_globals *g)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},     {"batch", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'}, {"plain", no_argument, NULL, 'p'},
		{"no-color", no_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct watch w; /* large: not on the stack */
	struct ctl_client *c = NULL;
	struct ctl_client_err err;
	struct sigaction sa;
	int64_t timeout_s = 0;
	time_t start = time(NULL), retry_at = 0;
	int rc = 1, ch, plain = 0, no_colour = 0;
	const char *term = getenv("TERM"), *path;
	char msg[320], pathbuf[512];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			w.json = 1;
			break;
		case 'b':
			if (cli_parse_id(optarg, &w.batch)) {
				fprintf(stderr, "espfab watch: --batch: expected a batch id\n");
				return 2;
			}
			break;
		case 't':
			if (cli_parse_id(optarg, &timeout_s)) {
				fprintf(stderr, "espfab watch: --timeout: expected seconds\n");
				return 2;
			}
			break;
		case 'p':
			plain = 1;
			break;
		case 'C':
			no_colour = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espfab watch: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	w.tty = !w.json && !plain && isatty(STDOUT_FILENO);
	w.colour = w.tty && !no_colour && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
	w.ports = json_array();
	w.batches = json_array();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	update_size(&w);
	/* The first connection must work: a wrong socket is an error, not a
	 * wait. After that, a lost daemon is waited for. */
	path = cli_socket_path(g, pathbuf, sizeof(pathbuf));
	if (subscribe(path, &c, msg, sizeof(msg))) {
		fprintf(stderr, "espfab watch: %s\n", msg);
		goto out;
	}
	while (!watch_stop) {
		json_t *m = NULL;
		int r;
		if (timeout_s && time(NULL) - start >= timeout_s) {
			fprintf(stderr, "espfab watch: timed out after %llds\n", (long long)timeout_s);
			rc = 3;
			goto out;
		}
		if (w.tty && watch_resized)
			draw(&w);
		if (!c) {
			if (time(NULL) < retry_at) {
				usleep(WATCH_WAIT_MS * 1000);
				continue;
			}
			retry_at = time(NULL) + WATCH_RETRY_S;
			if (subscribe(path, &c, msg, sizeof(msg)))
				continue;
			w.link[0] = '\0';
			char ts[16], line[128];
			stamp(ts, sizeof(ts));
			snprintf(line, sizeof(line), "%s reconnected to espfabd", ts);
			note(&w, line);
			if (w.json)
				fprintf(stderr, "espfab watch: reconnected\n");
		}
		r = ctl_client_next(c, &m, WATCH_WAIT_MS, &err);
		if (r == CTL_CLIENT_ETIMEDOUT)
			continue;
		if (r) {
			/* The daemon went away (a restart, a stop): wait for it. */
			char ts[16], line[400];
			ctl_client_free(c);
			c = NULL;
			stamp(ts, sizeof(ts));
			snprintf(w.link, sizeof(w.link), "reconnecting (%.100s)", err.msg);
			snprintf(line, sizeof(line), "%s connection to espfabd lost: %.200s; reconnecting", ts, err.msg);
			note(&w, line);
			if (w.json)
				fprintf(stderr, "espfab watch: %s; reconnecting\n", err.msg);
			if (w.tty)
				draw(&w);
			retry_at = time(NULL) + WATCH_RETRY_S;
			continue;
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
	ctl_client_free(c);
	json_decref(w.ports);
	json_decref(w.batches);
	return rc;
}
