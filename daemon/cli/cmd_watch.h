/* espfab watch's shared state (private to daemon/cli): the event loop
 * (cmd_watch.c) keeps it, the frame (cmd_watch_draw.c) shows it. */
#ifndef ESPFAB_CMD_WATCH_H
#define ESPFAB_CMD_WATCH_H

#include <signal.h>
#include <stdint.h>

#include <jansson.h>

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

/* Set by SIGWINCH (cmd_watch.c); the next frame re-reads the size. */
extern volatile sig_atomic_t watch_resized;

/* A field of an event or row: "" / 0 when absent. */
const char *watch_jstr(json_t *o, const char *k);
long long watch_jint(json_t *o, const char *k);
/* Read the window's size into w->cols, w->rows. */
void watch_update_size(struct watch *w);
/* Redraw the frame in place (terminal only). */
void watch_draw(struct watch *w);

#endif
