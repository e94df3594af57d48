/* The lifecycles' names and transitions (store_state.c), against the
 * schema's CHECK lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "espfab/store_state.h"

#define SCHEMA ESPFAB_TEST_DATA "/../../schemas/001_initial.sql"
#define SCHEMA_HMAC ESPFAB_TEST_DATA "/../../schemas/005_hmac.sql"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = calloc(1, (size_t)n + 1)) && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

/* The names in the CHECK (state IN (...)) that follows "CREATE TABLE table". */
static void check_matches(const char *sql, const char *table, enum store_lifecycle lc, int count)
{
	char head[64], list[256];
	const char *p, *q;
	int n = 0;

	snprintf(head, sizeof(head), "CREATE TABLE %s", table);
	p = strstr(sql, head);
	assert_non_null(p);
	p = strstr(p, "CHECK (state IN (");
	assert_non_null(p);
	p += strlen("CHECK (state IN (");
	q = strchr(p, ')');
	assert_non_null(q);
	snprintf(list, sizeof(list), "%.*s", (int)(q - p), p);
	for (char *save = NULL, *w = strtok_r(list, "', ", &save); w; w = strtok_r(NULL, "', ", &save)) {
		if (store_state_parse(lc, w) < 0)
			fail_msg("%s: state '%s' of the schema has no enum value", table, w);
		n++;
	}
	assert_int_equal(n, count);
}

static void test_store_state_names_match_schema(void **state)
{
	char *sql = slurp(SCHEMA);

	(void)state;
	assert_non_null(sql);
	check_matches(sql, "records", STORE_LC_RECORD, STORE_RECORD_STATE_COUNT_);
	check_matches(sql, "batches", STORE_LC_BATCH, STORE_BATCH_STATE_COUNT_);
	check_matches(sql, "jobs", STORE_LC_JOB, STORE_JOB_STATE_COUNT_);
	free(sql);
	/* "none" is no row: every other state is one of the CHECK's. */
	sql = slurp(SCHEMA_HMAC);
	assert_non_null(sql);
	check_matches(sql, "device_hmac_keys", STORE_LC_HMAC, STORE_HMAC_STATE_COUNT_ - 1);
	assert_int_equal(store_hmac_state_parse("none"), STORE_HMAC_NONE);
	free(sql);
}

static void test_store_state_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < STORE_RECORD_STATE_COUNT_; i++)
		assert_int_equal(store_record_state_parse(store_record_state_name(i)), i);
	for (int i = 0; i < STORE_JOB_STATE_COUNT_; i++)
		assert_int_equal(store_job_state_parse(store_job_state_name(i)), i);
	for (int i = 0; i < STORE_BATCH_STATE_COUNT_; i++)
		assert_int_equal(store_batch_state_parse(store_batch_state_name(i)), i);
	assert_int_equal(store_record_state_parse("bogus"), -1);
	assert_int_equal(store_record_state_parse(NULL), -1);
	assert_string_equal(store_job_state_name(STORE_JOB_STATE_COUNT_), "?");
	assert_string_equal(store_state_name(STORE_LC_COUNT_, 0), "?");
}

static void test_store_state_transitions(void **state)
{
	(void)state;
	/* The record's way: available, reserved, sent (bound), verified. */
	assert_true(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_AVAILABLE, STORE_RECORD_RESERVED));
	assert_true(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_RESERVED, STORE_RECORD_SENT));
	assert_true(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_SENT, STORE_RECORD_VERIFIED));
	/* A bound record never becomes available again; a reserved one is
	 * not retired under a running device; retired is final. */
	assert_false(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_SENT, STORE_RECORD_AVAILABLE));
	assert_false(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_RESERVED, STORE_RECORD_RETIRED));
	for (int to = 0; to < STORE_RECORD_STATE_COUNT_; to++)
		assert_false(store_state_allowed(STORE_LC_RECORD, STORE_RECORD_RETIRED, to));
	/* Jobs: only reserved becomes sent; verified only from sent. */
	assert_true(store_state_allowed(STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_SENT));
	assert_false(store_state_allowed(STORE_LC_JOB, STORE_JOB_SENT, STORE_JOB_SENT));
	assert_false(store_state_allowed(STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_VERIFIED));
	assert_false(store_state_allowed(STORE_LC_JOB, STORE_JOB_RESERVED, STORE_JOB_INTERRUPTED));
	for (int to = 0; to < STORE_JOB_STATE_COUNT_; to++) {
		assert_false(store_state_allowed(STORE_LC_JOB, STORE_JOB_VERIFIED, to));
		assert_false(store_state_allowed(STORE_LC_JOB, STORE_JOB_FAILED, to));
	}
	/* Batches: pause/resume both ways, cancel from either, nothing after. */
	assert_true(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_ACTIVE, STORE_BATCH_PAUSED));
	assert_true(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_PAUSED, STORE_BATCH_ACTIVE));
	assert_true(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_PAUSED, STORE_BATCH_CANCELLED));
	assert_false(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_ACTIVE, STORE_BATCH_ACTIVE));
	assert_false(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_CANCELLED, STORE_BATCH_ACTIVE));
	assert_false(store_state_allowed(STORE_LC_BATCH, STORE_BATCH_DONE, STORE_BATCH_CANCELLED));
	/* Unknown states are refused, not read out of bounds. */
	assert_false(store_state_allowed(STORE_LC_JOB, -1, STORE_JOB_SENT));

	assert_true(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_NONE, STORE_HMAC_BURNING));
	assert_true(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_BURNING, STORE_HMAC_BURNT));
	assert_true(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_REFUSED, STORE_HMAC_BURNING));
	assert_true(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_DONE));
	assert_false(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_NONE, STORE_HMAC_BURNT));
	assert_false(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_BURNING));
	assert_false(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_BURNT, STORE_HMAC_REFUSED));
	for (int to = 0; to < STORE_HMAC_STATE_COUNT_; to++) {
		assert_int_equal(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_DONE, to), to == STORE_HMAC_DONE);
		assert_int_equal(store_state_allowed(STORE_LC_HMAC, STORE_HMAC_REWORK, to), to == STORE_HMAC_REWORK);
		assert_false(store_state_allowed(STORE_LC_HMAC, to, STORE_HMAC_NONE));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_state_names_match_schema),
		cmocka_unit_test(test_store_state_round_trip),
		cmocka_unit_test(test_store_state_transitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
