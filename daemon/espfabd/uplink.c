/* See uplink.h. */
#include "uplink.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "espfab/store.h"
#include "log.h"

struct uplink {
	char *url, *token, *station;
	char shown[256];   /* scheme://host[:port]: what logs and status show */
	char url_key[600]; /* scheme://host[:port]/path: the cursor's name (no
			    * credentials, no query) */
	unsigned idle_ms, timeout_ms, backoff_max_ms;
	struct store *store;
	pthread_t thread;
	int started;
	pthread_mutex_t m;
	pthread_cond_t c;
	int stopping;
	/* status, under m */
	const char *state;
	int64_t delivered, pending;
	unsigned failures;
	char last_error[CURL_ERROR_SIZE + 64];
};

static int stopping(struct uplink *u)
{
	pthread_mutex_lock(&u->m);
	int s = u->stopping;
	pthread_mutex_unlock(&u->m);
	return s;
}

/* Sleeps ms unless stopped first; returns 1 when stopping. */
static int wait_ms(struct uplink *u, unsigned ms)
{
	struct timespec ts;
	int s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&u->m);
	while (!u->stopping && pthread_cond_timedwait(&u->c, &u->m, &ts) != ETIMEDOUT)
		;
	s = u->stopping;
	pthread_mutex_unlock(&u->m);
	return s;
}

static void set_status(struct uplink *u, const char *state, const char *error)
{
	pthread_mutex_lock(&u->m);
	u->state = state;
	if (error)
		snprintf(u->last_error, sizeof(u->last_error), "%s", error);
	pthread_mutex_unlock(&u->m);
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n; /* the answer's body is not ours to keep */
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return stopping(ctx); /* non-zero aborts the transfer */
}

/* One POST. 0 on a 2xx answer, else -1 with a one-line reason in err. */
static int post(struct uplink *u, CURL *h, const char *body, char *err, size_t cap)
{
	struct curl_slist *hdr = NULL;
	char ebuf[CURL_ERROR_SIZE] = "", auth[600];
	long code = 0;
	CURLcode res;
	int rc = -1;

	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (u->token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", u->token);
		hdr = curl_slist_append(hdr, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
	}
	if (!hdr) {
		snprintf(err, cap, "out of memory");
		goto out;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, u->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* A redirected POST may turn into a GET that "succeeds": never follow. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(u->timeout_ms < 10000 ? u->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, u);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	res = curl_easy_perform(h);
	if (res != CURLE_OK) {
		snprintf(err, cap, "%s", ebuf[0] ? ebuf : curl_easy_strerror(res));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(err, cap, "answered HTTP %ld", code);
		goto out;
	}
	rc = 0;
out:
	/* The request held the token: the handle forgets it before it idles. */
	curl_easy_reset(h);
	curl_slist_free_all(hdr);
	return rc;
}

/* The rows after the cursor (reading the cursor first when needed) into
 * *rows, and how many wait. 1: stopping. -1: not now (status set, waited). */
static int fetch(struct uplink *u, int64_t *cursor, int *have_cursor, json_t **rows, int64_t *pending)
{
	struct store_err serr = {0};
	struct store_audit_filter f = {.limit = UPLINK_BATCH};

	*rows = NULL;
	if (!*have_cursor) {
		if (store_uplink_cursor(u->store, u->url_key, cursor, &serr)) {
			set_status(u, "retrying", serr.msg);
			log_error("uplink to %s: %s", u->shown, serr.msg);
			return wait_ms(u, 5000) ? 1 : -1;
		}
		*have_cursor = 1;
	}
	f.after_id = *cursor;
	if (store_query_audit(u->store, &f, rows, &serr) || store_uplink_pending(u->store, *cursor, pending, &serr)) {
		set_status(u, "retrying", serr.msg);
		json_decref(*rows);
		*rows = NULL;
		return wait_ms(u, 1000) ? 1 : -1;
	}
	pthread_mutex_lock(&u->m);
	u->delivered = *cursor;
	u->pending = *pending;
	if (!u->failures)
		u->state = "ok";
	pthread_mutex_unlock(&u->m);
	return 0;
}

/* The request's body for rows (stolen): {"v":1,"station":..,"rows":[..]};
 * *last the last row's id. NULL when there is nothing to send or no memory. */
static char *body_text(struct uplink *u, json_t *rows, int64_t *last)
{
	json_t *arr = json_object_get(rows, "audit"), *body;
	char *text = NULL;

	if (json_array_size(arr)) {
		*last = json_integer_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id"));
		body = json_pack("{s:i, s:s, s:O}", "v", 1, "station", u->station, "rows", arr);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
	}
	json_decref(rows);
	return text;
}

/* Acknowledged up to last: move the cursor, durably. 0, or -1 when it could
 * not be saved (the rows go again later: have_cursor is cleared). */
static int acknowledged(struct uplink *u, int64_t last, int64_t *cursor, int *have_cursor)
{
	struct store_err serr = {0};

	if (store_uplink_advance(u->store, u->url_key, last, &serr)) {
		log_error("uplink to %s: rows up to %lld delivered, cursor not saved: %s", u->shown, (long long)last,
			  serr.msg);
		set_status(u, "retrying", serr.msg);
		*have_cursor = 0;
		return -1;
	}
	*cursor = last;
	pthread_mutex_lock(&u->m);
	if (u->failures)
		log_info("uplink to %s: delivering again after %u failed attempts", u->shown, u->failures);
	u->failures = 0;
	u->delivered = *cursor;
	u->state = "ok";
	pthread_mutex_unlock(&u->m);
	return 0;
}

/* Not acknowledged: counted, logged once per outage; the next backoff. */
static unsigned refused(struct uplink *u, const char *err, int64_t pending, unsigned backoff)
{
	pthread_mutex_lock(&u->m);
	if (!u->failures++)
		log_warn("uplink to %s: %s; %lld audit rows wait, retrying", u->shown, err, (long long)pending);
	u->state = "retrying";
	snprintf(u->last_error, sizeof(u->last_error), "%s", err);
	pthread_mutex_unlock(&u->m);
	return backoff ? (backoff * 2 < u->backoff_max_ms ? backoff * 2 : u->backoff_max_ms) : 1000;
}

static void *run(void *arg)
{
	struct uplink *u = arg;
	unsigned backoff = 0;
	int64_t cursor = 0;
	int have_cursor = 0;
	char err[sizeof(u->last_error)];
	CURL *h = curl_easy_init();

	if (!h) {
		set_status(u, "stopped", "cannot create an HTTP handle");
		log_error("uplink to %s: cannot create an HTTP handle", u->shown);
		return NULL;
	}
	while (!stopping(u)) {
		json_t *rows = NULL;
		char *text;
		int64_t pending = 0, last = 0;
		int rc = fetch(u, &cursor, &have_cursor, &rows, &pending);

		if (rc > 0)
			break;
		if (rc < 0)
			continue;
		if (!json_array_size(json_object_get(rows, "audit"))) {
			json_decref(rows);
			if (wait_ms(u, u->idle_ms))
				break;
			continue;
		}
		text = body_text(u, rows, &last);
		if (!text) {
			set_status(u, "retrying", "out of memory");
			if (wait_ms(u, 1000))
				break;
			continue;
		}
		rc = post(u, h, text, err, sizeof(err));
		free(text);
		if (rc == 0) {
			if (acknowledged(u, last, &cursor, &have_cursor) == 0)
				backoff = 0;
			else if (wait_ms(u, 1000))
				break;
			continue;
		}
		if (stopping(u))
			break;
		backoff = refused(u, err, pending, backoff);
		if (wait_ms(u, backoff))
			break;
	}
	curl_easy_cleanup(h);
	return NULL;
}

/* shown and url_key from the URL, leaving out what may be a secret. */
static int url_parts(struct uplink *u, char *msg, size_t cap)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc = -1;

	if (!h || curl_url_set(h, CURLUPART_URL, u->url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(msg, cap, "uplink: not a usable http:// or https:// URL");
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		snprintf(msg, cap, "uplink: the URL must be http:// or https://");
		goto out;
	}
	curl_url_get(h, CURLUPART_PORT, &port, 0);
	curl_url_get(h, CURLUPART_PATH, &path, 0);
	snprintf(u->shown, sizeof(u->shown), "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
	snprintf(u->url_key, sizeof(u->url_key), "%s%s", u->shown, path ? path : "/");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(h);
	return rc;
}

int uplink_start(const struct uplink_cfg *cfg, struct uplink **out, char *msg, size_t cap)
{
	struct uplink *u;
	struct store_err serr = {0};
	pthread_condattr_t ca;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(msg, cap, "uplink: cannot initialise libcurl");
		return -1;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	pthread_mutex_init(&u->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&u->c, &ca);
	pthread_condattr_destroy(&ca);
	u->state = "starting";
	u->idle_ms = cfg->idle_ms ? cfg->idle_ms : 1000;
	u->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	u->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 60000;
	u->url = strdup(cfg->url);
	u->station = strdup(cfg->station);
	u->token = cfg->token ? strdup(cfg->token) : NULL;
	if (!u->url || !u->station || (cfg->token && !u->token)) {
		snprintf(msg, cap, "out of memory");
		goto fail;
	}
	if (url_parts(u, msg, cap))
		goto fail;
	if (store_open(&u->store, cfg->db_path, 0, NULL, &serr)) {
		snprintf(msg, cap, "uplink: %s", serr.msg);
		goto fail;
	}
	if (pthread_create(&u->thread, NULL, run, u)) {
		snprintf(msg, cap, "uplink: cannot start its thread");
		goto fail;
	}
	u->started = 1;
	log_info("uplink to %s: delivering the audit trail", u->shown);
	*out = u;
	return 0;
fail:
	uplink_free(u);
	return -1;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	if (u->started) {
		pthread_mutex_lock(&u->m);
		u->stopping = 1;
		pthread_cond_broadcast(&u->c);
		pthread_mutex_unlock(&u->m);
		pthread_join(u->thread, NULL);
	}
	store_close(u->store);
	if (u->token) {
		OPENSSL_cleanse(u->token, strlen(u->token));
		free(u->token);
	}
	free(u->url);
	free(u->station);
	pthread_cond_destroy(&u->c);
	pthread_mutex_destroy(&u->m);
	free(u);
	curl_global_cleanup();
}

json_t *uplink_status(struct uplink *u)
{
	json_t *o;

	pthread_mutex_lock(&u->m);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "url", u->shown, "state", u->state, "delivered",
		      (json_int_t)u->delivered, "pending", (json_int_t)u->pending, "failures",
		      (json_int_t)u->failures, "last_error", u->last_error);
	pthread_mutex_unlock(&u->m);
	return o;
}
