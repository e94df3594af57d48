/* Durability: which file every state change syncs, and what a failed sync
 * means. The test binary interposes fdatasync(), the call SQLite's unix VFS
 * makes for every sync, so it can count the syncs of the WAL and make the
 * next ones fail as a dying disk would (EIO). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/syscall.h>

#include "store_testutil.h"

static int wal_syncs;     /* fdatasync calls on a *-wal file */
static int wal_sync_fail; /* fail this many of the next ones with EIO */

static int is_wal(int fd)
{
	char link[64], target[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 4)
		return 0;
	target[n] = '\0';
	return !strcmp(target + n - 4, "-wal");
}

__attribute__((visibility("default"))) int fdatasync(int fd)
{
	if (is_wal(fd)) {
		__atomic_add_fetch(&wal_syncs, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&wal_sync_fail, __ATOMIC_SEQ_CST) > 0) {
			__atomic_sub_fetch(&wal_sync_fail, 1, __ATOMIC_SEQ_CST);
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(SYS_fdatasync, fd);
}

static int64_t stat_of(struct store *s, const char *what)
{
	json_t *j = NULL;
	struct store_err err = {0};
	assert_int_equal(store_query_stats(s, "lamp", &j, &err), 0);
	int64_t n = json_integer_value(json_object_get(json_array_get(json_object_get(j, "stats"), 0), what));
	json_decref(j);
	return n;
}

/* Default open: every acknowledged state change synced the WAL itself. */
static void test_store_durable_each_change_syncs_the_wal(void **state)
{
	struct tu_fx *f = *state;
	struct store_err err = {0};

	int before = wal_syncs;
	struct store_record *r = tu_claim(f->s, "aa:00:00:00:00:01", 0);
	assert_true(wal_syncs > before);
	before = wal_syncs;
	assert_int_equal(store_mark_sent(f->s, r->job_id, &err), 0);
	assert_true(wal_syncs > before);
	before = wal_syncs;
	assert_int_equal(store_mark_verified(f->s, r->job_id, NULL, &err), 0);
	assert_true(wal_syncs > before);
	before = wal_syncs;
	assert_int_equal(store_retire(f->s, "lamp", r->record_id, "returned", &err), 0);
	assert_true(wal_syncs > before);
	store_record_free(r);
}

/* Default open: a commit whose WAL sync fails is reported failed AND is
 * invisible: no connection, in this process or another, can act on a
 * change the disk may not hold. (Group commit publishes a commit before
 * its sync, so there the failed claim stays visible as 'reserved'.) */
static void test_store_durable_failed_sync_leaves_nothing_visible(void **state)
{
	struct tu_fx *f = *state;
	struct store *other = NULL;
	struct store_err err = {0};

	wal_sync_fail = 1;
	struct store_record *r = tu_claim(f->s, "aa:00:00:00:00:02", STORE_EIO);
	wal_sync_fail = 0;
	assert_null(r);
	assert_int_equal(store_open(&other, f->db, 0, NULL, &err), 0);
	assert_int_equal(stat_of(other, "reserved"), 0);
	assert_int_equal(stat_of(other, "available"), 5);
	assert_int_equal(stat_of(f->s, "reserved"), 0);
	/* The store goes on working once the disk does. */
	r = tu_claim(f->s, "aa:00:00:00:00:02", 0);
	assert_int_equal(stat_of(other, "reserved"), 1);
	store_record_free(r);
	store_close(other);
	assert_int_equal(store_check(f->s, &err), 0);
}

/* Group commit (explicit opt-in): after one failed WAL sync the kernel may
 * have dropped the dirty pages and report the next sync clean, so no later
 * commit of that file in this process may be acknowledged as durable. */
static void test_store_durable_group_commit_sync_failure_is_sticky(void **state)
{
	struct tu_fx *f = *state;
	struct store *g1 = NULL, *g2 = NULL;
	struct store_err err = {0};

	assert_int_equal(store_open(&g1, f->db, STORE_OPEN_GROUP_COMMIT, NULL, &err), 0);
	assert_int_equal(store_open(&g2, f->db, STORE_OPEN_GROUP_COMMIT, NULL, &err), 0);
	int before = wal_syncs;
	struct store_record *r = tu_claim(g1, "aa:00:00:00:00:03", 0);
	assert_true(wal_syncs > before);
	store_record_free(r);

	wal_sync_fail = 1;
	assert_null(tu_claim(g1, "aa:00:00:00:00:04", STORE_EIO));
	wal_sync_fail = 0;
	assert_null(tu_claim(g2, "aa:00:00:00:00:05", STORE_EIO));
	assert_null(tu_claim(g1, "aa:00:00:00:00:06", STORE_EIO));
	store_close(g1);
	store_close(g2);
	/* A fresh open (the daemon restarting) starts a new group. */
	assert_int_equal(store_open(&g1, f->db, STORE_OPEN_GROUP_COMMIT, NULL, &err), 0);
	r = tu_claim(g1, "aa:00:00:00:00:07", 0);
	store_record_free(r);
	store_close(g1);
}

static int setup(void **state)
{
	*state = tu_fx_new(NULL, 0, 5);
	return *state ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_durable_each_change_syncs_the_wal, setup, tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_durable_failed_sync_leaves_nothing_visible, setup,
						tu_teardown),
		cmocka_unit_test_setup_teardown(test_store_durable_group_commit_sync_failure_is_sticky, setup,
						tu_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
