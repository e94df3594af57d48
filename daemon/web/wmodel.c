/* The station's picture for the operator screen. See wmodel.h. */
#include "wmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last result on a slot. */
struct wmodel_last {
	char result[16]; /* verified, failed, released */
	char mac[18];
	char record[64];
	char error[256];
};

struct wmodel_tile {
	char name[64];
	char state[16]; /* the daemon's port state */
	char mac[18];
	char chip[24];
	char record[64];
	char step[16];
	int64_t batch, done, total, ok, failed;
	int has_last;
	struct wmodel_last last;
};

/* One device result, for the windows. */
struct wmodel_result {
	time_t t;
	int ok;
	enum wmodel_cause cause;
};

struct wmodel {
	int online;
	char why[256];     /* while offline */
	time_t since;      /* when online/offline last changed */
	char station[64];
	char version[32];
	int64_t n_verified, n_failed; /* the daemon's counts since it started */
	struct wmodel_tile tiles[WMODEL_MAX_TILES];
	size_t ntiles;
	json_t *batches;   /* array of whitelisted batch rows, by id */
	json_t *tail;      /* array of audit rows, oldest first, at most WMODEL_TAIL */
	struct wmodel_result *res; /* ring */
	size_t res_head, res_n;
	int seeding;
	int64_t seed_last_id;
	char seed_since[40];
	json_t *extra;     /* merged into every state */
};

int wmodel_new(struct wmodel **out)
{
	struct wmodel *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return WMODEL_ENOMEM;
	m->batches = json_array();
	m->tail = json_array();
	m->res = calloc(WMODEL_MAX_RESULTS, sizeof(*m->res));
	if (!m->batches || !m->tail || !m->res) {
		wmodel_free(m);
		return WMODEL_ENOMEM;
	}
	snprintf(m->why, sizeof(m->why), "not connected to espfabd yet");
	*out = m;
	return WMODEL_OK;
}

void wmodel_free(struct wmodel *m)
{
	if (!m)
		return;
	json_decref(m->batches);
	json_decref(m->tail);
	json_decref(m->extra);
	free(m->res);
	free(m);
}

/* ---- small readers over untrusted JSON ---- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
	/* Printable ASCII only: the page shows it, a log might too. */
	size_t j = 0;
	for (size_t i = 0; src[i] && j + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[j] = '\0';
}

/* ---- tiles ---- */

static struct wmodel_tile *tile_get(struct wmodel *m, const char *name)
{
	if (!*name)
		return NULL;
	for (size_t i = 0; i < m->ntiles; i++)
		if (!strncmp(m->tiles[i].name, name, sizeof(m->tiles[i].name) - 1))
			return &m->tiles[i];
	if (m->ntiles == WMODEL_MAX_TILES)
		return NULL;
	memset(&m->tiles[m->ntiles], 0, sizeof(m->tiles[0]));
	copy(m->tiles[m->ntiles].name, sizeof(m->tiles[0].name), name);
	snprintf(m->tiles[m->ntiles].state, sizeof(m->tiles[0].state), "absent");
	return &m->tiles[m->ntiles++];
}

/* What the tile says in big letters, and its colour class (never colour
 * alone: the label is the state). */
static void tile_label(const struct wmodel_tile *t, const char **label, const char **tone)
{
	static const struct {
		const char *step, *label;
	} steps[] = {{"table", "CHECKING"},  {"firmware", "FLASHING"}, {"claim", "CLAIMING"},
		     {"write", "WRITING"},   {"verify", "VERIFYING"},  {"reset", "RESETTING"}};

	*tone = "idle";
	if (!strcmp(t->state, "busy")) {
		*tone = "busy";
		*label = "CONNECTING";
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			if (!strcmp(t->step, steps[i].step))
				*label = steps[i].label;
	} else if (!strcmp(t->state, "done") && t->has_last) {
		int ok = !strcmp(t->last.result, "verified");
		*label = ok ? "VERIFIED" : "FAILED";
		*tone = ok ? "ok" : "fail";
	} else if (!strcmp(t->state, "done")) {
		*label = "DONE";
		*tone = "ok";
	} else if (!strcmp(t->state, "waiting")) {
		*label = "WAITING";
		*tone = "wait";
	} else if (!strcmp(t->state, "idle")) {
		*label = "EMPTY";
	} else if (!strcmp(t->state, "stopped")) {
		*label = "STOPPED";
		*tone = "off";
	} else {
		*label = "NO PORT";
		*tone = "off";
	}
}

static const char *tile_hint(const struct wmodel_tile *t)
{
	if (!strcmp(t->state, "busy"))
		return "Do not touch the board";
	if (!strcmp(t->state, "done"))
		return t->has_last && !strcmp(t->last.result, "verified") ? "Remove the board" : "Remove the board (see below)";
	if (!strcmp(t->state, "waiting"))
		return "Board ready: no batch is running";
	if (!strcmp(t->state, "idle"))
		return "Insert a board";
	if (!strcmp(t->state, "stopped"))
		return "Station stopping";
	return "Port not connected";
}

static json_t *tile_json(const struct wmodel_tile *t)
{
	const char *label, *tone;
	json_t *o;

	tile_label(t, &label, &tone);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "name", t->name, "state",
		      t->state, "label", label, "tone", tone, "hint", tile_hint(t), "mac", t->mac, "chip", t->chip,
		      "step", t->step, "done", (json_int_t)t->done, "total", (json_int_t)t->total, "ok",
		      (json_int_t)t->ok, "failed", (json_int_t)t->failed);
	if (!o)
		return NULL;
	/* The record only while it is being written; afterwards it is the last's. */
	json_object_set_new(o, "record", json_string(!strcmp(t->state, "busy") ? t->record : ""));
	if (t->has_last) {
		int failed = strcmp(t->last.result, "verified") != 0;
		enum wmodel_cause c = wmodel_classify(t->last.error);
		json_t *l = json_pack("{s:s, s:s, s:s, s:s}", "result", t->last.result, "mac", t->last.mac, "record",
				      t->last.record, "error", t->last.error);
		if (l && failed) {
			json_object_set_new(l, "cause", json_string(wmodel_cause_name(c)));
			json_object_set_new(l, "reason", json_string(wmodel_cause_label(c)));
			json_object_set_new(l, "action", json_string(wmodel_cause_action(c)));
		}
		json_object_set_new(o, "last", l ? l : json_null());
	}
	return o;
}

static void change(json_t *changes, const char *type, json_t *data)
{
	if (!data)
		return;
	json_array_append_new(changes, json_pack("{s:s, s:o}", "type", type, "data", data));
}

static void tile_from_port(struct wmodel_tile *t, json_t *p)
{
	json_t *pr = json_object_get(p, "progress"), *last = json_object_get(p, "last");

	copy(t->state, sizeof(t->state), jstr(p, "state"));
	copy(t->mac, sizeof(t->mac), jstr(p, "mac"));
	copy(t->chip, sizeof(t->chip), jstr(p, "chip"));
	copy(t->step, sizeof(t->step), jstr(p, "step"));
	copy(t->record, sizeof(t->record), jstr(p, "record"));
	t->batch = jint(p, "batch");
	t->done = jint(pr, "done");
	t->total = jint(pr, "total");
	t->ok = jint(p, "ok");
	t->failed = jint(p, "failed");
	t->has_last = json_is_object(last) && *jstr(last, "result");
	if (t->has_last) {
		copy(t->last.result, sizeof(t->last.result), jstr(last, "result"));
		copy(t->last.mac, sizeof(t->last.mac), jstr(last, "mac"));
		copy(t->last.record, sizeof(t->last.record), jstr(last, "record"));
		copy(t->last.error, sizeof(t->last.error), jstr(last, "error"));
	}
}

/* ---- batches ---- */

static json_t *batch_row(json_t *b, int64_t id)
{
	json_t *o = json_pack("{s:I}", "id", (json_int_t)id);
	static const char *const ints[] = {"count", "verified", "failed", "in_flight", "remaining"};
	char buf[64];

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (json_is_integer(json_object_get(b, ints[i])))
			json_object_set_new(o, ints[i], json_integer(jint(b, ints[i])));
	if (*jstr(b, "product")) {
		copy(buf, sizeof(buf), jstr(b, "product"));
		json_object_set_new(o, "product", json_string(buf));
	}
	if (*jstr(b, "state")) {
		copy(buf, 16, jstr(b, "state"));
		json_object_set_new(o, "state", json_string(buf));
	}
	return o;
}

static void batch_update(struct wmodel *m, json_t *ev)
{
	int64_t id = jint(ev, "batch");
	json_t *b, *row;
	size_t i;

	if (id <= 0)
		return;
	row = batch_row(ev, id);
	json_array_foreach(m->batches, i, b)
	{
		if (jint(b, "id") == id) {
			json_object_update(b, row);
			json_decref(row);
			return;
		}
	}
	/* Keep the picture bounded however long the station has run. */
	if (json_array_size(m->batches) >= 256)
		json_array_remove(m->batches, 0);
	json_array_append_new(m->batches, row);
}

/* Open batches, and the three most recent others (newest first). */
static json_t *batches_json(struct wmodel *m)
{
	json_t *out = json_array(), *b;
	size_t n = json_array_size(m->batches);
	int others = 0;

	for (size_t k = n; k-- > 0;) {
		const char *st;
		b = json_array_get(m->batches, k);
		st = jstr(b, "state");
		if (!strcmp(st, "active") || !strcmp(st, "paused"))
			json_array_append(out, b);
		else if (others < 3 && ++others)
			json_array_append(out, b);
	}
	return json_pack("{s:o}", "batches", out);
}

/* ---- results, rates, tail ---- */

static void result_add(struct wmodel *m, time_t t, int ok, const char *error)
{
	size_t slot = (m->res_head + m->res_n) % WMODEL_MAX_RESULTS;

	if (m->res_n == WMODEL_MAX_RESULTS) {
		slot = m->res_head;
		m->res_head = (m->res_head + 1) % WMODEL_MAX_RESULTS;
	} else {
		m->res_n++;
	}
	m->res[slot] = (struct wmodel_result){.t = t, .ok = ok, .cause = ok ? WMODEL_CAUSE_OTHER : wmodel_classify(error)};
}

json_t *wmodel_stats(struct wmodel *m, time_t now)
{
	unsigned causes[WMODEL_CAUSE_COUNT_] = {0};
	int64_t ok_rate = 0, ok_h = 0, fail_h = 0;
	json_t *arr = json_array();

	for (size_t i = 0; i < m->res_n; i++) {
		const struct wmodel_result *r = &m->res[(m->res_head + i) % WMODEL_MAX_RESULTS];
		time_t age = now - r->t;
		if (age > WMODEL_CAUSE_WINDOW || age < -60)
			continue;
		if (r->ok) {
			ok_h++;
			if (age <= WMODEL_RATE_WINDOW)
				ok_rate++;
		} else {
			fail_h++;
			causes[r->cause]++;
		}
	}
	for (int c = 0; c < WMODEL_CAUSE_COUNT_; c++)
		if (causes[c])
			json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "cause", wmodel_cause_name(c), "label",
							     wmodel_cause_label(c), "count", (int)causes[c]));
	return json_pack("{s:I, s:i, s:I, s:I, s:i, s:o, s:I, s:I}", "per_hour",
			 (json_int_t)(ok_rate * 3600 / WMODEL_RATE_WINDOW), "rate_window_s", WMODEL_RATE_WINDOW,
			 "verified_1h", (json_int_t)ok_h, "failed_1h", (json_int_t)fail_h, "cause_window_s",
			 WMODEL_CAUSE_WINDOW, "causes", arr, "verified", (json_int_t)m->n_verified, "failed",
			 (json_int_t)m->n_failed);
}

static json_t *tail_row(const char *time, const char *event, const char *port, const char *mac,
			const char *record, const char *result, const char *error)
{
	char b_time[40], b_event[24], b_port[64], b_mac[18], b_record[64], b_result[16], b_error[256];
	json_t *o;

	copy(b_time, sizeof(b_time), time);
	copy(b_event, sizeof(b_event), event);
	copy(b_port, sizeof(b_port), port);
	copy(b_mac, sizeof(b_mac), mac);
	copy(b_record, sizeof(b_record), record);
	copy(b_result, sizeof(b_result), result);
	copy(b_error, sizeof(b_error), error);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", b_time, "event", b_event, "port", b_port, "mac",
		      b_mac, "record", b_record, "result", b_result, "error", b_error);
	if (o && *error && strcmp(result, "ok") && strcmp(result, "verified"))
		json_object_set_new(o, "reason", json_string(wmodel_cause_label(wmodel_classify(error))));
	return o;
}

static void tail_add(struct wmodel *m, json_t *row)
{
	if (!row)
		return;
	if (json_array_size(m->tail) >= WMODEL_TAIL)
		json_array_remove(m->tail, 0);
	json_array_append_new(m->tail, row);
}

void wmodel_seed_begin(struct wmodel *m)
{
	m->seeding = 1;
	m->seed_last_id = 0;
	m->seed_since[0] = '\0';
	m->res_head = m->res_n = 0;
	json_array_clear(m->tail);
}

int64_t wmodel_seed_page(struct wmodel *m, json_t *rows)
{
	json_t *r;
	size_t i;

	json_array_foreach(rows, i, r)
	{
		const char *ev = jstr(r, "event"), *res = jstr(r, "result");
		int64_t id = jint(r, "id");
		time_t t;
		/* Pages overlap on their boundary second ("since" is >=). */
		if (id <= m->seed_last_id)
			continue;
		m->seed_last_id = id;
		copy(m->seed_since, sizeof(m->seed_since), jstr(r, "time"));
		if (strcmp(ev, "provision") && strcmp(ev, "attempt"))
			continue;
		t = wmodel_parse_time(jstr(r, "time"));
		if (t >= 0 && *res)
			result_add(m, t, !strcmp(res, "ok"), jstr(r, "error"));
		tail_add(m, tail_row(jstr(r, "time"), ev, jstr(r, "port"), jstr(r, "mac"), jstr(r, "record_id"), res,
				     jstr(r, "error")));
	}
	return m->seed_last_id;
}

const char *wmodel_seed_since(const struct wmodel *m)
{
	return m->seed_since;
}

void wmodel_seed_end(struct wmodel *m, time_t now, json_t *changes)
{
	m->seeding = 0;
	change(changes, "state", wmodel_state(m, now));
}

/* ---- events ---- */

static void on_snapshot(struct wmodel *m, json_t *ev, time_t now)
{
	json_t *p, *b;
	size_t i;

	copy(m->station, sizeof(m->station), jstr(ev, "station"));
	copy(m->version, sizeof(m->version), jstr(ev, "version"));
	m->n_verified = jint(json_object_get(ev, "counts"), "verified");
	m->n_failed = jint(json_object_get(ev, "counts"), "failed");
	m->ntiles = 0;
	json_array_foreach(json_object_get(ev, "ports"), i, p)
	{
		struct wmodel_tile *t = tile_get(m, jstr(p, "name"));
		if (t)
			tile_from_port(t, p);
	}
	json_array_clear(m->batches);
	json_array_foreach(json_object_get(ev, "batches"), i, b)
	{
		if (jint(b, "id") > 0 && json_array_size(m->batches) < 256)
			json_array_append_new(m->batches, batch_row(b, jint(b, "id")));
	}
	if (!m->online) {
		m->online = 1;
		m->why[0] = '\0';
		m->since = now;
	}
}

static void on_result(struct wmodel *m, struct wmodel_tile *t, json_t *ev, time_t now, json_t *changes)
{
	const char *r = jstr(ev, "result");
	int ok = !strcmp(r, "verified");
	char ts[32];

	if (strcmp(r, "verified") && strcmp(r, "failed") && strcmp(r, "released"))
		return;
	if (ok) {
		t->ok++;
		m->n_verified++;
	} else {
		t->failed++;
		m->n_failed++;
	}
	t->has_last = 1;
	copy(t->last.result, sizeof(t->last.result), r);
	copy(t->last.mac, sizeof(t->last.mac), jstr(ev, "mac"));
	copy(t->last.record, sizeof(t->last.record), jstr(ev, "record"));
	copy(t->last.error, sizeof(t->last.error), jstr(ev, "error"));
	t->record[0] = '\0';
	snprintf(t->state, sizeof(t->state), "done");
	if (m->seeding)
		return; /* its audit row comes with a seed page */
	result_add(m, now, ok, t->last.error);
	wmodel_format_time(now, ts, sizeof(ts));
	{
		json_t *row = tail_row(ts, *jstr(ev, "record") ? "provision" : "attempt", t->name, jstr(ev, "mac"),
				       jstr(ev, "record"), ok ? "ok" : r, jstr(ev, "error"));
		if (row) {
			tail_add(m, json_incref(row));
			change(changes, "audit", row);
		}
	}
	change(changes, "stats", wmodel_stats(m, now));
}

int wmodel_apply(struct wmodel *m, json_t *msg, time_t now, json_t *changes)
{
	const char *kind = jstr(msg, "event");
	struct wmodel_tile *t = NULL;

	if (!json_is_object(msg) || !*kind)
		return WMODEL_EINPUT;
	if (!strcmp(kind, "snapshot")) {
		on_snapshot(m, msg, now);
		change(changes, "state", wmodel_state(m, now));
		return WMODEL_OK;
	}
	if (!strcmp(kind, "batch")) {
		batch_update(m, msg);
		change(changes, "batches", batches_json(m));
		return WMODEL_OK;
	}
	if (!m->online)
		return WMODEL_EINPUT; /* deltas before a snapshot have nothing to apply to */
	t = tile_get(m, jstr(msg, "port"));
	if (!t)
		return WMODEL_EINPUT;
	if (!strcmp(kind, "port")) {
		copy(t->state, sizeof(t->state), jstr(msg, "state"));
		if (strcmp(t->state, "busy")) {
			t->step[0] = '\0';
			t->done = t->total = 0;
		}
	} else if (!strcmp(kind, "device.arrived")) {
		copy(t->mac, sizeof(t->mac), jstr(msg, "mac"));
		copy(t->chip, sizeof(t->chip), jstr(msg, "chip"));
	} else if (!strcmp(kind, "device.left")) {
		t->mac[0] = t->chip[0] = '\0';
	} else if (!strcmp(kind, "step")) {
		copy(t->step, sizeof(t->step), jstr(msg, "step"));
		copy(t->record, sizeof(t->record), jstr(msg, "record"));
		t->batch = jint(msg, "batch");
		t->done = t->total = 0;
	} else if (!strcmp(kind, "progress")) {
		t->done = jint(msg, "done");
		t->total = jint(msg, "total");
	} else if (!strcmp(kind, "result")) {
		on_result(m, t, msg, now, changes);
	} else {
		return WMODEL_EINPUT;
	}
	change(changes, "tile", tile_json(t));
	return WMODEL_OK;
}

int wmodel_set_online(struct wmodel *m, int online, const char *why, time_t now, json_t *changes)
{
	if (!online) {
		char buf[sizeof(m->why)];
		copy(buf, sizeof(buf), why ? why : "");
		if (!m->online && !strcmp(buf, m->why))
			return WMODEL_OK;
		if (m->online)
			m->since = now;
		m->online = 0;
		memcpy(m->why, buf, sizeof(buf));
		/* What the tiles said is no longer known: they dim, and
		 * reconnecting brings a fresh snapshot. */
	} else {
		if (m->online)
			return WMODEL_OK;
		m->online = 1;
		m->why[0] = '\0';
		m->since = now;
	}
	change(changes, "state", wmodel_state(m, now));
	return WMODEL_OK;
}

json_t *wmodel_state(struct wmodel *m, time_t now)
{
	json_t *tiles = json_array(), *o, *b;
	char since[32];

	for (size_t i = 0; i < m->ntiles; i++)
		json_array_append_new(tiles, tile_json(&m->tiles[i]));
	wmodel_format_time(m->since, since, sizeof(since));
	b = batches_json(m);
	o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:o, s:O, s:O, s:o}", "online", m->online, "why", m->why, "since",
		      since, "station", m->station, "version", m->version, "tiles", tiles, "batches",
		      json_object_get(b, "batches"), "audit", m->tail, "stats", wmodel_stats(m, now));
	json_decref(b);
	if (o && m->extra)
		json_object_update_missing(o, m->extra);
	return o;
}

void wmodel_set_extra(struct wmodel *m, json_t *extra)
{
	json_decref(m->extra);
	m->extra = extra;
}
