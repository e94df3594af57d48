/* Unit tests of espfab-web's HTTP layer: the real libmicrohttpd server on a
 * loopback port, spoken to with raw bytes (so malformed and oversized
 * requests can be sent), and a stand-in espfabd on a unix socket for the
 * operator actions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "whttp.h"
#include "whub.h"
#include "wmodel.h"

#define TOKEN "test-operator-token-0123456789"

struct fixture {
	struct wmodel *model;
	struct whub *hub;
	struct whttp *http;
	unsigned port;
	char dir[64], sock[96];
	/* the stand-in daemon */
	int listen_fd;
	pthread_t thread;
	char last_request[512];
	int reply_ok; /* 1: the batch row; 0: the error below */
	const char *err_code, *err_msg;
};

static json_t *render(void *ctx)
{
	return wmodel_state(ctx, time(NULL));
}

/* Answers each connection's first line with f->reply, then closes. */
static void *fake_daemon(void *arg)
{
	struct fixture *f = arg;

	for (;;) {
		char buf[512], out[512];
		size_t n = 0;
		int c = accept(f->listen_fd, NULL, NULL);
		long long id = 0;
		const char *p;
		if (c < 0)
			return NULL;
		while (n < sizeof(buf) - 1) {
			ssize_t r = read(c, buf + n, sizeof(buf) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			if (memchr(buf, '\n', n))
				break;
		}
		buf[n] = '\0';
		snprintf(f->last_request, sizeof(f->last_request), "%s", buf);
		p = strstr(buf, "\"id\":");
		if (p)
			id = atoll(p + 5);
		if (f->reply_ok)
			snprintf(out, sizeof(out),
				 "{\"v\":1,\"id\":%lld,\"ok\":true,\"result\":{\"batches\":[{\"id\":5,\"state\":\"paused\"}]}}\n",
				 id);
		else
			snprintf(out, sizeof(out),
				 "{\"v\":1,\"id\":%lld,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", id,
				 f->err_code, f->err_msg);
		if (write(c, out, strlen(out)) < 0)
			fail_msg("fake daemon write");
		close(c);
	}
}

static int setup_with(void **state, const char *token)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	struct whttp_err err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_whttp.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/sock", f->dir);
	memcpy(su.sun_path, f->sock, strlen(f->sock) + 1);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&su, sizeof(su)), 0);
	assert_int_equal(listen(f->listen_fd, 8), 0);
	f->reply_ok = 1;
	assert_int_equal(pthread_create(&f->thread, NULL, fake_daemon, f), 0);
	assert_int_equal(wmodel_new(&f->model), WMODEL_OK);
	assert_int_equal(whub_new(64, render, f->model, &f->hub), WHUB_OK);
	assert_int_equal(whttp_start(&(struct whttp_opts){.addr = (struct sockaddr *)&sa, .addrlen = sizeof(sa),
							   .token = token, .socket_path = f->sock, .hub = f->hub,
							   .max_header = 8192, .keepalive_ms = 200},
				     &f->http, &err),
			 WHTTP_OK);
	f->port = whttp_port(f->http);
	assert_true(f->port > 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, TOKEN);
}

static int setup_readonly(void **state)
{
	return setup_with(state, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	whttp_stop(f->http);
	whub_free(f->hub);
	wmodel_free(f->model);
	shutdown(f->listen_fd, SHUT_RDWR);
	close(f->listen_fd);
	pthread_join(f->thread, NULL);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int dial(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read until the peer closes, the buffer is full or timeout_ms of silence. */
static size_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;

	while (n < cap - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

/* Send raw bytes, return the status code; the response goes to resp. */
static int raw(struct fixture *f, const char *req, size_t len, char *resp, size_t cap)
{
	int fd = dial(f->port), code = -1;
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may refuse before all is sent */
		off += (size_t)w;
	}
	read_all(fd, resp, cap, 3000);
	close(fd);
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
		code = -1;
	return code;
}

static int req(struct fixture *f, const char *text, char *resp, size_t cap)
{
	return raw(f, text, strlen(text), resp, cap);
}

/* Read until needle shows up (1) or timeout_ms passes (0). */
static int read_until(int fd, const char *needle, char *buf, size_t cap, int timeout_ms)
{
	struct timespec t0, t;
	size_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		long left;
		if (strstr(buf, needle))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || n >= cap - 1 || poll(&p, 1, (int)left) <= 0)
			return 0;
		r = read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		buf[n] = '\0';
	}
}

static void test_whttp_page_and_headers(void **state)
{
	struct fixture *f = *state;
	char r[65536];

	assert_int_equal(req(f, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 200);
	assert_non_null(strstr(r, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r, "Content-Security-Policy: default-src 'self'"));
	assert_non_null(strstr(r, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(r, "X-Frame-Options: DENY"));
	assert_non_null(strstr(r, "<script src=\"/app.js\"></script>"));
	assert_int_equal(req(f, "GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 200);
	assert_non_null(strstr(r, "Content-Type: text/javascript"));
	assert_int_equal(req(f, "HEAD /app.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 200);
	assert_non_null(strstr(r, "\r\n\r\n"));
	assert_string_equal(strstr(r, "\r\n\r\n"), "\r\n\r\n"); /* HEAD: headers only */
	assert_int_equal(req(f, "GET /api/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 200);
	assert_non_null(strstr(r, "Cache-Control: no-store"));
	assert_non_null(strstr(r, "\"online\":false"));
	/* A query string is ignored, not parsed. */
	assert_int_equal(req(f, "GET /?slots=32&x=%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)),
			 200);
}

static void test_whttp_traversal_refused(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = {
		"/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2fapp.js", "/app.js/..", "//etc/passwd",
		"/%2Fetc%2Fpasswd", "/app.js%00", "/./app.js", "/assets/app.js", "/index.html", "/events/../etc/passwd",
		"/api/../../etc/shadow", "/.%2e/.%2e/etc/passwd",
	};
	char line[256], r[8192];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int code;
		snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", paths[i]);
		code = req(f, line, r, sizeof(r));
		/* 404 from us, or 400 where libmicrohttpd refuses the target itself. */
		if (code != 404 && code != 400)
			fail_msg("GET %s answered %d", paths[i], code);
		assert_null(strstr(r, "root:"));
	}
}

static void test_whttp_bad_requests(void **state)
{
	struct fixture *f = *state;
	char r[8192];

	/* Not HTTP at all: libmicrohttpd closes without an answer or with 400. */
	{
		int code = req(f, "GARBAGE\r\n\r\n", r, sizeof(r));
		if (code != -1 && code != 400)
			fail_msg("a garbage request line answered %d", code);
	}
	assert_int_equal(req(f, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", r, sizeof(r)), 400); /* no Host */
	assert_int_equal(req(f, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", r, sizeof(r)), 400);
	/* Unknown and unsupported methods on known paths. */
	assert_int_equal(req(f, "BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 405);
	assert_non_null(strstr(r, "Allow: GET, HEAD"));
	assert_int_equal(req(f, "DELETE /api/state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)),
			 405);
	assert_int_equal(req(f, "GET /api/batch/1/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r,
			     sizeof(r)),
			 405);
	assert_non_null(strstr(r, "Allow: POST"));
	assert_int_equal(req(f, "PUT /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 404);
}

static void test_whttp_oversized(void **state)
{
	struct fixture *f = *state;
	size_t big = 64 * 1024;
	char *q = malloc(big + 256), r[8192];
	int n;

	assert_non_null(q);
	/* One header far over the 8 KiB the fixture allows. */
	n = snprintf(q, 256, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(q + n, 'a', big);
	memcpy(q + n + big, "\r\n\r\n", 5);
	assert_int_equal(raw(f, q, strlen(q), r, sizeof(r)), 431);
	/* A request target over the limit too. */
	memcpy(q, "GET /", 5);
	memset(q + 5, 'b', big);
	memcpy(q + 5 + big, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
	n = raw(f, q, strlen(q), r, sizeof(r));
	if (n != 414 && n != 431)
		fail_msg("a 64 KiB request target answered %d", n);
	/* A body over 1 KiB on the API. */
	n = snprintf(q, 256, "POST /api/batch/1/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			     "Content-Length: 4096\r\n\r\n");
	memset(q + n, 'c', 4096);
	q[n + 4096] = '\0';
	assert_int_equal(raw(f, q, strlen(q), r, sizeof(r)), 413);
	free(q);
	/* The server still serves afterwards. */
	assert_int_equal(req(f, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof(r)), 200);
}

static void test_whttp_operator_token(void **state)
{
	struct fixture *f = *state;
	char r[8192];

	assert_int_equal(req(f, "POST /api/batch/5/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r,
			     sizeof(r)),
			 401);
	assert_non_null(strstr(r, "WWW-Authenticate: Bearer realm=\"espfab\""));
	assert_string_equal(f->last_request, ""); /* the daemon never heard of it */
	assert_int_equal(req(f, "POST /api/batch/5/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer test-operator-token-012345678X\r\n\r\n", r, sizeof(r)),
			 401);
	assert_int_equal(req(f, "POST /api/batch/5/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Basic dGVzdDp0ZXN0\r\n\r\n", r, sizeof(r)),
			 401);
	assert_string_equal(f->last_request, "");
	/* The right token: forwarded as batch.pause, the daemon's row back. */
	assert_int_equal(req(f, "POST /api/batch/5/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer " TOKEN "\r\n\r\n", r, sizeof(r)),
			 200);
	assert_non_null(strstr(f->last_request, "\"op\":\"batch.pause\""));
	assert_non_null(strstr(f->last_request, "\"batch\":5"));
	assert_non_null(strstr(r, "\"state\":\"paused\""));
	assert_null(strstr(r, TOKEN));
	/* The socket decides: the daemon's refusal is the answer. */
	f->reply_ok = 0;
	f->err_code = "denied";
	f->err_msg = "not allowed";
	assert_int_equal(req(f, "POST /api/batch/5/resume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer " TOKEN "\r\n\r\n", r, sizeof(r)),
			 403);
	assert_non_null(strstr(f->last_request, "\"op\":\"batch.resume\""));
	assert_non_null(strstr(r, "not allowed"));
	f->err_code = "not_found";
	f->err_msg = "no batch 5";
	assert_int_equal(req(f, "POST /api/batch/5/resume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer " TOKEN "\r\n\r\n", r, sizeof(r)),
			 404);
	/* No daemon at all. */
	unlink(f->sock);
	assert_int_equal(req(f, "POST /api/batch/5/resume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer " TOKEN "\r\n\r\n", r, sizeof(r)),
			 503);
}

static void test_whttp_readonly(void **state)
{
	struct fixture *f = *state;
	char r[8192];

	assert_int_equal(req(f, "POST /api/batch/5/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				"Authorization: Bearer " TOKEN "\r\n\r\n", r, sizeof(r)),
			 403);
	assert_non_null(strstr(r, "read_only"));
	assert_string_equal(f->last_request, "");
}

static void test_whttp_events_stream(void **state)
{
	struct fixture *f = *state;
	const char *q = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
	char r[65536];
	json_t *ch = json_array(), *ev;
	int fd = dial(f->port);

	assert_int_equal(send(fd, q, strlen(q), 0), (ssize_t)strlen(q));
	assert_true(read_until(fd, "event: state\ndata: {", r, sizeof(r), 3000));
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "Content-Type: text/event-stream"));
	/* A change published now reaches the open stream. */
	ev = json_loads("{\"v\":1,\"event\":\"snapshot\",\"station\":\"st9\",\"ports\":[{\"name\":\"s1\",\"state\":"
			"\"idle\",\"ok\":0,\"failed\":0}],\"batches\":[],\"counts\":{}}",
			0, NULL);
	whub_lock(f->hub);
	wmodel_apply(f->model, ev, time(NULL), ch);
	whub_publish_locked(f->hub, ch);
	whub_unlock(f->hub);
	assert_true(read_until(fd, "\"station\":\"st9\"", r, sizeof(r), 3000));
	assert_non_null(strstr(r, "event: state"));
	/* Silence brings pings (keepalive 200 ms in the fixture). */
	assert_true(read_until(fd, "event: ping\ndata: {}\n\n", r, sizeof(r), 3000));
	close(fd);
	json_decref(ev);
	json_decref(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whttp_page_and_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_traversal_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_operator_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_readonly, setup_readonly, teardown),
		cmocka_unit_test_setup_teardown(test_whttp_events_stream, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
