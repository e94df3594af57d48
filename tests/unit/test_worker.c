/* Unit tests of a port's worker thread (worker.c) against the simulator
 * (espfab-sim on a pty) and a missing port: what it tells the main thread,
 * what it asks, and how it stops. The test plays the main thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "jobq.h"
#include "worker.h"

#define SIM ESPFAB_BIN_DIR "/espfab-sim"
#define MAC "24:0a:c4:00:00:07"

struct fx {
	struct jobq *to_main;
	struct worker *w;
	pid_t sim;
	char path[256];
};

/* espfab-sim on a new pty; its first output line is the pty's path. */
static int sim_start(struct fx *f)
{
	int fds[2];
	FILE *in;

	if (pipe(fds))
		return -1;
	f->sim = fork();
	if (f->sim == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(SIM, SIM, "--no-timing", "--mac", MAC, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	if (!in || !fgets(f->path, sizeof(f->path), in))
		return -1;
	f->path[strcspn(f->path, "\n")] = '\0';
	fclose(in);
	return 0;
}

static void start(struct fx *f, const char *path)
{
	struct worker_cfg c = {.index = 3, .baud = 115200, .before = RESET_MODE_CLASSIC, .poll_ms = 50,
			       .probe_ms = 100, .request_ms = 3000, .table_offset = 0x8000};

	snprintf(c.name, sizeof(c.name), "p3");
	snprintf(c.path, sizeof(c.path), "%s", path);
	assert_int_equal(jobq_new(&f->to_main, 0), 0);
	assert_int_equal(worker_start(&c, f->to_main, &f->w), 0);
}

/* The next message of kind (others are dropped), within 10 s. */
static void expect(struct fx *f, enum jobq_kind kind, struct jobq_msg *out)
{
	for (int i = 0; i < 1000; i++) {
		struct jobq_msg m;
		if (jobq_pop(f->to_main, &m, 10000))
			break;
		assert_int_equal(m.worker, 3);
		if (m.kind == kind) {
			*out = m;
			return;
		}
		jobq_msg_clear(&m);
	}
	fail_msg("no message of kind %d", (int)kind);
}

/* A port state change to name. */
static void expect_state(struct fx *f, const char *name)
{
	struct jobq_msg m;

	for (int i = 0; i < 20; i++) {
		expect(f, JOBQ_PORT_STATE, &m);
		if (!strcmp(m.u.port_state.name, name))
			return;
	}
	fail_msg("port never became %s", name);
}

static void stop(struct fx *f)
{
	struct jobq_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = JOBQ_STOP;
	worker_post(f->w, &m);
	expect(f, JOBQ_EXITED, &m);
	worker_join_free(f->w);
	jobq_free(f->to_main);
	if (f->sim > 0) {
		kill(f->sim, SIGTERM);
		waitpid(f->sim, NULL, 0);
	}
}

static void test_worker_absent_port(void **state)
{
	struct fx f = {0};

	(void)state;
	start(&f, "/nonexistent/ttyUSB9");
	expect_state(&f, "absent");
	stop(&f);
}

/* A device in download mode: announced with its identity, then asked
 * about; no work for it leaves it waiting, nothing written. */
static void test_worker_device_without_work(void **state)
{
	struct fx f = {0};
	struct jobq_msg m, rep;

	(void)state;
	if (access(SIM, X_OK))
		skip();
	assert_int_equal(sim_start(&f), 0);
	start(&f, f.path);
	expect(&f, JOBQ_ARRIVED, &m);
	assert_string_equal(m.mac, MAC);
	assert_string_equal(m.chip, "ESP32");
	assert_true(m.u.arrived.flash_size >= 1024 * 1024);
	expect(&f, JOBQ_WORK_REQ, &m);
	assert_string_equal(m.mac, MAC);
	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_WORK_REP;
	rep.rc = -1;
	worker_post(f.w, &rep);
	expect_state(&f, "waiting");
	/* It asks again, and a device already verified in its batch is done. */
	expect(&f, JOBQ_WORK_REQ, &m);
	memset(&rep, 0, sizeof(rep));
	rep.kind = JOBQ_WORK_REP;
	rep.rc = JOBQ_WORK_DONE;
	worker_post(f.w, &rep);
	expect_state(&f, "done");
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_absent_port),
		cmocka_unit_test(test_worker_device_without_work),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
