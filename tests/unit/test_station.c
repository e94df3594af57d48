/* Unit tests of the station's control requests (station_request.c): the op
 * table against schemas/control-request.json, and the requests themselves
 * on a station without ports over a fresh store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "station.h"
#include "store_testutil.h"

#define SCHEMA ESPFAB_TEST_DATA "/../../schemas/control-request.json"

struct fx {
	struct tu_fx *db;
	struct loop *loop;
	struct config cfg;
	struct station *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct station_opts o = {0};
	char msg[256];

	log_init("test", 1);
	log_set_level(LOG_ERR);
	if (!f || !(f->db = tu_fx_new(NULL, 0, 4)) || loop_new(&f->loop))
		return -1;
	config_defaults(&f->cfg);
	snprintf(f->cfg.station, sizeof(f->cfg.station), "st1");
	o.cfg = &f->cfg;
	o.loop = f->loop;
	o.store = f->db->s;
	if (station_new(&o, &f->st, msg, sizeof(msg))) {
		fprintf(stderr, "station_new: %s\n", msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	station_free(f->st);
	loop_free(f->loop);
	tu_fx_free(f->db);
	free(f);
	return 0;
}

/* Runs one request line; fails the test unless the outcome is expect
 * (STATION_REPLY, ... or -1 with error code code). *out is the caller's. */
static json_t *run(struct fx *f, const char *line, int expect, const char *code)
{
	struct ctl_request req = {0};
	struct ctl_err perr = {0};
	struct station_rerr e = {0};
	json_t *out = NULL;
	int rc;

	if (ctl_parse_request(line, strlen(line), &req, &perr))
		fail_msg("%s: does not parse: %s", line, perr.msg);
	rc = station_request_run(f->st, &req, 1000, &out, &e);
	ctl_request_deinit(&req);
	if (rc != expect)
		fail_msg("%s: outcome %d (%s %s), expected %d", line, rc, e.code ? e.code : "-", e.msg, expect);
	if (code)
		assert_string_equal(e.code, code);
	return out;
}

/* Splits a space-separated field list into a sorted JSON array of names. */
static json_t *names(const char *list)
{
	json_t *a = json_array();
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		json_array_append_new(a, json_string(w));
	return a;
}

static int has(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(v), s))
			return 1;
	return 0;
}

/* Field sets equal, order aside. */
static void same_names(const char *op, const char *what, json_t *schema, json_t *table)
{
	size_t i;
	json_t *v;

	json_array_foreach(schema, i, v)
		if (!has(table, json_string_value(v)))
			fail_msg("op %s: %s field '%s' is in the schema, not in the table", op, what, json_string_value(v));
	json_array_foreach(table, i, v)
		if (!has(schema, json_string_value(v)))
			fail_msg("op %s: %s field '%s' is in the table, not in the schema", op, what, json_string_value(v));
}

/* The schema's "then" of op: required names and all property names. */
static void schema_fields(json_t *schema, const char *op, json_t **required, json_t **all)
{
	size_t i, j;
	json_t *rule, *v;

	*required = json_array();
	*all = json_array();
	json_array_foreach(json_object_get(schema, "allOf"), i, rule)
	{
		json_t *cond = json_object_get(json_object_get(json_object_get(rule, "if"), "properties"), "op");
		json_t *then = json_object_get(rule, "then"), *ops = json_object_get(cond, "enum");
		const char *one = json_string_value(json_object_get(cond, "const"));
		const char *key;
		int match = one && !strcmp(one, op);
		json_array_foreach(ops, j, v)
			match |= !strcmp(json_string_value(v), op);
		if (!match)
			continue;
		json_array_foreach(json_object_get(then, "required"), j, v)
			json_array_append(*required, v);
		json_object_foreach(json_object_get(then, "properties"), key, v)
			json_array_append_new(*all, json_string(key));
	}
}

static void test_station_op_table_matches_schema(void **state)
{
	json_error_t je;
	json_t *schema = json_load_file(SCHEMA, 0, &je), *v;
	size_t n, i;
	const struct station_op *ops = station_ops(&n);

	(void)state;
	if (!schema)
		fail_msg("%s: %s", SCHEMA, je.text);
	/* Every op of the schema has a row and a handler. */
	json_array_foreach(json_object_get(json_object_get(json_object_get(schema, "properties"), "op"), "enum"), i, v)
	{
		size_t k;
		for (k = 0; k < n && strcmp(ctl_op_name(ops[k].op), json_string_value(v)); k++)
			;
		if (k == n || !ops[k].fn)
			fail_msg("op %s of the schema has no handler", json_string_value(v));
	}
	/* Every row is an op of the schema, its fields the schema's. */
	for (size_t k = 0; k < n; k++) {
		const char *op = ctl_op_name(ops[k].op);
		json_t *req, *all, *treq = names(ops[k].required), *tall = names(ops[k].optional);
		assert_non_null(op);
		if (!has(json_object_get(json_object_get(json_object_get(schema, "properties"), "op"), "enum"), op))
			fail_msg("op %s of the table is not in the schema", op);
		json_array_extend(tall, treq);
		schema_fields(schema, op, &req, &all);
		same_names(op, "required", req, treq);
		same_names(op, "", all, tall);
		json_decref(req);
		json_decref(all);
		json_decref(treq);
		json_decref(tall);
	}
	/* And every op the parser knows is in the table. */
	for (int op = 0; op < CTL_OP_COUNT_; op++) {
		size_t k;
		for (k = 0; k < n && ops[k].op != (enum ctl_op)op; k++)
			;
		if (k == n)
			fail_msg("op %s parses but has no row", ctl_op_name((enum ctl_op)op));
	}
	json_decref(schema);
}

/* One verified device of batch in the audit trail. */
static void provision(struct fx *f, int64_t batch, const char *mac)
{
	struct store_claim_req req = {.product = "lamp", .batch_id = batch, .station = "st1", .port = "p0", .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};

	if (store_claim(f->db->s, &req, &r, &err) || store_mark_sent(f->db->s, r->job_id, &err) ||
	    store_mark_verified(f->db->s, r->job_id, NULL, &err))
		fail_msg("provision %s in batch %lld: %s", mac, (long long)batch, err.msg);
	store_record_free(r);
}

/* The audit op's batch filter selects that batch's rows (it was parsed and
 * then dropped: every row came back). */
static void test_station_audit_batch_filter(void **state)
{
	struct fx *f = *state;
	struct store_err err = {0};
	int64_t a = 0, b = 0;
	json_t *out, *row;
	size_t i, all;
	char line[128];

	assert_int_equal(store_batch_add(f->db->s, "lamp", 2, NULL, 0, &a, &err), 0);
	assert_int_equal(store_batch_add(f->db->s, "lamp", 2, NULL, 0, &b, &err), 0);
	provision(f, a, "aa:00:00:00:00:01");
	provision(f, b, "aa:00:00:00:00:02");
	provision(f, b, "aa:00:00:00:00:03");
	out = run(f, "{\"v\":1,\"op\":\"audit\"}", STATION_REPLY, NULL);
	all = json_array_size(json_object_get(out, "audit"));
	json_decref(out);
	assert_true(all >= 3);

	snprintf(line, sizeof(line), "{\"v\":1,\"op\":\"audit\",\"batch\":%lld}", (long long)b);
	out = run(f, line, STATION_REPLY, NULL);
	/* Its "batch added" row and its two devices' rows, of all the rows. */
	assert_int_equal(json_array_size(json_object_get(out, "audit")), 3);
	assert_true(all > 3);
	json_array_foreach(json_object_get(out, "audit"), i, row)
		assert_int_equal(json_integer_value(json_object_get(row, "batch_id")), b);
	json_decref(out);

	/* With the other filters: mac of batch a, asked in batch b: nothing. */
	snprintf(line, sizeof(line), "{\"v\":1,\"op\":\"audit\",\"batch\":%lld,\"mac\":\"aa:00:00:00:00:01\"}",
		 (long long)b);
	out = run(f, line, STATION_REPLY, NULL);
	assert_int_equal(json_array_size(json_object_get(out, "audit")), 0);
	json_decref(out);
}

static void test_station_batch_requests(void **state)
{
	struct fx *f = *state;
	json_t *out;

	run(f, "{\"v\":1,\"op\":\"batch.add\",\"product\":\"lamp\",\"count\":2,\"ports\":[\"p9\"]}", -1, "arg");
	run(f, "{\"v\":1,\"op\":\"batch.add\",\"product\":\"nope\",\"count\":2}", -1, "not_found");
	out = run(f, "{\"v\":1,\"op\":\"batch.add\",\"product\":\"lamp\",\"count\":9}", STATION_REPLY, NULL);
	assert_int_equal(json_integer_value(json_object_get(out, "batch")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(out, "warning")), "only 4 available"));
	json_decref(out);
	out = run(f, "{\"v\":1,\"op\":\"batch.pause\",\"batch\":1}", STATION_REPLY, NULL);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(json_object_get(out, "batches"), 0), "state")),
		"paused");
	json_decref(out);
	out = run(f, "{\"v\":1,\"op\":\"batch.show\",\"batch\":1}", STATION_REPLY, NULL);
	assert_int_equal(json_array_size(json_object_get(out, "batches")), 1);
	json_decref(out);
	run(f, "{\"v\":1,\"op\":\"batch.show\",\"batch\":7}", -1, "not_found");
}

static void test_station_status_and_queries(void **state)
{
	struct fx *f = *state;
	json_t *out;

	out = run(f, "{\"v\":1,\"op\":\"status\"}", STATION_REPLY, NULL);
	assert_string_equal(json_string_value(json_object_get(out, "station")), "st1");
	assert_int_equal(json_array_size(json_object_get(out, "ports")), 0);
	json_decref(out);
	out = run(f, "{\"v\":1,\"op\":\"subscribe\"}", STATION_EVENT, NULL);
	assert_string_equal(json_string_value(json_object_get(out, "event")), "snapshot");
	json_decref(out);
	assert_null(run(f, "{\"v\":1,\"op\":\"unsubscribe\"}", STATION_NONE, NULL));
	out = run(f, "{\"v\":1,\"op\":\"records.stats\",\"product\":\"lamp\"}", STATION_REPLY, NULL);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(out, "stats"), 0), "available")),
			 4);
	json_decref(out);
	out = run(f, "{\"v\":1,\"op\":\"records.list\",\"state\":\"available\",\"limit\":2}", STATION_REPLY, NULL);
	assert_int_equal(json_array_size(json_object_get(out, "records")), 2);
	assert_null(json_object_get(json_array_get(json_object_get(out, "records"), 0), "values"));
	json_decref(out);
	run(f, "{\"v\":1,\"op\":\"store\",\"request\":{\"cmd\":\"records.list\",\"reveal\":true}}", -1, "denied");
	run(f, "{\"v\":1,\"op\":\"records.stats\",\"product\":\"nope\"}", -1, "not_found");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_station_op_table_matches_schema),
		cmocka_unit_test_setup_teardown(test_station_audit_batch_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_station_batch_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_station_status_and_queries, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
