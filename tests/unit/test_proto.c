/* Unit tests of the control protocol parser and message builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static int parse(const char *line, struct proto_request *req, struct proto_err *err)
{
	memset(err, 0, sizeof(*err));
	return proto_parse_request(line, strlen(line), req, err);
}

static void expect_fail(const char *line, int code, const char *msg)
{
	struct proto_request req;
	struct proto_err err;

	assert_int_equal(parse(line, &req, &err), code);
	assert_string_equal(err.msg, msg);
	proto_request_deinit(&req);
}

static void test_proto_batch_add(void **state)
{
	struct proto_request req;
	struct proto_err err;

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"id\":7,\"op\":\"batch.add\",\"product\":\"lamp\",\"count\":20,"
			       "\"ports\":[\"slot1\",\"slot2\"]}", &req, &err), 0);
	assert_int_equal(req.op, PROTO_OP_BATCH_ADD);
	assert_int_equal(json_integer_value(req.id), 7);
	assert_string_equal(req.product, "lamp");
	assert_int_equal(req.count, 20);
	assert_int_equal(req.nports, 2);
	assert_string_equal(req.ports[1], "slot2");
	proto_request_deinit(&req);
}

static void test_proto_every_op_parses(void **state)
{
	static const char *const lines[] = {
		"{\"v\":1,\"op\":\"status\"}",
		"{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":1}",
		"{\"v\":1,\"op\":\"batch.list\"}",
		"{\"v\":1,\"op\":\"batch.show\",\"batch\":3}",
		"{\"v\":1,\"op\":\"batch.pause\",\"batch\":3}",
		"{\"v\":1,\"op\":\"batch.resume\",\"batch\":3}",
		"{\"v\":1,\"op\":\"batch.cancel\",\"batch\":3}",
		"{\"v\":1,\"op\":\"records.list\",\"state\":\"sent\",\"limit\":5}",
		"{\"v\":1,\"op\":\"records.stats\"}",
		"{\"v\":1,\"op\":\"audit\",\"mac\":\"AA:bb:cc:dd:ee:ff\",\"since\":\"2026-01-01\"}",
		"{\"v\":1,\"op\":\"subscribe\"}",
		"{\"v\":1,\"op\":\"unsubscribe\"}",
		"{\"v\":1,\"op\":\"store\",\"request\":{\"cmd\":\"records.stats\"}}",
	};
	(void)state;
	for (int i = 0; i < PROTO_OP_COUNT_; i++) {
		struct proto_request req;
		struct proto_err err;
		assert_int_equal(parse(lines[i], &req, &err), 0);
		assert_int_equal(req.op, i);
		assert_string_equal(proto_op_name(req.op), proto_op_name((enum proto_op)i));
		assert_true(json_is_null(req.id));
		proto_request_deinit(&req);
	}
}

static void test_proto_version_required(void **state)
{
	struct proto_request req;
	struct proto_err err;

	(void)state;
	assert_int_equal(parse("{\"id\":\"a\",\"op\":\"status\"}", &req, &err), PROTO_EVERSION);
	/* The id is kept so the error reply can be matched by the client. */
	assert_string_equal(json_string_value(req.id), "a");
	proto_request_deinit(&req);
	expect_fail("{\"v\":2,\"op\":\"status\"}", PROTO_EVERSION,
		    "unsupported protocol version (this daemon speaks 1)");
	expect_fail("{\"v\":\"1\",\"op\":\"status\"}", PROTO_EVERSION,
		    "unsupported protocol version (this daemon speaks 1)");
}

static void test_proto_malformed(void **state)
{
	(void)state;
	expect_fail("[1,2]", PROTO_EMALFORMED, "request must be a JSON object");
	expect_fail("{\"v\":1,\"op\":\"status\",\"id\":[1]}", PROTO_EMALFORMED,
		    "field 'id' must be a string, an integer or null");
	expect_fail("{\"v\":1,\"v\":1,\"op\":\"status\"}", PROTO_EMALFORMED,
		    "not JSON: duplicate object key near '\"v\"' at column 10");
	expect_fail("{\"v\":1} trailing", PROTO_EMALFORMED, "not JSON: end of file expected near 'trailing' at column 16");
	expect_fail("{\"v\":1,\"op\":\"reboot\\u0001\"}", PROTO_EOP, "unknown op 'reboot?'");
	expect_fail("{\"v\":1}", PROTO_EOP, "missing field 'op'");
}

static void test_proto_bad_fields(void **state)
{
	(void)state;
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"count\":3}", PROTO_EARG, "missing field 'product'");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":0}", PROTO_EARG,
		    "field 'count' must be 1..10000000");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":1.5}", PROTO_EARG,
		    "field 'count' must be an integer");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\\n\",\"count\":1}", PROTO_EARG,
		    "field 'product' holds a control character");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":1,\"ports\":[1]}", PROTO_EARG,
		    "field 'ports'[0] must be a non-empty name");
	expect_fail("{\"v\":1,\"op\":\"batch.show\"}", PROTO_EARG, "missing field 'batch'");
	expect_fail("{\"v\":1,\"op\":\"store\",\"request\":\"x\"}", PROTO_EARG,
		    "field 'request' must be an object with a string 'cmd'");
	expect_fail("{\"v\":1,\"op\":\"audit\",\"mac\":\"aabbccddeeff\"}", PROTO_EARG,
		    "field 'mac' must look like aa:bb:cc:dd:ee:ff");
}

static void test_proto_oversized(void **state)
{
	struct proto_request req;
	struct proto_err err;
	size_t n = PROTO_MAX_LINE + 10;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(proto_parse_request(big, n, &req, &err), PROTO_EMALFORMED);
	assert_string_equal(err.msg, "request longer than 65536 bytes");
	proto_request_deinit(&req);
	free(big);
}

static void test_proto_replies(void **state)
{
	json_t *id = json_integer(5);
	char *s;
	json_t *m;
	struct proto_err err;

	(void)state;
	s = proto_reply_ok(id, json_pack("{s:i}", "n", 3));
	assert_string_equal(s, "{\"v\":1,\"id\":5,\"ok\":true,\"result\":{\"n\":3}}\n");
	m = proto_parse_message(s, strlen(s) - 1, &err);
	assert_non_null(m);
	assert_true(json_is_true(json_object_get(m, "ok")));
	json_decref(m);
	free(s);
	s = proto_reply_error(NULL, "denied", "no");
	assert_string_equal(s, "{\"v\":1,\"id\":null,\"ok\":false,\"error\":{\"code\":\"denied\",\"message\":\"no\"}}\n");
	free(s);
	s = proto_request_line(9, "status", NULL);
	assert_string_equal(s, "{\"v\":1,\"id\":9,\"op\":\"status\"}\n");
	free(s);
	s = proto_event_line(json_pack("{s:s}", "event", "step"));
	assert_string_equal(s, "{\"event\":\"step\",\"v\":1}\n");
	free(s);
	assert_null(proto_parse_message("{\"v\":3}", 7, &err));
	assert_int_equal(err.code, PROTO_EVERSION);
	json_decref(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_batch_add),
		cmocka_unit_test(test_proto_every_op_parses),
		cmocka_unit_test(test_proto_version_required),
		cmocka_unit_test(test_proto_malformed),
		cmocka_unit_test(test_proto_bad_fields),
		cmocka_unit_test(test_proto_oversized),
		cmocka_unit_test(test_proto_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
