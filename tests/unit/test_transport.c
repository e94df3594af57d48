/* Transports: termios over a real pty pair, raw TCP over loopback,
 * deadlines and cancellation from another thread. Real time, bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "espfab/flashop.h"
#include "espfab/port.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int open_pty(char *name, size_t sz)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);

	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_int_equal(ptsname_r(m, name, sz), 0);
	return m;
}

static void test_transport_pty_uses_termios_and_moves_bytes(void **state)
{
	(void)state;
	char name[64], msg[256];
	int m = open_pty(name, sizeof(name));
	struct port *p = NULL;
	uint8_t buf[16];
	size_t got = 0;

	/* libserialport refuses ptys; port_open must still succeed */
	assert_int_equal(port_open(name, 115200, &p, msg, sizeof(msg)), PORT_OK);
	assert_non_null(p);
	assert_int_equal(write(m, "\xC0hello", 6), 6);
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 1000), PORT_OK);
	assert_true(got >= 1);
	assert_int_equal(buf[0], 0xC0);
	assert_int_equal(p->ops->write(p, (const uint8_t *)"\xDB\xDC", 2, p->ops->now_ms(p) + 1000), PORT_OK);
	assert_int_equal(read(m, buf, sizeof(buf)), 2);
	assert_int_equal(buf[0], 0xDB);
	/* ptys carry no modem lines */
	assert_int_equal(p->ops->set_lines(p, 1, 0), PORT_EINVAL);
	assert_int_equal(p->ops->set_baud(p, 921600), PORT_OK);
	assert_int_equal(p->baud, 921600);
	port_close(p);
	close(m);
}

static void test_transport_read_deadline_is_honoured(void **state)
{
	(void)state;
	char name[64];
	int m = open_pty(name, sizeof(name));
	struct port *p = NULL;
	uint8_t buf[4];
	size_t got = 7;
	uint64_t t0, dt;

	assert_int_equal(port_open(name, 115200, &p, NULL, 0), PORT_OK);
	t0 = now_ms();
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 120), PORT_ETIMEDOUT);
	dt = now_ms() - t0;
	assert_int_equal(got, 0);
	assert_true(dt >= 110 && dt < 1000);
	port_close(p);
	close(m);
}

static void test_transport_pty_other_side_gone_is_enodev(void **state)
{
	(void)state;
	char name[64];
	int m = open_pty(name, sizeof(name));
	struct port *p = NULL;
	uint8_t buf[4];
	size_t got;

	assert_int_equal(port_open(name, 115200, &p, NULL, 0), PORT_OK);
	close(m);
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 2000), PORT_ENODEV);
	port_close(p);
}

/* reopen() retries every 100 ms while a USB-JTAG device re-enumerates;
 * the last wait must be cut to the deadline, not run 100 ms past it. */
static void test_transport_reopen_stops_at_its_deadline(void **state)
{
	(void)state;
	char name[64], dir[] = "/tmp/espfab-transport-XXXXXX", link[128];
	int m = open_pty(name, sizeof(name));
	struct port *p = NULL;
	uint64_t t0, dt;

	/* Through a link we remove, as udev removes /dev/serial/by-path/...:
	 * the pty's own number may be handed to another process's new pty
	 * (tests run in parallel) and would then open again. */
	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/tty", dir);
	assert_int_equal(symlink(name, link), 0);
	assert_int_equal(port_open(link, 115200, &p, NULL, 0), PORT_OK);
	close(m);
	assert_int_equal(unlink(link), 0);
	t0 = now_ms();
	assert_int_equal(p->ops->reopen(p, p->ops->now_ms(p) + 150), PORT_ENODEV);
	dt = now_ms() - t0;
	/* It tries until its deadline and then stops: no earlier, and not
	 * much later (bounded loosely: the machine may be busy). */
	assert_true(dt >= 140);
	assert_true(dt < 1000);
	port_close(p);
	rmdir(dir);
}

struct canceller {
	struct port *p;
	unsigned delay_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)c->delay_ms * 1000000L};

	nanosleep(&ts, NULL);
	port_cancel(c->p);
	return NULL;
}

static void test_transport_cancel_from_another_thread_wakes_read_and_sleep(void **state)
{
	(void)state;
	char name[64];
	int m = open_pty(name, sizeof(name));
	struct port *p = NULL;
	struct canceller c;
	pthread_t th;
	uint8_t buf[4];
	size_t got;
	uint64_t t0;

	assert_int_equal(port_open(name, 115200, &p, NULL, 0), PORT_OK);
	c.p = p;
	c.delay_ms = 100;
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	t0 = now_ms();
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 20000), PORT_ECANCELED);
	assert_true(now_ms() - t0 < 2000);
	pthread_join(th, NULL);
	/* and every later call */
	t0 = now_ms();
	p->ops->sleep_ms(p, 10000);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(p->ops->write(p, buf, 1, p->ops->now_ms(p) + 1000), PORT_ECANCELED);
	port_close(p);
	close(m);
}

static int listen_tcp(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &sl), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static void test_transport_tcp_roundtrip_no_lines_peer_close(void **state)
{
	(void)state;
	uint16_t lp;
	int ls = listen_tcp(&lp);
	char name[64], msg[256];
	struct port *p = NULL;
	uint8_t buf[8];
	size_t got;
	int c;

	snprintf(name, sizeof(name), "socket://127.0.0.1:%u", lp);
	assert_int_equal(port_open(name, 115200, &p, msg, sizeof(msg)), PORT_OK);
	c = accept(ls, NULL, NULL);
	assert_true(c >= 0);
	assert_int_equal(p->ops->write(p, (const uint8_t *)"abc", 3, p->ops->now_ms(p) + 1000), PORT_OK);
	assert_int_equal(read(c, buf, sizeof(buf)), 3);
	assert_int_equal(write(c, "xy", 2), 2);
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 1000), PORT_OK);
	assert_true(got >= 1 && buf[0] == 'x');
	assert_int_equal(p->ops->set_lines(p, 1, 1), PORT_EINVAL);
	assert_int_equal(p->ops->set_baud(p, 460800), PORT_OK);
	close(c);
	assert_int_equal(p->ops->read(p, buf, sizeof(buf), &got, p->ops->now_ms(p) + 2000), PORT_ENODEV);
	port_close(p);
	close(ls);
}

struct streamer {
	int fd;
	volatile int stop;
};

static void *stream_bytes(void *arg)
{
	struct streamer *st = arg;
	static uint8_t junk[65536];

	while (!st->stop)
		if (send(st->fd, junk, sizeof(junk), MSG_NOSIGNAL) < 0)
			break;
	return NULL;
}

/* flush_input has no deadline: it drops what is queued, then returns,
 * even while the peer keeps streaming. */
static void test_transport_tcp_flush_input_is_bounded_under_streaming(void **state)
{
	(void)state;
	uint16_t lp;
	int ls = listen_tcp(&lp);
	char name[64];
	struct port *p = NULL;
	struct streamer st = {.fd = -1, .stop = 0};
	pthread_t th;
	uint64_t t0, dt;

	snprintf(name, sizeof(name), "socket://127.0.0.1:%u", lp);
	assert_int_equal(port_open(name, 115200, &p, NULL, 0), PORT_OK);
	st.fd = accept(ls, NULL, NULL);
	assert_true(st.fd >= 0);
	assert_int_equal(pthread_create(&th, NULL, stream_bytes, &st), 0);
	p->ops->sleep_ms(p, 50);
	t0 = now_ms();
	assert_int_equal(p->ops->flush_input(p), PORT_OK);
	dt = now_ms() - t0;
	st.stop = 1;
	port_close(p); /* the writer sees EPIPE/ECONNRESET and ends */
	pthread_join(th, NULL);
	close(st.fd);
	close(ls);
	assert_true(dt < 500);
}

static void test_transport_bad_names_give_one_line_errors(void **state)
{
	(void)state;
	char msg[256];
	struct port *p = (struct port *)1;

	assert_int_equal(port_open("socket://nohost", 115200, &p, msg, sizeof(msg)), PORT_EINVAL);
	assert_null(p);
	assert_non_null(strstr(msg, "HOST:PORT"));
	assert_int_not_equal(port_open("/dev/espfab-no-such-port", 115200, &p, msg, sizeof(msg)), PORT_OK);
	assert_null(p);
	assert_non_null(strstr(msg, "/dev/espfab-no-such-port"));
	assert_null(strchr(msg, '\n'));
	assert_int_not_equal(port_open("socket://127.0.0.1:1", 115200, &p, msg, sizeof(msg)), PORT_OK);
	assert_null(p);
	assert_int_not_equal(port_open("/dev/null", 115200, &p, msg, sizeof(msg)), PORT_OK);
	assert_non_null(strstr(msg, "not a terminal"));
}

struct opener {
	char name[64];
	struct flashop *f;
	struct port *p;
	int rc;
	struct rom_diag d;
};

static void *open_silent(void *arg)
{
	struct opener *o = arg;
	struct flashop_options opt;

	flashop_options_init(&opt);
	opt.before = RESET_MODE_NONE;
	o->rc = flashop_attach(o->p, &opt, &o->f, &o->d);
	return NULL;
}

/* A worker stuck connecting to a silent device (4 x 5 SYNCs of 100 ms) is
 * cancelled by another thread and returns at once. */
static void test_transport_cancel_interrupts_a_connect_in_progress(void **state)
{
	(void)state;
	struct opener o = {0};
	int m = open_pty(o.name, sizeof(o.name));
	pthread_t th;
	uint64_t t0;
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 150 * 1000000L};

	assert_int_equal(port_open(o.name, 115200, &o.p, NULL, 0), PORT_OK);
	t0 = now_ms();
	assert_int_equal(pthread_create(&th, NULL, open_silent, &o), 0);
	nanosleep(&ts, NULL);
	port_cancel(o.p); /* the port is still alive: the worker owns it */
	pthread_join(th, NULL);
	assert_int_equal(o.rc, ROM_ECANCELED);
	assert_null(o.f);
	assert_true(now_ms() - t0 < 1000);
	close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_pty_uses_termios_and_moves_bytes),
		cmocka_unit_test(test_transport_read_deadline_is_honoured),
		cmocka_unit_test(test_transport_pty_other_side_gone_is_enodev),
		cmocka_unit_test(test_transport_reopen_stops_at_its_deadline),
		cmocka_unit_test(test_transport_cancel_from_another_thread_wakes_read_and_sleep),
		cmocka_unit_test(test_transport_tcp_roundtrip_no_lines_peer_close),
		cmocka_unit_test(test_transport_bad_names_give_one_line_errors),
		cmocka_unit_test(test_transport_tcp_flush_input_is_bounded_under_streaming),
		cmocka_unit_test(test_transport_cancel_interrupts_a_connect_in_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
