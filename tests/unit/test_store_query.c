/* JSON queries and the request dispatcher the daemon's socket shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_testutil.h"

static int setup(void **state)
{
	struct tu_fx *f = tu_fx_new(NULL, 0, 4);
	struct store_err err = {0};
	if (!f)
		return -1;
	struct store_claim_req req = {.product = "lamp", .station = "st", .port = "p0", .mac = "aa:00:00:00:00:01"};
	struct store_record *r = NULL;
	if (store_claim(f->s, &req, &r, &err) || store_mark_sent(f->s, r->job_id, &err) ||
	    store_mark_verified(f->s, r->job_id, NULL, &err)) {
		store_record_free(r);
		tu_fx_free(f);
		return -1;
	}
	store_record_free(r);
	*state = f;
	return 0;
}

static json_t *request(struct tu_fx *f, const char *text, int expect)
{
	json_error_t je;
	json_t *req = json_loads(text, 0, &je), *out = NULL;
	struct store_err err = {0};
	assert_non_null(req);
	int rc = store_request(f->s, req, &out, &err);
	if (rc != expect)
		fail_msg("%s: %d %s", text, rc, err.msg);
	json_decref(req);
	return out;
}

static void test_store_query_records_hide_values_unless_revealed(void **state)
{
	struct tu_fx *f = *state;
	json_t *j = request(f, "{\"cmd\":\"records.list\",\"product\":\"lamp\"}", 0);
	json_t *recs = json_object_get(j, "records");
	assert_int_equal(json_array_size(recs), 4);
	json_t *r0 = json_array_get(recs, 0);
	assert_string_equal(json_string_value(json_object_get(r0, "state")), "verified");
	assert_string_equal(json_string_value(json_object_get(r0, "mac")), "aa:00:00:00:00:01");
	assert_null(json_object_get(r0, "values"));
	char *dump = json_dumps(j, 0);
	assert_null(strstr(dump, "secret-"));
	free(dump);
	json_decref(j);
	j = request(f, "{\"cmd\":\"records.list\",\"state\":\"available\",\"reveal\":true}", 0);
	recs = json_object_get(j, "records");
	assert_int_equal(json_array_size(recs), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(recs, 0), "values"),
							     "DeviceSecret")),
			    "secret-00000002");
	json_decref(j);
	request(f, "{\"cmd\":\"records.list\",\"state\":\"bogus\"}", STORE_EINPUT);
	request(f, "{\"cmd\":\"records.list\",\"product\":\"nope\"}", STORE_ENOTFOUND);
}

static void test_store_query_stats_and_products(void **state)
{
	struct tu_fx *f = *state;
	json_t *j = request(f, "{\"cmd\":\"records.stats\"}", 0);
	json_t *s = json_array_get(json_object_get(j, "stats"), 0);
	assert_int_equal(json_integer_value(json_object_get(s, "total")), 4);
	assert_int_equal(json_integer_value(json_object_get(s, "available")), 3);
	assert_int_equal(json_integer_value(json_object_get(s, "verified")), 1);
	json_decref(j);
	j = request(f, "{\"cmd\":\"product.show\",\"name\":\"lamp\"}", 0);
	json_t *p = json_array_get(json_object_get(j, "products"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "lamp");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "partition"), "offset")), 0x9000);
	assert_int_equal(json_array_size(json_object_get(p, "fields")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "records"), "available")), 3);
	json_decref(j);
	request(f, "{\"cmd\":\"nonsense\"}", STORE_EINPUT);
	request(f, "{\"nocmd\":1}", STORE_EINPUT);
}

static void test_store_query_audit_filters(void **state)
{
	struct tu_fx *f = *state;
	json_t *j = request(f, "{\"cmd\":\"audit\"}", 0);
	size_t all = json_array_size(json_object_get(j, "audit"));
	assert_true(all >= 3); /* product, import, provision */
	json_decref(j);
	j = request(f, "{\"cmd\":\"audit\",\"mac\":\"AA-00-00-00-00-01\"}", 0);
	assert_int_equal(json_array_size(json_object_get(j, "audit")), 1);
	json_decref(j);
	j = request(f, "{\"cmd\":\"audit\",\"since\":\"2999-01-01\"}", 0);
	assert_int_equal(json_array_size(json_object_get(j, "audit")), 0);
	json_decref(j);
	j = request(f, "{\"cmd\":\"audit\",\"since\":\"2000-01-01T00:00\"}", 0);
	assert_int_equal(json_array_size(json_object_get(j, "audit")), all);
	json_decref(j);
	/* The batch filter: the row here is of no batch. */
	j = request(f, "{\"cmd\":\"audit\",\"batch\":99}", 0);
	assert_int_equal(json_array_size(json_object_get(j, "audit")), 0);
	json_decref(j);
	request(f, "{\"cmd\":\"audit\",\"mac\":\"zz\"}", STORE_EINPUT);
}

static void test_store_query_retire_through_request(void **state)
{
	struct tu_fx *f = *state;
	json_t *j = request(f, "{\"cmd\":\"records.retire\",\"product\":\"lamp\",\"id\":\"2\",\"reason\":\"lost\"}", 0);
	assert_string_equal(json_string_value(json_object_get(j, "retired")), "2");
	json_decref(j);
	j = request(f, "{\"cmd\":\"records.list\",\"state\":\"retired\"}", 0);
	json_t *r = json_array_get(json_object_get(j, "records"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "retired_reason")), "lost");
	json_decref(j);
	j = request(f, "{\"cmd\":\"records.check\"}", 0);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
}

static void test_store_query_batches_through_request(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t id;
	assert_int_equal(store_batch_add(f->s, "lamp", 3, (const char *const[]){"p0"}, 1, &id, &err), 0);
	json_t *j = request(f, "{\"cmd\":\"batch.list\"}", 0);
	json_t *b = json_array_get(json_object_get(j, "batches"), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(b, "remaining")), 3);
	assert_string_equal(json_string_value(json_object_get(b, "state")), "active");
	assert_string_equal(json_string_value(json_array_get(json_object_get(b, "ports"), 0)), "p0");
	json_decref(j);
	request(f, "{\"cmd\":\"batch.show\",\"id\":99}", STORE_ENOTFOUND);
	assert_int_equal(store_batch_add(f->s, "lamp", 0, NULL, 0, &id, &err), STORE_EINPUT);
	assert_int_equal(store_batch_add(f->s, "nope", 1, NULL, 0, &id, &err), STORE_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_query_records_hide_values_unless_revealed, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_query_stats_and_products, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_query_audit_filters, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_query_retire_through_request, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_query_batches_through_request, setup, tu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
