/* Many threads and two processes claiming from one database at once: never a
 * duplicate, never a lost record, and the full state is checked afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>

#include "store_testutil.h"

#define N_RECORDS 400
#define N_THREADS 6

static pthread_barrier_t start_line;

struct worker {
	const char *db;
	int id;
	int claimed[N_RECORDS + 1]; /* record id -> times this worker got it */
	int n, errors;
	char msg[320];
};

/* Each device goes through a mix of outcomes so every transition races:
 * verified, released before send (the record must come back), failed after
 * send (bound, must never reappear). */
static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct store *s = NULL;
	struct store_err err = {0};
	/* Odd workers use opt-in group commit, even ones the default FULL:
	 * both modes race on one file. */
	if (store_open(&s, w->db, (w->id & 1) ? STORE_OPEN_GROUP_COMMIT : 0, NULL, &err)) {
		snprintf(w->msg, sizeof(w->msg), "open: %s", err.msg);
		w->errors++;
	}
	/* Everyone opens first, then all start claiming at once. */
	pthread_barrier_wait(&start_line);
	if (!s)
		return NULL;
	for (int dev = 0;; dev++) {
		char mac[32], port[16];
		snprintf(mac, sizeof(mac), "%02x:00:00:00:%02x:%02x", w->id, (dev >> 8) & 0xff, dev & 0xff);
		snprintf(port, sizeof(port), "p%d", w->id);
		struct store_claim_req req = {.product = "lamp", .station = "st", .port = port, .mac = mac};
		struct store_record *r = NULL;
		int rc = store_claim(s, &req, &r, &err);
		if (rc == STORE_EEMPTY)
			break;
		if (rc) {
			snprintf(w->msg, sizeof(w->msg), "claim: %s", err.msg);
			w->errors++;
			break;
		}
		int outcome = dev % 5;
		if (outcome == 1) {
			rc = store_release(s, r->job_id, "no sync", NULL, &err);
		} else {
			rc = store_mark_sent(s, r->job_id, &err);
			if (!rc && outcome == 3)
				rc = store_fail(s, r->job_id, "verify failed", NULL, &err);
			else if (!rc)
				rc = store_mark_verified(s, r->job_id, NULL, &err);
			if (!rc)
				w->claimed[atoi(r->record_id)]++;
		}
		if (rc) {
			snprintf(w->msg, sizeof(w->msg), "transition: %s", err.msg);
			w->errors++;
		}
		store_record_free(r);
		w->n++;
	}
	store_close(s);
	return NULL;
}

static char *make_db(char **dir)
{
	struct store *s = NULL;
	struct store_err err = {0};
	char *csv = tu_values(1, N_RECORDS);
	*dir = tu_tmpdir();
	char *db = tu_db(*dir, "c.db");
	assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, NULL, &err), 0);
	assert_int_equal(tu_add_product(s, "lamp", NULL, 0, &err), 0);
	assert_int_equal(tu_import(s, "lamp", csv, &err), 0);
	store_close(s);
	free(csv);
	return db;
}

/* Every record ends sent or verified (none available, none lost), each in
 * exactly one device, and the database passes the invariant check. */
static void assert_final(const char *db, int *got)
{
	struct store *s = NULL;
	struct store_err err = {0};
	json_t *j = NULL;
	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	if (store_check(s, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(store_query_stats(s, "lamp", &j, &err), 0);
	json_t *st = json_array_get(json_object_get(j, "stats"), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "available")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "reserved")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "sent")) +
				 json_integer_value(json_object_get(st, "verified")),
			 N_RECORDS);
	json_decref(j);
	for (int i = 1; i <= N_RECORDS; i++)
		if (got[i] != 1)
			fail_msg("record %d went to %d devices", i, got[i]);
	/* and the database agrees: one distinct MAC per record across all jobs that sent */
	struct store_record_filter flt = {.product = "lamp"};
	assert_int_equal(store_query_records(s, &flt, &j, &err), 0);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(j, "records"), i, r)
		assert_non_null(json_string_value(json_object_get(r, "mac")));
	json_decref(j);
	store_close(s);
}

static void test_store_concurrency_threads(void **state)
{
	(void)state;
	char *dir;
	char *db = make_db(&dir);
	pthread_t t[N_THREADS];
	struct worker *w = calloc(N_THREADS, sizeof(*w));
	int got[N_RECORDS + 1] = {0}, took_part = 0;
	pthread_barrier_init(&start_line, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++) {
		w[i].db = db;
		w[i].id = i + 1;
		assert_int_equal(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].errors)
			fail_msg("worker %d: %s", i, w[i].msg);
		for (int k = 1; k <= N_RECORDS; k++)
			got[k] += w[i].claimed[k];
	}
	pthread_barrier_destroy(&start_line);
	/* the workers really raced (not one draining the store alone) */
	for (int i = 0; i < N_THREADS; i++)
		took_part += w[i].n > 0;
	for (int i = 0; i < N_THREADS; i++)
		fprintf(stderr, "worker %d: %d devices\n", i, w[i].n);
	assert_true(took_part >= N_THREADS / 2);
	assert_final(db, got);
	free(w);
	free(db);
	tu_rmrf(dir);
}

static void test_store_concurrency_two_processes(void **state)
{
	(void)state;
	char *dir;
	char *db = make_db(&dir);
	int fds[2][2];
	pid_t pid[2];
	int got[N_RECORDS + 1] = {0};
	for (int p = 0; p < 2; p++) {
		assert_int_equal(pipe(fds[p]), 0);
		pid[p] = fork();
		assert_true(pid[p] >= 0);
		if (pid[p] == 0) {
			/* child: two threads of its own, results down the pipe */
			struct worker w[2] = {{.db = db, .id = 10 + 2 * p}, {.db = db, .id = 11 + 2 * p}};
			pthread_t t[2];
			close(fds[p][0]);
			pthread_barrier_init(&start_line, NULL, 2);
			for (int i = 0; i < 2; i++)
				pthread_create(&t[i], NULL, run_worker, &w[i]);
			for (int i = 0; i < 2; i++)
				pthread_join(t[i], NULL);
			int code = w[0].errors || w[1].errors || !(w[0].n + w[1].n);
			for (int k = 1; k <= N_RECORDS; k++) {
				int n = w[0].claimed[k] + w[1].claimed[k];
				if (write(fds[p][1], &n, sizeof(n)) != sizeof(n))
					code = 1;
			}
			if (code)
				fprintf(stderr, "child %d: %s %s\n", p, w[0].msg, w[1].msg);
			_exit(code);
		}
		close(fds[p][1]);
	}
	for (int p = 0; p < 2; p++) {
		for (int k = 1; k <= N_RECORDS; k++) {
			int n = 0;
			assert_int_equal(read(fds[p][0], &n, sizeof(n)), sizeof(n));
			got[k] += n;
		}
		close(fds[p][0]);
		int status = 0;
		assert_int_equal(waitpid(pid[p], &status, 0), pid[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_final(db, got);
	free(db);
	tu_rmrf(dir);
}

/* Every thread sees the same 24 devices again and again, as when a device
 * is re-seated on another port or shows up at two stations: each MAC keeps
 * one record, each record one MAC, superseded jobs are refused. */
struct shared_worker {
	const char *db;
	int id, errors;
	char msg[320];
};

static void *run_shared(void *arg)
{
	struct shared_worker *w = arg;
	struct store *s = NULL;
	struct store_err err = {0};
	unsigned seed = (unsigned)w->id * 7919u;
	/* Odd workers use opt-in group commit, even ones the default FULL:
	 * both modes race on one file. */
	if (store_open(&s, w->db, (w->id & 1) ? STORE_OPEN_GROUP_COMMIT : 0, NULL, &err)) {
		snprintf(w->msg, sizeof(w->msg), "open: %s", err.msg);
		w->errors++;
	}
	pthread_barrier_wait(&start_line);
	for (int i = 0; s && i < 150; i++) {
		char mac[32];
		seed = seed * 1103515245u + 12345u;
		snprintf(mac, sizeof(mac), "0a:00:00:00:00:%02x", (seed >> 16) % 24);
		struct store_claim_req req = {.product = "lamp", .station = "st", .port = "p", .mac = mac};
		struct store_record *r = NULL;
		int rc = store_claim(s, &req, &r, &err);
		if (rc) {
			snprintf(w->msg, sizeof(w->msg), "claim: %s", err.msg);
			w->errors++;
			break;
		}
		switch ((seed >> 8) % 4) {
		case 0:
			rc = store_release(s, r->job_id, "no sync", NULL, &err);
			break;
		case 1:
			rc = store_mark_sent(s, r->job_id, &err);
			if (!rc)
				rc = store_fail(s, r->job_id, "verify", NULL, &err);
			break;
		default:
			rc = store_mark_sent(s, r->job_id, &err);
			if (!rc)
				rc = store_mark_verified(s, r->job_id, NULL, &err);
			break;
		}
		store_record_free(r);
		if (rc && rc != STORE_ESTATE) {
			snprintf(w->msg, sizeof(w->msg), "transition: %s", err.msg);
			w->errors++;
			break;
		}
	}
	store_close(s);
	return NULL;
}

static void test_store_concurrency_same_devices_everywhere(void **state)
{
	(void)state;
	char *dir;
	char *db = make_db(&dir);
	struct shared_worker w[4];
	pthread_t t[4];
	struct store *s = NULL;
	struct store_err err = {0};
	json_t *j = NULL;

	pthread_barrier_init(&start_line, NULL, 4);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct shared_worker){.db = db, .id = i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, run_shared, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		if (w[i].errors)
			fail_msg("worker %d: %s", i, w[i].msg);
	}
	pthread_barrier_destroy(&start_line);
	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	struct store_recovery rep;
	assert_int_equal(store_recover(s, NULL, &rep, &err), 0);
	if (store_check(s, &err))
		fail_msg("%s", err.msg);
	/* 24 devices hold at most 24 records; every other record is untouched */
	assert_int_equal(store_query_stats(s, "lamp", &j, &err), 0);
	json_t *st = json_array_get(json_object_get(j, "stats"), 0);
	int64_t bound = json_integer_value(json_object_get(st, "sent")) + json_integer_value(json_object_get(st, "verified"));
	assert_true(bound > 0 && bound <= 24);
	assert_int_equal(json_integer_value(json_object_get(st, "available")), N_RECORDS - bound);
	json_decref(j);
	store_close(s);
	free(db);
	tu_rmrf(dir);
}

/* Six stations claiming from one batch of 25 at once and holding what
 * they get (every fourth claim released at once, so claims meet at the
 * batch's last places again and again): together they never hold more
 * than its count (the room is counted under the batch row's lock); then
 * they write and verify what they hold and the batch ends done with
 * exactly 25 verified. */
#define BATCH_COUNT 25
static int64_t room_batch;

struct batch_worker {
	const char *db;
	int id, errors, held;
	int64_t jobs[BATCH_COUNT + 8];
	char msg[320];
};

static void *run_batch(void *arg)
{
	struct batch_worker *w = arg;
	struct store *s = NULL;
	struct store_err err = {0};
	int rc = 0;

	if (store_open(&s, w->db, (w->id & 1) ? STORE_OPEN_GROUP_COMMIT : 0, NULL, &err)) {
		snprintf(w->msg, sizeof(w->msg), "open: %s", err.msg);
		w->errors++;
	}
	pthread_barrier_wait(&start_line);
	for (int dev = 0; s && dev < 200 && w->held < (int)(sizeof(w->jobs) / sizeof(w->jobs[0])); dev++) {
		char mac[32];
		snprintf(mac, sizeof(mac), "0b:00:00:%02x:%02x:%02x", w->id, (dev >> 8) & 0xff, dev & 0xff);
		struct store_claim_req req = {.product = "lamp", .batch_id = room_batch, .station = "st", .port = "p",
					      .mac = mac};
		struct store_record *r = NULL;
		rc = store_claim(s, &req, &r, &err);
		if (rc == STORE_EBATCH)
			break; /* no room */
		if (rc) {
			snprintf(w->msg, sizeof(w->msg), "claim: %s", err.msg);
			w->errors++;
			break;
		}
		if (dev % 4 == 3)
			rc = store_release(s, r->job_id, "no sync", NULL, &err);
		else
			w->jobs[w->held++] = r->job_id;
		store_record_free(r);
		if (rc) {
			snprintf(w->msg, sizeof(w->msg), "release: %s", err.msg);
			w->errors++;
			break;
		}
	}
	pthread_barrier_wait(&start_line); /* every station holds what it got */
	for (int i = 0; s && !w->errors && i < w->held; i++)
		if (store_mark_sent(s, w->jobs[i], &err) || store_mark_verified(s, w->jobs[i], NULL, &err)) {
			snprintf(w->msg, sizeof(w->msg), "transition: %s", err.msg);
			w->errors++;
		}
	store_close(s);
	return NULL;
}

static void test_store_concurrency_batch_room(void **state)
{
	(void)state;
	char *dir;
	char *db = make_db(&dir);
	struct batch_worker w[N_THREADS];
	pthread_t t[N_THREADS];
	struct store *s = NULL;
	struct store_err err = {0};
	json_t *j = NULL;
	int held = 0;

	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	assert_int_equal(store_batch_add(s, "lamp", BATCH_COUNT, NULL, 0, &room_batch, &err), 0);
	store_close(s);
	pthread_barrier_init(&start_line, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct batch_worker){.db = db, .id = i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, run_batch, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		if (w[i].errors)
			fail_msg("worker %d: %s", i, w[i].msg);
		held += w[i].held;
	}
	assert_int_equal(held, BATCH_COUNT);
	pthread_barrier_destroy(&start_line);
	assert_int_equal(store_open(&s, db, 0, NULL, &err), 0);
	if (store_check(s, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(store_batch_query(s, room_batch, &j, &err), 0);
	json_t *b = json_array_get(json_object_get(j, "batches"), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "verified")), BATCH_COUNT);
	assert_string_equal(json_string_value(json_object_get(b, "state")), "done");
	json_decref(j);
	assert_int_equal(store_query_stats(s, "lamp", &j, &err), 0);
	json_t *st = json_array_get(json_object_get(j, "stats"), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "verified")), BATCH_COUNT);
	assert_int_equal(json_integer_value(json_object_get(st, "sent")), 0);
	json_decref(j);
	store_close(s);
	free(db);
	tu_rmrf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_concurrency_threads),
		cmocka_unit_test(test_store_concurrency_two_processes),
		cmocka_unit_test(test_store_concurrency_same_devices_everywhere),
		cmocka_unit_test(test_store_concurrency_batch_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
