/* Unit tests of the uplink (uplink.c) against a small HTTP receiver in this
 * process: rows go in order with the station and the bearer token, a
 * refusal keeps them and retries, an acknowledgement moves the cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "uplink.h"
#include "store_testutil.h"

/* The receiver: answers every request with status, keeps the last body. */
struct recv {
	int fd, port;
	pthread_t th;
	pthread_mutex_t m;
	int status;
	int requests;
	int stop;
	char auth[128];
	char body[64 * 1024];
};

static void serve_one(struct recv *r, int c)
{
	static char buf[96 * 1024];
	size_t n = 0, want = 0;
	char *hdr_end = NULL, reply[128];

	while (n < sizeof(buf) - 1) {
		ssize_t k = read(c, buf + n, sizeof(buf) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "content-length:");
			want = (size_t)(hdr_end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (hdr_end && n >= want)
			break;
	}
	pthread_mutex_lock(&r->m);
	r->requests++;
	if (hdr_end) {
		const char *a = strcasestr(buf, "authorization:");
		snprintf(r->auth, sizeof(r->auth), "%.*s", a ? (int)strcspn(a, "\r") : 0, a ? a : "");
		snprintf(r->body, sizeof(r->body), "%s", hdr_end + 4);
	}
	snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r->status);
	pthread_mutex_unlock(&r->m);
	(void)!write(c, reply, strlen(reply));
	close(c);
}

static void *serve(void *arg)
{
	struct recv *r = arg;

	for (;;) {
		int c = accept(r->fd, NULL, NULL);
		pthread_mutex_lock(&r->m);
		int stop = r->stop;
		pthread_mutex_unlock(&r->m);
		if (stop || c < 0) {
			if (c >= 0)
				close(c);
			return NULL;
		}
		serve_one(r, c);
	}
}

static void recv_start(struct recv *r, int status)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	pthread_mutex_init(&r->m, NULL);
	r->status = status;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(r->fd, 8), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
	r->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&r->th, NULL, serve, r), 0);
}

static void recv_stop(struct recv *r)
{
	pthread_mutex_lock(&r->m);
	r->stop = 1;
	pthread_mutex_unlock(&r->m);
	shutdown(r->fd, SHUT_RDWR);
	pthread_join(r->th, NULL);
	close(r->fd);
	pthread_mutex_destroy(&r->m);
}

/* Polls the uplink's status until key equals want (10 s at most). */
static void wait_status(struct uplink *u, const char *key, json_int_t want_int, const char *want_str)
{
	for (int i = 0; i < 1000; i++) {
		json_t *s = uplink_status(u), *v = json_object_get(s, key);
		int ok = want_str ? json_is_string(v) && !strcmp(json_string_value(v), want_str)
				  : json_integer_value(v) == want_int;
		json_decref(s);
		if (ok)
			return;
		usleep(10000);
	}
	fail_msg("uplink status %s never became %s", key, want_str ? want_str : "the number wanted");
}

static int64_t last_audit_id(struct store *s)
{
	struct store_audit_filter f = {0};
	struct store_err err = {0};
	json_t *out = NULL, *arr;
	int64_t id;

	assert_int_equal(store_query_audit(s, &f, &out, &err), 0);
	arr = json_object_get(out, "audit");
	assert_true(json_array_size(arr) > 0);
	id = json_integer_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id"));
	json_decref(out);
	return id;
}

static void test_uplink_retries_then_delivers(void **state)
{
	struct tu_fx *f = tu_fx_new(NULL, 0, 4);
	struct recv r = {0};
	struct uplink *u = NULL;
	char url[128], msg[256];
	json_t *body, *rows, *st;
	int64_t last;

	(void)state;
	log_init("test", 1);
	log_set_level(LOG_ERR);
	assert_non_null(f);
	store_record_free(tu_claim(f->s, "aa:00:00:00:00:01", 0)); /* leaves rows: import, claim */
	last = last_audit_id(f->s);
	recv_start(&r, 503);
	snprintf(url, sizeof(url), "http://user:secret@127.0.0.1:%d/audit", r.port);
	struct uplink_cfg c = {.url = url, .token = "tok-123", .db_path = f->db, .station = "st1",
			       .idle_ms = 20, .timeout_ms = 2000, .backoff_max_ms = 50};
	assert_int_equal(uplink_start(&c, &u, msg, sizeof(msg)), 0);

	/* Refused: the rows wait, the cursor stays. */
	wait_status(u, "state", 0, "retrying");
	st = uplink_status(u);
	assert_int_equal(json_integer_value(json_object_get(st, "delivered")), 0);
	assert_true(json_integer_value(json_object_get(st, "pending")) > 0);
	/* Only scheme, host and port are shown: no credentials. */
	snprintf(msg, sizeof(msg), "http://127.0.0.1:%d", r.port);
	assert_string_equal(json_string_value(json_object_get(st, "url")), msg);
	json_decref(st);

	pthread_mutex_lock(&r.m);
	r.status = 200;
	pthread_mutex_unlock(&r.m);
	wait_status(u, "delivered", last, NULL);
	wait_status(u, "state", 0, "ok");
	uplink_free(u);

	pthread_mutex_lock(&r.m);
	assert_string_equal(r.auth, "Authorization: Bearer tok-123");
	body = json_loads(r.body, 0, NULL);
	pthread_mutex_unlock(&r.m);
	assert_non_null(body);
	assert_int_equal(json_integer_value(json_object_get(body, "v")), 1);
	assert_string_equal(json_string_value(json_object_get(body, "station")), "st1");
	rows = json_object_get(body, "rows");
	assert_true(json_array_size(rows) > 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, json_array_size(rows) - 1), "id")),
			 last);
	for (size_t i = 1; i < json_array_size(rows); i++)
		assert_true(json_integer_value(json_object_get(json_array_get(rows, i), "id")) >
			    json_integer_value(json_object_get(json_array_get(rows, i - 1), "id")));
	json_decref(body);

	/* The cursor is durable: a new uplink on the same URL owes nothing and
	 * sends nothing. */
	pthread_mutex_lock(&r.m);
	int before = r.requests;
	pthread_mutex_unlock(&r.m);
	assert_int_equal(uplink_start(&c, &u, msg, sizeof(msg)), 0);
	wait_status(u, "delivered", last, NULL);
	wait_status(u, "pending", 0, NULL);
	usleep(100000);
	uplink_free(u);
	pthread_mutex_lock(&r.m);
	assert_int_equal(r.requests, before);
	pthread_mutex_unlock(&r.m);
	recv_stop(&r);
	tu_fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uplink_retries_then_delivers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
