/* Unit tests of what espfab-web reads from the outside: routes, bearer
 * tokens, the token file and --listen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "wreq.h"

static enum wreq_route route(const char *method, const char *path)
{
	struct wreq r;

	wreq_route(method, path, &r);
	return r.route;
}

static void test_wreq_assets_and_api(void **state)
{
	struct wreq r;

	(void)state;
	wreq_route("GET", "/", &r);
	assert_int_equal(r.route, WREQ_ASSET);
	assert_string_equal(wassets[r.asset].type, "text/html; charset=utf-8");
	assert_int_equal(route("HEAD", "/app.js"), WREQ_ASSET);
	assert_int_equal(route("GET", "/app.css"), WREQ_ASSET);
	assert_int_equal(route("GET", "/events"), WREQ_EVENTS);
	assert_int_equal(route("GET", "/api/state"), WREQ_STATE);
	wreq_route("POST", "/api/batch/12/pause", &r);
	assert_int_equal(r.route, WREQ_BATCH_ACTION);
	assert_int_equal(r.batch, 12);
	assert_int_equal(r.action, WREQ_PAUSE);
	wreq_route("POST", "/api/batch/3/resume", &r);
	assert_int_equal(r.action, WREQ_RESUME);
	assert_int_equal(r.batch, 3);
}

static void test_wreq_traversal_is_not_found(void **state)
{
	/* libmicrohttpd hands over the decoded path: these are what %2e%2e and
	 * friends become. None may name anything but the table's entries. */
	static const char *const paths[] = {
		"/../etc/passwd", "/..", "/./app.js", "//app.js", "/app.js/", "/app.js/../app.js", "/APP.JS",
		"/app.js\\..\\x", "/index.html", "/etc/passwd", "", "app.js", "/api/state/", "/api/state/..",
		"/events/../../x", "/api/batch/1/pause/..", "/api/batch/../1/pause", "/%2e%2e/etc/passwd",
		"/app.js%00.png", "/api/batch/01/pause", "/api/batch/0/pause", "/api/batch/-1/pause",
		"/api/batch/1/PAUSE", "/api/batch//pause", "/api/batch/1234567890123456/pause",
		"/api/batch/1/cancel", "/api/batch/1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(route("GET", paths[i]), WREQ_NOT_FOUND);
		assert_int_equal(route("POST", paths[i]), WREQ_NOT_FOUND);
	}
	assert_int_equal(route(NULL, "/"), WREQ_NOT_FOUND);
	assert_int_equal(route("GET", NULL), WREQ_NOT_FOUND);
}

static void test_wreq_methods(void **state)
{
	struct wreq r;

	(void)state;
	wreq_route("POST", "/", &r);
	assert_int_equal(r.route, WREQ_BAD_METHOD);
	assert_string_equal(r.allow, "GET, HEAD");
	wreq_route("BREW", "/app.js", &r);
	assert_int_equal(r.route, WREQ_BAD_METHOD);
	wreq_route("DELETE", "/api/state", &r);
	assert_int_equal(r.route, WREQ_BAD_METHOD);
	wreq_route("GET", "/api/batch/1/pause", &r);
	assert_int_equal(r.route, WREQ_BAD_METHOD);
	assert_string_equal(r.allow, "POST");
	/* Methods are case-sensitive (RFC 9110). */
	assert_int_equal(route("get", "/"), WREQ_BAD_METHOD);
}

static void test_wreq_bearer(void **state)
{
	const char *t;
	size_t n;

	(void)state;
	assert_int_equal(wreq_bearer("Bearer abc.DEF-123_~+/=", &t, &n), 0);
	assert_int_equal(n, strlen("abc.DEF-123_~+/="));
	assert_memory_equal(t, "abc.DEF-123_~+/=", n);
	assert_int_equal(wreq_bearer("bearer   tok  ", &t, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(wreq_bearer(NULL, &t, &n), -1);
	assert_null(t);
	assert_int_equal(wreq_bearer("", &t, &n), -1);
	assert_int_equal(wreq_bearer("Bearer", &t, &n), -1);
	assert_int_equal(wreq_bearer("Bearer ", &t, &n), -1);
	assert_int_equal(wreq_bearer("Basic dXNlcjpwYXNz", &t, &n), -1);
	assert_int_equal(wreq_bearer("Bearer a b", &t, &n), -1);
	assert_int_equal(wreq_bearer("Bearer a\"b", &t, &n), -1);
	assert_int_equal(wreq_bearer("Bearer tok\r\nX: y", &t, &n), -1);
	{
		char big[WREQ_TOKEN_MAX + 16];
		memcpy(big, "Bearer ", 7);
		memset(big + 7, 'a', WREQ_TOKEN_MAX + 1);
		big[7 + WREQ_TOKEN_MAX + 1] = '\0';
		assert_int_equal(wreq_bearer(big, &t, &n), -1);
		big[7 + WREQ_TOKEN_MAX] = '\0';
		assert_int_equal(wreq_bearer(big, &t, &n), 0);
		assert_int_equal(n, WREQ_TOKEN_MAX);
	}
}

static void test_wreq_token_equal(void **state)
{
	(void)state;
	assert_true(wreq_token_equal("secret-token", 12, "secret-token", 12));
	assert_false(wreq_token_equal("secret-tokeN", 12, "secret-token", 12));
	assert_false(wreq_token_equal("secret-toke", 11, "secret-token", 12));
	assert_false(wreq_token_equal("secret-token-", 13, "secret-token", 12));
	assert_false(wreq_token_equal("", 0, "secret-token", 12));
	/* A prefix padded with zero bytes is still not the token. */
	assert_false(wreq_token_equal("secret\0\0\0\0\0\0", 12, "secret-token", 12));
}

static void test_wreq_token_parse(void **state)
{
	char out[WREQ_TOKEN_MAX + 1], msg[160];
	const char *ok = "0123456789abcdefXYZ\n";

	(void)state;
	assert_int_equal(wreq_token_parse(ok, strlen(ok), out, sizeof(out), msg, sizeof(msg)), 0);
	assert_string_equal(out, "0123456789abcdefXYZ");
	assert_int_equal(wreq_token_parse("short\n", 6, out, sizeof(out), msg, sizeof(msg)), -1);
	assert_string_equal(msg, "the token is 5 characters; at least 16 are needed");
	assert_int_equal(wreq_token_parse("0123456789 abcdefgh", 19, out, sizeof(out), msg, sizeof(msg)), -1);
	/* The position, never the secret. */
	assert_string_equal(msg, "the token has a character outside A-Z a-z 0-9 -._~+/= at position 11");
	{
		char big[WREQ_TOKEN_MAX + 2];
		memset(big, 'x', sizeof(big));
		assert_int_equal(wreq_token_parse(big, sizeof(big), out, sizeof(out), msg, sizeof(msg)), -1);
		assert_string_equal(msg, "the token is longer than 256 characters");
	}
}

static void test_wreq_listen(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char msg[160];

	(void)state;
	assert_int_equal(wreq_listen_parse("127.0.0.1:8080", &sa, &len, msg, sizeof(msg)), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 8080);
	assert_int_equal(wreq_listen_parse("[::1]:0", &sa, &len, msg, sizeof(msg)), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(wreq_listen_parse("0.0.0.0:65535", &sa, &len, msg, sizeof(msg)), 0);
	assert_int_equal(wreq_listen_parse("localhost:8080", &sa, &len, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "'localhost:8080': 'localhost' is not a numeric IPv4 or IPv6 address");
	assert_int_equal(wreq_listen_parse("127.0.0.1:65536", &sa, &len, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "'127.0.0.1:65536': the port must be a number from 0 to 65535");
	assert_int_equal(wreq_listen_parse("127.0.0.1", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse("::1:80", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse("[::1]80", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse(":80", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse("1.2.3.4:", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse("1.2.3.4:8o", &sa, &len, msg, sizeof(msg)), -1);
	assert_int_equal(wreq_listen_parse("", &sa, &len, msg, sizeof(msg)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wreq_assets_and_api),  cmocka_unit_test(test_wreq_traversal_is_not_found),
		cmocka_unit_test(test_wreq_methods),	     cmocka_unit_test(test_wreq_bearer),
		cmocka_unit_test(test_wreq_token_equal),     cmocka_unit_test(test_wreq_token_parse),
		cmocka_unit_test(test_wreq_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
