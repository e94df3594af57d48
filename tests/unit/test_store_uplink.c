/* Uplink cursors: where delivery of the audit trail got to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store_testutil.h"

static int setup(void **state)
{
	*state = tu_fx_new(NULL, 0, 3);
	return *state ? 0 : -1;
}

static int64_t audit_rows(struct store *s, int64_t after, int64_t *first)
{
	struct store_audit_filter f = {.after_id = after};
	struct store_err err = {0};
	json_t *j = NULL;
	assert_int_equal(store_query_audit(s, &f, &j, &err), 0);
	json_t *arr = json_object_get(j, "audit");
	int64_t n = (int64_t)json_array_size(arr);
	*first = n ? json_integer_value(json_object_get(json_array_get(arr, 0), "id")) : 0;
	json_decref(j);
	return n;
}

static void test_store_uplink_cursor_moves_forward_only(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	int64_t last = -1, pending = -1, first = 0, total;

	total = audit_rows(f->s, 0, &first);
	assert_true(total >= 2); /* product added, import */
	assert_int_equal(store_uplink_cursor(f->s, "http://mes/a", &last, &err), 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_uplink_pending(f->s, last, &pending, &err), 0);
	assert_int_equal(pending, total);

	assert_int_equal(store_uplink_advance(f->s, "http://mes/a", first, &err), 0);
	assert_int_equal(store_uplink_cursor(f->s, "http://mes/a", &last, &err), 0);
	assert_int_equal(last, first);
	assert_int_equal(audit_rows(f->s, last, &first), total - 1);
	assert_int_equal(store_uplink_pending(f->s, last, &pending, &err), 0);
	assert_int_equal(pending, total - 1);
	/* never back */
	assert_int_equal(store_uplink_advance(f->s, "http://mes/a", 0, &err), 0);
	assert_int_equal(store_uplink_cursor(f->s, "http://mes/a", &last, &err), 0);
	assert_int_not_equal(last, 0);
	/* another destination has its own */
	assert_int_equal(store_uplink_cursor(f->s, "http://mes/b", &last, &err), 0);
	assert_int_equal(last, 0);
	/* bad arguments */
	assert_int_equal(store_uplink_advance(f->s, "", 3, &err), STORE_EINPUT);
	assert_int_equal(store_uplink_advance(f->s, "http://mes/a", -1, &err), STORE_EINPUT);
	assert_int_equal(store_uplink_cursor(f->s, NULL, &last, &err), STORE_EINPUT);
}

/* The cursor is durable: another connection (a restarted daemon) sees it. */
static void test_store_uplink_cursor_survives_reopen(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};
	struct store *s2 = NULL;
	int64_t last = 0;

	assert_int_equal(store_uplink_advance(f->s, "https://mes:443/x", 2, &err), 0);
	assert_int_equal(store_open(&s2, f->db, 0, NULL, &err), 0);
	assert_int_equal(store_uplink_cursor(s2, "https://mes:443/x", &last, &err), 0);
	assert_int_equal(last, 2);
	store_close(s2);
	/* the audit trail stays append-only: the cursor lives beside it */
	assert_int_equal(store_check(f->s, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_uplink_cursor_moves_forward_only, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_uplink_cursor_survives_reopen, setup, tu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
