/* Unit tests of the operator screen's model: events in, tiles, batches,
 * rates and audit rows out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wmodel.h"

#define T0 1800000000 /* 2027-01-15T08:00:00Z */

static const char *const snapshot =
	"{\"v\":1,\"event\":\"snapshot\",\"station\":\"line3\",\"version\":\"0.1.0\",\"pid\":1,\"stopping\":false,"
	"\"ports\":[{\"name\":\"s1\",\"path\":\"/dev/a\",\"state\":\"waiting\",\"ok\":2,\"failed\":1,"
	"\"mac\":\"24:0a:c4:00:00:01\",\"chip\":\"ESP32-S3\"},"
	"{\"name\":\"s2\",\"path\":\"/dev/b\",\"state\":\"absent\",\"ok\":0,\"failed\":0}],"
	"\"batches\":[{\"id\":4,\"product\":\"lamp\",\"count\":10,\"state\":\"active\",\"verified\":2,\"failed\":1,"
	"\"remaining\":8,\"secret\":\"x\"}],"
	"\"counts\":{\"verified\":2,\"failed\":1}}";

static json_t *parse(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	return j;
}

/* Apply one event line; returns the changes (caller decrefs). */
static json_t *apply(struct wmodel *m, const char *line, time_t now, int want_rc)
{
	json_t *ev = parse(line), *ch = json_array();
	assert_int_equal(wmodel_apply(m, ev, now, ch), want_rc);
	json_decref(ev);
	return ch;
}

static void apply_ok(struct wmodel *m, const char *line, time_t now)
{
	json_decref(apply(m, line, now, WMODEL_OK));
}

static json_t *tile(json_t *state, const char *name)
{
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(state, "tiles"), i, t)
	{
		if (!strcmp(json_string_value(json_object_get(t, "name")), name))
			return t;
	}
	fail_msg("no tile %s", name);
	return NULL;
}

static const char *sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	assert_non_null(s);
	return s;
}

static struct wmodel *online_model(void)
{
	struct wmodel *m = NULL;
	json_t *ch;

	assert_int_equal(wmodel_new(&m), WMODEL_OK);
	ch = apply(m, snapshot, T0, WMODEL_OK);
	assert_int_equal(json_array_size(ch), 1);
	assert_string_equal(sget(json_array_get(ch, 0), "type"), "state");
	json_decref(ch);
	return m;
}

static void test_wmodel_snapshot_tiles(void **state)
{
	struct wmodel *m = online_model();
	json_t *st = wmodel_state(m, T0), *t, *b;

	(void)state;
	assert_true(json_is_true(json_object_get(st, "online")));
	assert_string_equal(sget(st, "station"), "line3");
	t = tile(st, "s1");
	assert_string_equal(sget(t, "label"), "WAITING");
	assert_string_equal(sget(t, "tone"), "wait");
	assert_string_equal(sget(t, "mac"), "24:0a:c4:00:00:01");
	assert_int_equal(json_integer_value(json_object_get(t, "ok")), 2);
	assert_string_equal(sget(tile(st, "s2"), "label"), "NO PORT");
	/* Batch rows are whitelisted: nothing unknown passes. */
	b = json_array_get(json_object_get(st, "batches"), 0);
	assert_string_equal(sget(b, "product"), "lamp");
	assert_null(json_object_get(b, "secret"));
	json_decref(st);
	wmodel_free(m);
}

static void test_wmodel_provision_sequence(void **state)
{
	struct wmodel *m = online_model();
	json_t *ch, *t, *st;

	(void)state;
	ch = apply(m, "{\"v\":1,\"event\":\"port\",\"port\":\"s1\",\"state\":\"busy\"}", T0, WMODEL_OK);
	t = json_object_get(json_array_get(ch, 0), "data");
	assert_string_equal(sget(json_array_get(ch, 0), "type"), "tile");
	assert_string_equal(sget(t, "label"), "CONNECTING");
	json_decref(ch);
	apply_ok(m, "{\"v\":1,\"event\":\"step\",\"port\":\"s1\",\"mac\":\"24:0a:c4:00:00:01\",\"step\":\"table\"}", T0);
	ch = apply(m, "{\"v\":1,\"event\":\"step\",\"port\":\"s1\",\"step\":\"write\",\"record\":\"lamp-0007\",\"batch\":4}",
		   T0, WMODEL_OK);
	t = json_object_get(json_array_get(ch, 0), "data");
	assert_string_equal(sget(t, "label"), "WRITING");
	assert_string_equal(sget(t, "tone"), "busy");
	assert_string_equal(sget(t, "record"), "lamp-0007");
	json_decref(ch);
	ch = apply(m, "{\"v\":1,\"event\":\"progress\",\"port\":\"s1\",\"step\":\"write\",\"done\":4096,\"total\":24576}",
		   T0, WMODEL_OK);
	t = json_object_get(json_array_get(ch, 0), "data");
	assert_int_equal(json_integer_value(json_object_get(t, "done")), 4096);
	assert_int_equal(json_integer_value(json_object_get(t, "total")), 24576);
	json_decref(ch);
	ch = apply(m, "{\"v\":1,\"event\":\"result\",\"port\":\"s1\",\"mac\":\"24:0a:c4:00:00:01\",\"chip\":\"ESP32-S3\","
		      "\"record\":\"lamp-0007\",\"batch\":4,\"job\":9,\"result\":\"verified\",\"error\":\"\","
		      "\"duration_ms\":1800,\"steps\":{}}", T0 + 5, WMODEL_OK);
	/* audit row, stats, then the tile */
	assert_int_equal(json_array_size(ch), 3);
	assert_string_equal(sget(json_array_get(ch, 0), "type"), "audit");
	assert_string_equal(sget(json_object_get(json_array_get(ch, 0), "data"), "result"), "ok");
	assert_string_equal(sget(json_array_get(ch, 1), "type"), "stats");
	t = json_object_get(json_array_get(ch, 2), "data");
	assert_string_equal(sget(t, "label"), "VERIFIED");
	assert_string_equal(sget(t, "tone"), "ok");
	assert_string_equal(sget(t, "record"), ""); /* not busy any more: the last's */
	assert_string_equal(sget(json_object_get(t, "last"), "record"), "lamp-0007");
	assert_int_equal(json_integer_value(json_object_get(t, "ok")), 3);
	json_decref(ch);
	st = wmodel_stats(m, T0 + 10);
	assert_int_equal(json_integer_value(json_object_get(st, "verified")), 3);
	assert_int_equal(json_integer_value(json_object_get(st, "per_hour")), 6); /* 1 in 10 min */
	json_decref(st);
	/* The board leaves; the port goes idle: EMPTY, last result kept. */
	apply_ok(m, "{\"v\":1,\"event\":\"device.left\",\"port\":\"s1\",\"mac\":\"24:0a:c4:00:00:01\"}", T0 + 20);
	apply_ok(m, "{\"v\":1,\"event\":\"port\",\"port\":\"s1\",\"state\":\"idle\"}", T0 + 20);
	st = wmodel_state(m, T0 + 20);
	t = tile(st, "s1");
	assert_string_equal(sget(t, "label"), "EMPTY");
	assert_string_equal(sget(t, "mac"), "");
	assert_string_equal(sget(json_object_get(t, "last"), "result"), "verified");
	json_decref(st);
	wmodel_free(m);
}

static void test_wmodel_failure_reason_and_action(void **state)
{
	struct wmodel *m = online_model();
	json_t *ch, *t, *last, *st, *causes;

	(void)state;
	apply_ok(m, "{\"v\":1,\"event\":\"port\",\"port\":\"s2\",\"state\":\"busy\"}", T0);
	ch = apply(m, "{\"v\":1,\"event\":\"result\",\"port\":\"s2\",\"mac\":\"24:0a:c4:00:00:02\",\"chip\":\"ESP32\","
		      "\"record\":\"lamp-0008\",\"batch\":4,\"job\":10,\"result\":\"failed\","
		      "\"error\":\"write: FLASH_DEFL_DATA: no reply to FLASH_DEFL_DATA before the deadline\","
		      "\"duration_ms\":9000,\"steps\":{}}", T0 + 1, WMODEL_OK);
	t = json_object_get(json_array_get(ch, 2), "data");
	assert_string_equal(sget(t, "label"), "FAILED");
	assert_string_equal(sget(t, "tone"), "fail");
	last = json_object_get(t, "last");
	assert_string_equal(sget(last, "cause"), "contact");
	assert_string_equal(sget(last, "reason"), "Lost contact with the board");
	assert_non_null(strstr(sget(last, "action"), "Reseat the board"));
	assert_non_null(strstr(sget(last, "error"), "no reply to FLASH_DEFL_DATA"));
	assert_string_equal(sget(json_object_get(json_array_get(ch, 0), "data"), "reason"), "Lost contact with the board");
	json_decref(ch);
	st = wmodel_stats(m, T0 + 2);
	causes = json_object_get(st, "causes");
	assert_int_equal(json_array_size(causes), 1);
	assert_string_equal(sget(json_array_get(causes, 0), "cause"), "contact");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(causes, 0), "count")), 1);
	json_decref(st);
	/* An hour and more later the failure has left the window. */
	st = wmodel_stats(m, T0 + WMODEL_CAUSE_WINDOW + 5);
	assert_int_equal(json_array_size(json_object_get(st, "causes")), 0);
	json_decref(st);
	wmodel_free(m);
}

static void test_wmodel_classify(void **state)
{
	static const struct {
		const char *error;
		enum wmodel_cause cause;
	} cases[] = {
		{"write: FLASH_DEFL_BEGIN: no reply to FLASH_DEFL_BEGIN before the deadline", WMODEL_CAUSE_CONTACT},
		{"verify read-back: READ_FLASH_SLOW: no reply to READ_FLASH_SLOW before the deadline", WMODEL_CAUSE_CONTACT},
		{"reading the partition table: SPI_FLASH_MD5: no reply", WMODEL_CAUSE_CONTACT},
		{"verify: read-back differs from the image", WMODEL_CAUSE_VERIFY},
		{"verify: read-back NVS image has 2 problem(s), first: x", WMODEL_CAUSE_VERIFY},
		{"device partition table at 0x8000 unreadable: bad magic", WMODEL_CAUSE_TABLE},
		{"firmware app at 0x10000: FLASH_BEGIN failed (status 1 error 0x05)", WMODEL_CAUSE_FIRMWARE},
		{"claim: batch 1 has no work left for this port", WMODEL_CAUSE_RECORDS},
		{"store: database is locked", WMODEL_CAUSE_RECORDS},
		{"claim: stopped", WMODEL_CAUSE_STATION},
		{"the station is shutting down", WMODEL_CAUSE_STATION},
		{"write: FLASH_DEFL_DATA failed (status 1 error 0x08)", WMODEL_CAUSE_CONTACT},
		{"something new", WMODEL_CAUSE_OTHER},
		{"", WMODEL_CAUSE_OTHER},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum wmodel_cause c = wmodel_classify(cases[i].error);
		if (c != cases[i].cause)
			fail_msg("'%s': cause %s, want %s", cases[i].error, wmodel_cause_name(c),
				 wmodel_cause_name(cases[i].cause));
	}
	assert_int_equal(wmodel_classify(NULL), WMODEL_CAUSE_OTHER);
	for (int c = 0; c < WMODEL_CAUSE_COUNT_; c++) {
		assert_true(strlen(wmodel_cause_label((enum wmodel_cause)c)) > 5);
		assert_true(strlen(wmodel_cause_action((enum wmodel_cause)c)) > 10);
	}
}

static void test_wmodel_garbage_ignored(void **state)
{
	struct wmodel *m = NULL;
	json_t *ch, *st;
	static const char *const lines[] = {
		"{\"v\":1,\"event\":\"port\",\"port\":\"s1\",\"state\":\"busy\"}", /* before any snapshot */
		"{\"v\":1,\"id\":3,\"ok\":true,\"result\":{}}",                    /* a reply */
		"[1,2,3]",
		"{\"v\":1,\"event\":7}",
	};

	(void)state;
	assert_int_equal(wmodel_new(&m), WMODEL_OK);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		ch = apply(m, lines[i], T0, WMODEL_EINPUT);
		assert_int_equal(json_array_size(ch), 0);
		json_decref(ch);
	}
	apply_ok(m, snapshot, T0);
	json_decref(apply(m, "{\"v\":1,\"event\":\"teleport\",\"port\":\"s1\"}", T0, WMODEL_EINPUT));
	json_decref(apply(m, "{\"v\":1,\"event\":\"port\",\"state\":\"busy\"}", T0, WMODEL_EINPUT));
	/* Control bytes and over-long strings are cut and replaced, never passed. */
	apply_ok(m, "{\"v\":1,\"event\":\"device.arrived\",\"port\":\"s1\",\"mac\":\"aa\\u001b[31mbb\","
		    "\"chip\":\"ESP32-S3-WITH-A-VERY-LONG-NAME-INDEED\",\"flash_size\":1}", T0);
	st = wmodel_state(m, T0);
	assert_string_equal(sget(tile(st, "s1"), "mac"), "aa?[31mbb");
	assert_int_equal(strlen(sget(tile(st, "s1"), "chip")), 23);
	json_decref(st);
	/* More than WMODEL_MAX_TILES ports: the rest are dropped, not overrun. */
	for (int i = 0; i < WMODEL_MAX_TILES + 5; i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"v\":1,\"event\":\"port\",\"port\":\"p%d\",\"state\":\"idle\"}", i);
		json_decref(apply(m, line, T0, i < WMODEL_MAX_TILES - 2 ? WMODEL_OK : WMODEL_EINPUT));
	}
	st = wmodel_state(m, T0);
	assert_int_equal(json_array_size(json_object_get(st, "tiles")), WMODEL_MAX_TILES);
	json_decref(st);
	wmodel_free(m);
}

static void test_wmodel_offline_online(void **state)
{
	struct wmodel *m = online_model();
	json_t *ch = json_array(), *st;

	(void)state;
	assert_int_equal(wmodel_set_online(m, 0, "espfabd closed the connection", T0 + 1, ch), WMODEL_OK);
	assert_int_equal(json_array_size(ch), 1);
	st = json_object_get(json_array_get(ch, 0), "data");
	assert_true(json_is_false(json_object_get(st, "online")));
	assert_string_equal(sget(st, "why"), "espfabd closed the connection");
	/* The same reason again changes nothing (the feed retries every second). */
	json_array_clear(ch);
	wmodel_set_online(m, 0, "espfabd closed the connection", T0 + 2, ch);
	assert_int_equal(json_array_size(ch), 0);
	/* Deltas while offline are not applied. */
	json_decref(apply(m, "{\"v\":1,\"event\":\"port\",\"port\":\"s1\",\"state\":\"busy\"}", T0, WMODEL_EINPUT));
	/* A snapshot brings it back. */
	json_decref(apply(m, snapshot, T0 + 3, WMODEL_OK));
	st = wmodel_state(m, T0 + 3);
	assert_true(json_is_true(json_object_get(st, "online")));
	assert_string_equal(sget(st, "why"), "");
	json_decref(st);
	json_decref(ch);
	wmodel_free(m);
}

static void test_wmodel_seed_pages(void **state)
{
	struct wmodel *m = online_model();
	json_t *p1 = parse("[{\"id\":1,\"time\":\"2027-01-15T07:30:00.000Z\",\"event\":\"provision\",\"port\":\"s1\","
			   "\"mac\":\"24:0a:c4:00:00:01\",\"record_id\":\"lamp-0001\",\"result\":\"ok\",\"error\":null},"
			   "{\"id\":2,\"time\":\"2027-01-15T07:55:00.000Z\",\"event\":\"provision\",\"port\":\"s2\","
			   "\"mac\":\"24:0a:c4:00:00:02\",\"record_id\":\"lamp-0002\",\"result\":\"failed\","
			   "\"error\":\"verify: read-back differs from the image\"},"
			   "{\"id\":3,\"time\":\"2027-01-15T07:56:00.000Z\",\"event\":\"import\",\"result\":\"ok\"}]");
	/* The next page repeats its boundary row (since is >=). */
	json_t *p2 = parse("[{\"id\":3,\"time\":\"2027-01-15T07:56:00.000Z\",\"event\":\"import\",\"result\":\"ok\"},"
			   "{\"id\":4,\"time\":\"2027-01-15T07:57:00.000Z\",\"event\":\"provision\",\"port\":\"s1\","
			   "\"mac\":\"24:0a:c4:00:00:03\",\"record_id\":\"lamp-0003\",\"result\":\"ok\",\"error\":null}]");
	json_t *ch = json_array(), *st, *audit;

	(void)state;
	wmodel_seed_begin(m);
	assert_int_equal(wmodel_seed_page(m, p1), 3);
	assert_string_equal(wmodel_seed_since(m), "2027-01-15T07:56:00.000Z");
	/* A live result while seeding updates its tile, not the tail: its row
	 * comes in a page. */
	json_decref(apply(m, "{\"v\":1,\"event\":\"result\",\"port\":\"s1\",\"mac\":\"24:0a:c4:00:00:03\",\"record\":"
			     "\"lamp-0003\",\"result\":\"verified\",\"error\":\"\"}", T0, WMODEL_OK));
	assert_int_equal(wmodel_seed_page(m, p2), 4);
	wmodel_seed_end(m, T0, ch);
	assert_int_equal(json_array_size(ch), 1);
	st = json_object_get(json_array_get(ch, 0), "data");
	audit = json_object_get(st, "audit");
	assert_int_equal(json_array_size(audit), 3); /* the import row is not a device */
	assert_string_equal(sget(json_array_get(audit, 2), "record"), "lamp-0003");
	assert_string_equal(sget(json_array_get(audit, 1), "reason"), "Read-back did not match");
	st = json_object_get(st, "stats");
	assert_int_equal(json_integer_value(json_object_get(st, "verified_1h")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "failed_1h")), 1);
	assert_int_equal(json_integer_value(json_object_get(st, "per_hour")), 6); /* one in the last 10 min */
	json_decref(p1);
	json_decref(p2);
	json_decref(ch);
	wmodel_free(m);
}

static void test_wmodel_time(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(wmodel_parse_time("2027-01-15T08:00:00.000Z"), T0);
	assert_int_equal(wmodel_parse_time("2027-01-15 08:00:00"), T0);
	assert_int_equal(wmodel_parse_time("2027-13-15T08:00:00Z"), -1);
	assert_int_equal(wmodel_parse_time("yesterday"), -1);
	assert_int_equal(wmodel_parse_time(NULL), -1);
	wmodel_format_time(T0, buf, sizeof(buf));
	assert_string_equal(buf, "2027-01-15T08:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wmodel_snapshot_tiles),	   cmocka_unit_test(test_wmodel_provision_sequence),
		cmocka_unit_test(test_wmodel_failure_reason_and_action), cmocka_unit_test(test_wmodel_classify),
		cmocka_unit_test(test_wmodel_garbage_ignored),	   cmocka_unit_test(test_wmodel_offline_online),
		cmocka_unit_test(test_wmodel_seed_pages),	   cmocka_unit_test(test_wmodel_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
