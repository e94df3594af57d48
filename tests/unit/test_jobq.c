/* Unit tests of the message queues between the main thread and the workers
 * (jobq.c): order, ownership of a message's data, timeouts, the eventfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "jobq.h"

static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_jobq_order_and_payloads(void **state)
{
	struct jobq *q = NULL;
	struct jobq_msg m;

	(void)state;
	assert_int_equal(jobq_new(&q, 0), 0);
	assert_int_equal(jobq_fd(q), -1);
	for (unsigned i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		m.kind = JOBQ_PROGRESS;
		m.worker = i;
		m.u.progress.done = 10 * i;
		m.u.progress.total = 30;
		assert_int_equal(jobq_push(q, &m), 0);
	}
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(jobq_pop(q, &m, 0), 0);
		assert_int_equal(m.kind, JOBQ_PROGRESS);
		assert_int_equal(m.worker, i);
		assert_int_equal(m.u.progress.done, 10 * i);
		assert_int_equal(m.u.progress.total, 30);
	}
	assert_int_equal(jobq_pop(q, &m, 0), -ETIMEDOUT);
	jobq_free(q);
}

/* The sender's data pointer is taken at push; the receiver owns it and
 * clears it (wiping it: it may be an NVS image with secrets). */
static void test_jobq_data_ownership(void **state)
{
	struct jobq *q = NULL;
	struct jobq_msg m, got;
	uint8_t *img = malloc(16);

	(void)state;
	assert_int_equal(jobq_new(&q, 0), 0);
	memset(img, 0xa5, 16);
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_CLAIM_REP;
	m.job_id = 42;
	snprintf(m.u.claim.record, sizeof(m.u.claim.record), "lamp-0001");
	m.data = img;
	m.len = 16;
	assert_int_equal(jobq_push(q, &m), 0);
	assert_null(m.data);
	assert_int_equal(m.len, 0);
	assert_int_equal(jobq_pop(q, &got, -1), 0);
	assert_ptr_equal(got.data, img);
	assert_int_equal(got.len, 16);
	assert_int_equal(got.job_id, 42);
	assert_string_equal(got.u.claim.record, "lamp-0001");
	jobq_msg_clear(&got);
	assert_null(got.data);
	assert_int_equal(got.len, 0);
	jobq_msg_clear(&got); /* twice is fine */

	/* Messages still queued are cleared with the queue (ASan: no leak). */
	m.data = malloc(8);
	m.len = 8;
	assert_int_equal(jobq_push(q, &m), 0);
	jobq_free(q);
}

static void test_jobq_eventfd(void **state)
{
	struct jobq *q = NULL;
	struct jobq_msg m;

	(void)state;
	assert_int_equal(jobq_new(&q, 1), 0);
	assert_true(jobq_fd(q) >= 0);
	assert_false(readable(jobq_fd(q)));
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_WAKE;
	assert_int_equal(jobq_push(q, &m), 0);
	assert_int_equal(jobq_push(q, &m), 0);
	assert_true(readable(jobq_fd(q)));
	assert_int_equal(jobq_pop(q, &m, 0), 0);
	/* Still one queued: still readable; empty: reset. */
	assert_true(readable(jobq_fd(q)));
	assert_int_equal(jobq_pop(q, &m, 0), 0);
	assert_false(readable(jobq_fd(q)));
	jobq_free(q);
}

static void test_jobq_timeout(void **state)
{
	struct jobq *q = NULL;
	struct jobq_msg m;
	uint64_t t;

	(void)state;
	assert_int_equal(jobq_new(&q, 0), 0);
	t = now_ms();
	assert_int_equal(jobq_pop(q, &m, 50), -ETIMEDOUT);
	assert_true(now_ms() - t >= 45);
	jobq_free(q);
}

struct later {
	struct jobq *q;
	unsigned ms;
};

static void *push_later(void *arg)
{
	struct later *l = arg;
	struct jobq_msg m;
	struct timespec d = {0, (long)l->ms * 1000000L};

	nanosleep(&d, NULL);
	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_STOP;
	jobq_push(l->q, &m);
	return NULL;
}

/* A blocked pop wakes on a push from another thread, before its timeout. */
static void test_jobq_wakes_waiter(void **state)
{
	struct later l = {.ms = 30};
	struct jobq_msg m;
	pthread_t th;
	uint64_t t;

	(void)state;
	assert_int_equal(jobq_new(&l.q, 0), 0);
	t = now_ms();
	assert_int_equal(pthread_create(&th, NULL, push_later, &l), 0);
	assert_int_equal(jobq_pop(l.q, &m, 5000), 0);
	assert_int_equal(m.kind, JOBQ_STOP);
	assert_true(now_ms() - t < 4000);
	pthread_join(th, NULL);
	jobq_free(l.q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobq_order_and_payloads),
		cmocka_unit_test(test_jobq_data_ownership),
		cmocka_unit_test(test_jobq_eventfd),
		cmocka_unit_test(test_jobq_timeout),
		cmocka_unit_test(test_jobq_wakes_waiter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
