/* Unit tests of espfab-web's feed against a stand-in espfabd on a unix
 * socket: it subscribes and pages the audit trail, goes online with the
 * snapshot (paging the audit until a short page), shows a refusal by the socket's permissions as offline with the
 * daemon's reason, and comes back when the daemon does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wfeed.h"
#include "whub.h"
#include "wmodel.h"

struct fake {
	char dir[64], path[96];
	int fd;
	volatile int conn; /* the connection being served, or -1 */
	pthread_t thread;
	volatile int refuse; /* answer every connection with "denied" */
	char seen[2048]; /* requests received, one per line */
};

static json_t *render(void *ctx)
{
	return wmodel_state(ctx, time(NULL));
}

static void put(int c, const char *s)
{
	if (write(c, s, strlen(s)) != (ssize_t)strlen(s))
		return; /* the feed went away: fine for a stand-in */
}

/* One connection: refuse, or answer subscribe with a snapshot and each audit
 * request with one page (a row, then none), until the feed hangs up. */
static void *serve(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		char buf[4096];
		size_t n = 0;
		int c = accept(f->fd, NULL, NULL);
		int pages = 0;
		if (c < 0)
			return NULL;
		f->conn = c;
		if (f->refuse) {
			put(c, "{\"v\":1,\"id\":null,\"ok\":false,\"error\":{\"code\":\"denied\","
			       "\"message\":\"uid 1000 may not use this socket\"}}\n");
			f->conn = -1;
			close(c);
			continue;
		}
		for (;;) {
			ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
			char *nl;
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
			while ((nl = strchr(buf, '\n'))) {
				char out[1024];
				long long id = 0;
				const char *p = strstr(buf, "\"id\":");
				*nl = '\0';
				if (p)
					id = atoll(p + 5);
				if (strlen(f->seen) + strlen(buf) + 2 < sizeof(f->seen)) {
					strcat(f->seen, buf);
					strcat(f->seen, "\n");
				}
				if (strstr(buf, "\"op\":\"subscribe\"")) {
					snprintf(out, sizeof(out),
						 "{\"v\":1,\"id\":%lld,\"ok\":true,\"result\":{\"subscribed\":true}}\n"
						 "{\"v\":1,\"event\":\"snapshot\",\"station\":\"fake\",\"version\":\"0\","
						 "\"pid\":1,\"stopping\":false,\"ports\":[{\"name\":\"s1\",\"path\":\"/x\","
						 "\"state\":\"idle\",\"ok\":0,\"failed\":0}],\"batches\":[],"
						 "\"counts\":{\"verified\":0,\"failed\":0}}\n",
						 id);
					put(c, out);
				} else if (strstr(buf, "\"op\":\"audit\"")) {
					snprintf(out, sizeof(out),
						 "{\"v\":1,\"id\":%lld,\"ok\":true,\"result\":{\"audit\":[%s]}}\n", id,
						 pages++ ? "" :
							   "{\"id\":7,\"time\":\"2030-01-01T00:00:00.000Z\",\"event\":"
							   "\"provision\",\"port\":\"s1\",\"mac\":\"24:0a:c4:00:00:01\","
							   "\"record_id\":\"lamp-0001\",\"result\":\"ok\"}");
					put(c, out);
				}
				n -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, n + 1);
			}
		}
		f->conn = -1;
		close(c);
	}
}

static void fake_start(struct fake *f)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};

	if (!f->dir[0]) {
		snprintf(f->dir, sizeof(f->dir), "/tmp/test_wfeed.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	}
	f->conn = -1;
	memcpy(su.sun_path, f->path, strlen(f->path) + 1);
	f->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&su, sizeof(su)), 0);
	assert_int_equal(listen(f->fd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
	int c = f->conn;

	if (c >= 0)
		shutdown(c, SHUT_RDWR);
	shutdown(f->fd, SHUT_RDWR);
	close(f->fd);
	pthread_join(f->thread, NULL);
	unlink(f->path);
}

/* Poll the state until pred holds (up to 5 s). */
static json_t *wait_state(struct whub *hub, int (*pred)(json_t *))
{
	for (int i = 0; i < 500; i++) {
		json_t *st = whub_snapshot(hub);
		if (st && pred(st))
			return st;
		json_decref(st);
		usleep(10000);
	}
	fail_msg("state not reached in 5 s");
	return NULL;
}

static int is_online_with_tail(json_t *st)
{
	return json_is_true(json_object_get(st, "online")) && json_array_size(json_object_get(st, "audit")) == 1;
}

static int is_refused(json_t *st)
{
	const char *why = json_string_value(json_object_get(st, "why"));
	return json_is_false(json_object_get(st, "online")) && why && strstr(why, "refused");
}

static int is_offline(json_t *st)
{
	return json_is_false(json_object_get(st, "online"));
}

static void test_wfeed_online_refused_back(void **state)
{
	struct fake f = {0};
	struct wmodel *m = NULL;
	struct whub *hub = NULL;
	struct wfeed *feed = NULL;
	json_t *st;

	(void)state;
	fake_start(&f);
	assert_int_equal(wmodel_new(&m), WMODEL_OK);
	assert_int_equal(whub_new(64, render, m, &hub), WHUB_OK);
	assert_int_equal(wfeed_start(&(struct wfeed_opts){.socket_path = f.path, .retry_ms = 50}, m, hub, &feed),
			 WFEED_OK);
	/* Subscribed, snapshot applied, the audit paged until a short page. */
	st = wait_state(hub, is_online_with_tail);
	assert_string_equal(json_string_value(json_object_get(st, "station")), "fake");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "audit"), 0), "record")),
			    "lamp-0001");
	json_decref(st);
	assert_non_null(strstr(f.seen, "\"op\":\"subscribe\""));
	assert_non_null(strstr(f.seen, "\"op\":\"audit\""));
	assert_non_null(strstr(f.seen, "\"limit\":500")); /* a short page ends the paging */
	{
		/* The first page starts an hour back. */
		char since[40];
		time_t t;
		assert_non_null(strstr(f.seen, "\"since\":\""));
		snprintf(since, sizeof(since), "%.20s", strstr(f.seen, "\"since\":\"") + 9);
		t = wmodel_parse_time(since);
		assert_true(t > 0 && labs((long)(time(NULL) - WMODEL_CAUSE_WINDOW - t)) < 60);
	}
	assert_null(strstr(f.seen, "batch.")); /* read-only: nothing but reads */
	/* The daemon goes away and comes back refusing us: offline, its reason. */
	fake_stop(&f);
	json_decref(wait_state(hub, is_offline));
	f.refuse = 1;
	memset(f.seen, 0, sizeof(f.seen));
	fake_start(&f);
	st = wait_state(hub, is_refused);
	assert_non_null(strstr(json_string_value(json_object_get(st, "why")), "uid 1000 may not use this socket"));
	json_decref(st);
	/* Allowed again: live. */
	f.refuse = 0;
	json_decref(wait_state(hub, is_online_with_tail));
	wfeed_stop(feed);
	fake_stop(&f);
	rmdir(f.dir);
	whub_free(hub);
	wmodel_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wfeed_online_refused_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
