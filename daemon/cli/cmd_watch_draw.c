/* espfab watch's terminal frame: colours, lines cut to the window's width,
 * the frame cut to its height. See cmd_watch.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd_watch.h"

const char *watch_jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

long long watch_jint(json_t *o, const char *k)
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
	const char *state = watch_jstr(p, "state");
	json_t *last = json_object_get(p, "last");
	char st[16];

	/* Names whole (they tell slots apart), the rest is cut at the edge. */
	line_fmt(l, "%-*s ", name_w, watch_jstr(p, "name"));
	snprintf(st, sizeof(st), "%-8s", state);
	line_coloured(l, w, state_colour(state), st);
	line_fmt(l, " %-17s %-9s ok %-3lld fail %-3lld ", watch_jstr(p, "mac"), watch_jstr(p, "chip"), watch_jint(p, "ok"),
		 watch_jint(p, "failed"));
	if (!strcmp(state, "busy")) {
		json_t *pr = json_object_get(p, "progress");
		long long done = watch_jint(pr, "done"), total = watch_jint(pr, "total");
		int pct = total ? (int)(done * 100 / total) : 0;
		char bar[21];
		for (int i = 0; i < 20; i++)
			bar[i] = i < pct / 5 ? '#' : '.';
		bar[20] = '\0';
		line_fmt(l, "%-8s ", watch_jstr(p, "step"));
		if (total)
			line_fmt(l, "[%s] %3d%% ", bar, pct);
		line_fmt(l, "record %s", watch_jstr(p, "record"));
	} else if (last) {
		line_text(l, "last: ");
		line_coloured(l, w, result_colour(watch_jstr(last, "result")), watch_jstr(last, "result"));
		line_fmt(l, " %s%s%s", watch_jstr(last, "record"), watch_jstr(last, "error")[0] ? " - " : "", watch_jstr(last, "error"));
	}
}

void watch_update_size(struct watch *w)
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
	return !strcmp(watch_jstr(b, "state"), "active") || !strcmp(watch_jstr(b, "state"), "paused") || watch_jint(b, "id") == w->batch;
}

static void emit(struct line *l, int *lines)
{
	printf("\033[2K%s\n", l->buf);
	(*lines)++;
}

void watch_draw(struct watch *w)
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
		watch_update_size(w);
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
		size_t n = strlen(watch_jstr(p, "name"));
		verified += watch_jint(p, "ok");
		failed += watch_jint(p, "failed");
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
		line_fmt(&l, "batch %lld %s: ", watch_jint(b, "id"), watch_jstr(b, "product"));
		line_coloured(&l, w, !strcmp(watch_jstr(b, "state"), "active") ? WATCH_YELLOW : WATCH_PLAIN, watch_jstr(b, "state"));
		line_fmt(&l, " %lld/%lld verified, %lld failed", watch_jint(b, "verified"), watch_jint(b, "count"), watch_jint(b, "failed"));
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
