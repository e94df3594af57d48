/* Unit tests of the espfabd.conf parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static int parse(struct config *c, const char *text, struct config_err *err)
{
	config_defaults(c);
	memset(err, 0, sizeof(*err));
	return config_parse(c, text, strlen(text), "espfabd.conf", err);
}

static void test_config_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.socket_path, "/run/espfab/espfabd.sock");
	assert_string_equal(c.db_path, "/var/lib/espfab/espfab.db");
	assert_int_equal(c.baud, 921600);
	assert_int_equal(c.before, RESET_MODE_CLASSIC);
	assert_int_equal(c.nports, 0);
}

static void test_config_full_file(void **state)
{
	static const char text[] =
		"# a station\n"
		"database = /var/lib/espfab/line2.db\n"
		"socket=/run/espfab/x.sock\n"
		"  station = line2-pc  \r\n"
		"baud = 460800\n"
		"before = no_reset\n"
		"autodiscover = yes\n"
		"port = /dev/ttyUSB9\n"
		"\n"
		"[port slot1]\n"
		"path = /dev/serial/by-path/pci-0000:00:14.0-usb-0:1.1:1.0-port0\n"
		"baud = 115200\n"
		"before = usb_reset\n"
		"[ port slot2 ]\n"
		"path = socket://10.0.0.5:4000\n";
	struct config c;
	struct config_err err;

	(void)state;
	assert_int_equal(parse(&c, text, &err), 0);
	assert_string_equal(c.db_path, "/var/lib/espfab/line2.db");
	assert_string_equal(c.socket_path, "/run/espfab/x.sock");
	assert_string_equal(c.station, "line2-pc");
	assert_int_equal(c.baud, 460800);
	assert_int_equal(c.before, RESET_MODE_NONE);
	assert_int_equal(c.autodiscover, 1);
	assert_int_equal(c.nports, 3);
	assert_string_equal(c.ports[0].path, "/dev/ttyUSB9");
	assert_string_equal(c.ports[0].name, "/dev/ttyUSB9");
	assert_int_equal(c.ports[0].before, -1);
	assert_string_equal(c.ports[1].name, "slot1");
	assert_int_equal(c.ports[1].baud, 115200);
	assert_int_equal(c.ports[1].before, RESET_MODE_USB_JTAG);
	assert_string_equal(c.ports[2].name, "slot2");
	assert_string_equal(c.ports[2].path, "socket://10.0.0.5:4000");
}

static void expect_error(const char *text, int code, const char *msg)
{
	struct config c;
	struct config_err err;

	assert_int_equal(parse(&c, text, &err), code);
	assert_string_equal(err.msg, msg);
}

static void test_config_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_error("baud = 9600\nbaud = fast\n", CONFIG_EVALUE,
		     "espfabd.conf:2: baud: expected 300..4000000, got 'fast'");
	expect_error("\n\ncolour = blue\n", CONFIG_EKEY, "espfabd.conf:3: unknown key 'colour'");
	expect_error("just words\n", CONFIG_ESYNTAX, "espfabd.conf:1: expected 'key = value'");
	expect_error("[slot 1]\n", CONFIG_EKEY, "espfabd.conf:1: unknown section '[slot 1]' (only [port NAME])");
	expect_error("[port a]\nbaud = 115200\n", CONFIG_EVALUE, "espfabd.conf:1: [port a] has no path");
	expect_error("[port a]\npath = /dev/x\n[port a]\n", CONFIG_EVALUE,
		     "espfabd.conf:3: port name 'a' given twice");
	expect_error("before = sometimes\n", CONFIG_EVALUE,
		     "espfabd.conf:1: before: expected default_reset, usb_reset or no_reset, got 'sometimes'");
	expect_error("port = ttyUSB0\n", CONFIG_EVALUE,
		     "espfabd.conf:1: port 'ttyUSB0': expected an absolute device path or socket://HOST:PORT");
	expect_error("port = socket://host\n", CONFIG_EVALUE,
		     "espfabd.conf:1: port 'socket://host': expected an absolute device path or socket://HOST:PORT");
	expect_error("port = /dev/a\nport = /dev/a\n", CONFIG_EVALUE, "espfabd.conf:2: port '/dev/a' given twice");
	expect_error("database =\n", CONFIG_EVALUE, "espfabd.conf:1: database: missing value");
	expect_error("[port a]\nspeed = 1\n", CONFIG_EKEY, "espfabd.conf:2: unknown key 'speed' in a [port] section");
	expect_error("uplink = ftp://mes/x\n", CONFIG_EVALUE,
		     "espfabd.conf:1: uplink: expected an http:// or https:// URL");
	expect_error("uplink_token = token.txt\n", CONFIG_EVALUE,
		     "espfabd.conf:1: uplink_token: expected an absolute path");
}

static void test_config_uplink(void **state)
{
	struct config c;
	struct config_err err;

	(void)state;
	assert_int_equal(parse(&c, "uplink = https://mes.plant:8443/espfab/audit\nuplink_token = /etc/espfab/t\n", &err),
			 0);
	assert_string_equal(c.uplink_url, "https://mes.plant:8443/espfab/audit");
	assert_string_equal(c.uplink_token, "/etc/espfab/t");
	assert_int_equal(parse(&c, "station = a\n", &err), 0);
	assert_string_equal(c.uplink_url, "");
}

static void test_config_nul_and_long_lines(void **state)
{
	struct config c;
	struct config_err err;
	char buf[2048];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_parse(&c, "baud = 1\0\n", 10, "f", &err), CONFIG_ESYNTAX);
	assert_string_equal(err.msg, "f:1: NUL byte in line");
	memset(buf, 'a', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	assert_int_equal(config_parse(&c, buf, sizeof(buf), "f", &err), CONFIG_ESYNTAX);
	assert_int_equal(err.line, 1);
}

static void test_config_too_many_ports(void **state)
{
	struct config c;
	struct config_err err;
	char path[32];

	(void)state;
	config_defaults(&c);
	for (int i = 0; i < CONFIG_MAX_PORTS; i++) {
		snprintf(path, sizeof(path), "/dev/ttyUSB%d", i);
		assert_int_equal(config_add_port(&c, NULL, path, &err), 0);
	}
	assert_int_equal(config_add_port(&c, NULL, "/dev/ttyACM0", &err), CONFIG_EVALUE);
	assert_string_equal(err.msg, "too many ports (at most 64)");
}

static void test_config_load_missing(void **state)
{
	struct config c;
	struct config_err err;
	char path[] = "/tmp/espfab-test-confXXXXXX";
	int fd;

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, "/nonexistent/espfabd.conf", 1, &err), 0);
	assert_int_equal(config_load(&c, "/nonexistent/espfabd.conf", 0, &err), CONFIG_EIO);
	assert_string_equal(err.msg, "/nonexistent/espfabd.conf: No such file or directory");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "station = s9\nbaud = x\n", 22), 22);
	close(fd);
	assert_int_equal(config_load(&c, path, 0, &err), CONFIG_EVALUE);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, ":2: baud"));
	unlink(path);
}

/* "database" is the key; "db" (the README's old spelling, the only one
 * the espfab command used to read) is accepted with a warning naming the
 * line. */
static void test_config_db_old_name_warns(void **state)
{
	struct config c;
	struct config_err err;

	(void)state;
	assert_int_equal(parse(&c, "database = /srv/a.db\n", &err), 0);
	assert_string_equal(c.db_path, "/srv/a.db");
	assert_int_equal(c.nwarnings, 0);
	assert_int_equal(parse(&c, "# x\ndb = /srv/b.db\n", &err), 0);
	assert_string_equal(c.db_path, "/srv/b.db");
	assert_int_equal(c.nwarnings, 1);
	assert_string_equal(c.warnings[0], "espfabd.conf:2: 'db' is the old name of 'database' (accepted; rename it)");
	assert_int_equal(parse(&c, "db = relative.db\n", &err), CONFIG_EVALUE);
	assert_string_equal(err.msg, "espfabd.conf:1: db: expected an absolute path or a PostgreSQL URI (postgresql://, service=)");
}

/* config_read: defaults first, a named file must exist, old spellings come
 * back as warnings for the caller (espfab prints them, espfabd logs them). */
static void test_config_read_named_file(void **state)
{
	struct config c;
	char path[] = "/tmp/espfab-test-readXXXXXX";
	const char text[] = "db = /srv/old.db\nstation = line9\n";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(config_read(&c, path, "test"), CONFIG_OK);
	assert_string_equal(c.db_path, "/srv/old.db");
	assert_string_equal(c.station, "line9");
	assert_string_equal(c.socket_path, "/run/espfab/espfabd.sock"); /* the default, not the 0x5a fill */
	assert_int_equal(c.nwarnings, 1);
	unlink(path);
	assert_int_equal(config_read(&c, path, "test"), CONFIG_EIO);
	unlink(path);
}

static void test_config_outbox(void **state)
{
	struct config c;
	struct config_err err;

	(void)state;
	/* SQLite: never unreachable, no journal */
	assert_int_equal(parse(&c, "database = /var/lib/espfab/a.db\n", &err), 0);
	config_default_outbox(&c, "/var/lib/espfab");
	assert_string_equal(c.outbox_path, "");
	/* PostgreSQL: systemd's state directory (the first of several) */
	assert_int_equal(parse(&c, "database = service=espfab\n", &err), 0);
	config_default_outbox(&c, "/var/lib/espfab-l1:/var/lib/other");
	assert_string_equal(c.outbox_path, "/var/lib/espfab-l1/outbox.journal");
	/* without one: the default database's folder */
	assert_int_equal(parse(&c, "database = postgresql://line1@db/espfab\n", &err), 0);
	config_default_outbox(&c, NULL);
	assert_string_equal(c.outbox_path, "/var/lib/espfab/outbox.journal");
	/* given: kept */
	assert_int_equal(parse(&c, "database = service=espfab\noutbox = /srv/l1.journal\n", &err), 0);
	config_default_outbox(&c, "/var/lib/espfab");
	assert_string_equal(c.outbox_path, "/srv/l1.journal");
	assert_int_equal(parse(&c, "outbox = relative.journal\n", &err), CONFIG_EVALUE);
	assert_non_null(strstr(err.msg, "espfabd.conf:1: outbox: expected an absolute path"));
}

/* lease = N: off by default, 0..1000, anything else one line naming file:line. */
static void test_config_lease(void **state)
{
	struct config c;
	struct config_err err;
	static const char *const bad[] = {"lease = 1001\n", "lease = -1\n", "lease = many\n", "lease = 5x\n",
					  "lease =\n"};

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.lease, 0);
	assert_int_equal(parse(&c, "station = l1\nlease = 50\n", &err), 0);
	assert_int_equal(c.lease, 50);
	assert_int_equal(parse(&c, "lease = 1000\n", &err), 0);
	assert_int_equal(c.lease, 1000);
	assert_int_equal(parse(&c, "lease = 0\n", &err), 0);
	assert_int_equal(c.lease, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, bad[i], &err), CONFIG_EVALUE);
		assert_non_null(strstr(err.msg, "espfabd.conf:1: lease"));
		assert_null(strchr(err.msg, '\n'));
	}
	assert_int_equal(parse(&c, "baud = 115200\nlease = 2000\n", &err), CONFIG_EVALUE);
	assert_string_equal(err.msg, "espfabd.conf:2: lease: expected 0..1000 records");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_db_old_name_warns),
		cmocka_unit_test(test_config_full_file),
		cmocka_unit_test(test_config_errors_name_file_and_line),
		cmocka_unit_test(test_config_nul_and_long_lines),
		cmocka_unit_test(test_config_too_many_ports),
		cmocka_unit_test(test_config_load_missing),
		cmocka_unit_test(test_config_read_named_file),
		cmocka_unit_test(test_config_uplink),
		cmocka_unit_test(test_config_outbox),
		cmocka_unit_test(test_config_lease),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
