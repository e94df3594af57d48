/* Unit tests of the control protocol parser and message builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl_msg.h"

static int parse(const char *line, struct ctl_request *req, struct ctl_err *err)
{
	memset(err, 0, sizeof(*err));
	return ctl_parse_request(line, strlen(line), req, err);
}

static void expect_fail(const char *line, int code, const char *msg)
{
	struct ctl_request req;
	struct ctl_err err;

	assert_int_equal(parse(line, &req, &err), code);
	assert_string_equal(err.msg, msg);
	ctl_request_deinit(&req);
}

static void test_ctl_msg_batch_add(void **state)
{
	struct ctl_request req;
	struct ctl_err err;

	(void)state;
	assert_int_equal(parse("{\"v\":1,\"id\":7,\"op\":\"batch.add\",\"product\":\"lamp\",\"count\":20,"
			       "\"ports\":[\"slot1\",\"slot2\"]}", &req, &err), 0);
	assert_int_equal(req.op, CTL_OP_BATCH_ADD);
	assert_int_equal(json_integer_value(req.id), 7);
	assert_string_equal(req.product, "lamp");
	assert_int_equal(req.count, 20);
	assert_int_equal(req.nports, 2);
	assert_string_equal(req.ports[1], "slot2");
	ctl_request_deinit(&req);
}

static void test_ctl_msg_every_op_parses(void **state)
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
	for (int i = 0; i < CTL_OP_COUNT_; i++) {
		struct ctl_request req;
		struct ctl_err err;
		assert_int_equal(parse(lines[i], &req, &err), 0);
		assert_int_equal(req.op, i);
		assert_string_equal(ctl_op_name(req.op), ctl_op_name((enum ctl_op)i));
		assert_true(json_is_null(req.id));
		ctl_request_deinit(&req);
	}
}

static void test_ctl_msg_version_required(void **state)
{
	struct ctl_request req;
	struct ctl_err err;

	(void)state;
	assert_int_equal(parse("{\"id\":\"a\",\"op\":\"status\"}", &req, &err), CTL_EVERSION);
	/* The id is kept so the error reply can be matched by the client. */
	assert_string_equal(json_string_value(req.id), "a");
	ctl_request_deinit(&req);
	expect_fail("{\"v\":2,\"op\":\"status\"}", CTL_EVERSION,
		    "unsupported protocol version (this daemon speaks 1)");
	expect_fail("{\"v\":\"1\",\"op\":\"status\"}", CTL_EVERSION,
		    "unsupported protocol version (this daemon speaks 1)");
}

static void test_ctl_msg_malformed(void **state)
{
	(void)state;
	expect_fail("[1,2]", CTL_EMALFORMED, "request must be a JSON object");
	expect_fail("{\"v\":1,\"op\":\"status\",\"id\":[1]}", CTL_EMALFORMED,
		    "field 'id' must be a string, an integer or null");
	expect_fail("{\"v\":1,\"v\":1,\"op\":\"status\"}", CTL_EMALFORMED,
		    "not JSON: duplicate object key near '\"v\"' at column 10");
	expect_fail("{\"v\":1} trailing", CTL_EMALFORMED, "not JSON: end of file expected near 'trailing' at column 16");
	expect_fail("{\"v\":1,\"op\":\"reboot\\u0001\"}", CTL_EOP, "unknown op 'reboot?'");
	expect_fail("{\"v\":1}", CTL_EOP, "missing field 'op'");
}

static void test_ctl_msg_bad_fields(void **state)
{
	(void)state;
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"count\":3}", CTL_EARG, "missing field 'product'");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":0}", CTL_EARG,
		    "field 'count' must be 1..10000000");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":1.5}", CTL_EARG,
		    "field 'count' must be an integer");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\\n\",\"count\":1}", CTL_EARG,
		    "field 'product' holds a control character");
	expect_fail("{\"v\":1,\"op\":\"batch.add\",\"product\":\"p\",\"count\":1,\"ports\":[1]}", CTL_EARG,
		    "field 'ports'[0] must be a non-empty name");
	expect_fail("{\"v\":1,\"op\":\"batch.show\"}", CTL_EARG, "missing field 'batch'");
	expect_fail("{\"v\":1,\"op\":\"store\",\"request\":\"x\"}", CTL_EARG,
		    "field 'request' must be an object with a string 'cmd'");
	expect_fail("{\"v\":1,\"op\":\"audit\",\"mac\":\"aabbccddeeff\"}", CTL_EARG,
		    "field 'mac' must look like aa:bb:cc:dd:ee:ff");
}

static void test_ctl_msg_oversized(void **state)
{
	struct ctl_request req;
	struct ctl_err err;
	size_t n = CTL_MAX_LINE + 10;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(ctl_parse_request(big, n, &req, &err), CTL_EMALFORMED);
	assert_string_equal(err.msg, "request longer than 65536 bytes");
	ctl_request_deinit(&req);
	free(big);
}

static void test_ctl_msg_replies(void **state)
{
	json_t *id = json_integer(5);
	char *s;
	json_t *m;
	struct ctl_err err;

	(void)state;
	s = ctl_reply_ok(id, json_pack("{s:i}", "n", 3));
	assert_string_equal(s, "{\"v\":1,\"id\":5,\"ok\":true,\"result\":{\"n\":3}}\n");
	m = ctl_parse_message(s, strlen(s) - 1, &err);
	assert_non_null(m);
	assert_true(json_is_true(json_object_get(m, "ok")));
	json_decref(m);
	free(s);
	s = ctl_reply_error(NULL, "denied", "no");
	assert_string_equal(s, "{\"v\":1,\"id\":null,\"ok\":false,\"error\":{\"code\":\"denied\",\"message\":\"no\"}}\n");
	free(s);
	s = ctl_request_line(9, "status", NULL);
	assert_string_equal(s, "{\"v\":1,\"id\":9,\"op\":\"status\"}\n");
	free(s);
	s = ctl_event_line(json_pack("{s:s}", "event", "step"));
	assert_string_equal(s, "{\"event\":\"step\",\"v\":1}\n");
	free(s);
	assert_null(ctl_parse_message("{\"v\":3}", 7, &err));
	assert_int_equal(err.code, CTL_EVERSION);
	json_decref(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctl_msg_batch_add),
		cmocka_unit_test(test_ctl_msg_every_op_parses),
		cmocka_unit_test(test_ctl_msg_version_required),
		cmocka_unit_test(test_ctl_msg_malformed),
		cmocka_unit_test(test_ctl_msg_bad_fields),
		cmocka_unit_test(test_ctl_msg_oversized),
		cmocka_unit_test(test_ctl_msg_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
