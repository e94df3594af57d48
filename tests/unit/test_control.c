/* Unit tests of the control socket: framing, limits, credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "log.h"

struct fixture {
	struct loop *loop;
	struct control *ctl;
	char dir[64];
	char path[128];
	int calls;
	enum ctl_op last_op;
};

static void handler(void *ctx, struct control_client *cl, const struct ctl_request *req)
{
	struct fixture *f = ctx;

	f->calls++;
	f->last_op = req->op;
	if (req->op != CTL_OP_SUBSCRIBE)
		control_reply(cl, req->id, json_pack("{s:s}", "op", ctl_op_name(req->op)));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct control_opts o = {0};
	struct control_err err;

	log_init("test", 1);
	log_set_level(LOG_ERR);
	snprintf(f->dir, sizeof(f->dir), "/tmp/espfab-ctlXXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s.sock", f->dir);
	assert_int_equal(loop_new(&f->loop), 0);
	o.path = f->path;
	o.listen_fd = -1;
	o.group = "espfab-no-such-group";
	o.max_clients = 3;
	o.handler = handler;
	o.ctx = f;
	assert_int_equal(control_new(f->loop, &o, &f->ctl, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	control_free(f->ctl);
	loop_free(f->loop);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int adopt_pair(struct fixture *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(control_adopt(f->ctl, sv[1]), 0);
	return sv[0];
}

static void pump(struct fixture *f)
{
	for (int i = 0; i < 20; i++)
		if (loop_run_once(f->loop, i < 3 ? 10 : 0) == 0 && i > 2)
			break;
}

/* Read one line (up to '\n') from fd; "" on EOF. */
static char *read_line(struct fixture *f, int fd)
{
	static char buf[4096];
	size_t n = 0;

	while (n + 1 < sizeof(buf)) {
		ssize_t r = recv(fd, buf + n, 1, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r < 0) {
			pump(f);
			continue;
		}
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return buf;
}

static void test_control_peer_allowed(void **state)
{
	gid_t groups[] = {20, 1001};

	(void)state;
	assert_true(control_peer_allowed(0, 0, NULL, 0, 500, 1001, 1));
	assert_true(control_peer_allowed(500, 500, NULL, 0, 500, 1001, 1));
	assert_true(control_peer_allowed(600, 600, groups, 2, 500, 1001, 1));
	assert_true(control_peer_allowed(600, 1001, NULL, 0, 500, 1001, 1));
	assert_false(control_peer_allowed(600, 600, groups, 1, 500, 1001, 1));
	/* Without the group, membership means nothing. */
	assert_false(control_peer_allowed(600, 1001, groups, 2, 500, 1001, 0));
}

static void test_control_request_reply(void **state)
{
	struct fixture *f = *state;
	int fd = adopt_pair(f);
	const char *req = "{\"v\":1,\"id\":\"x\",\"op\":\"status\"}\n";

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	assert_string_equal(read_line(f, fd), "{\"v\":1,\"id\":\"x\",\"ok\":true,\"result\":{\"op\":\"status\"}}\n");
	assert_int_equal(f->calls, 1);
	close(fd);
	pump(f);
	assert_int_equal(control_nclients(f->ctl), 0);
}

static void test_control_malformed_keeps_client(void **state)
{
	struct fixture *f = *state;
	int fd = adopt_pair(f);
	const char *bad = "this is not json\n{\"op\":\"status\",\"id\":4}\n";
	const char *good = "{\"v\":1,\"id\":2,\"op\":\"batch.list\"}\r\n";
	char *l;

	assert_int_equal(send(fd, bad, strlen(bad), 0), (ssize_t)strlen(bad));
	l = read_line(f, fd);
	assert_non_null(strstr(l, "\"ok\":false"));
	assert_non_null(strstr(l, "\"code\":\"malformed\""));
	l = read_line(f, fd);
	assert_non_null(strstr(l, "\"id\":4"));
	assert_non_null(strstr(l, "\"code\":\"version\""));
	assert_int_equal(f->calls, 0);
	assert_int_equal(send(fd, good, strlen(good), 0), (ssize_t)strlen(good));
	l = read_line(f, fd);
	assert_string_equal(l, "{\"v\":1,\"id\":2,\"ok\":true,\"result\":{\"op\":\"batch.list\"}}\n");
	assert_int_equal(f->last_op, CTL_OP_BATCH_LIST);
	close(fd);
}

static void test_control_oversized_disconnects(void **state)
{
	struct fixture *f = *state;
	int fd = adopt_pair(f);
	size_t n = CTL_MAX_LINE + 100, off = 0;
	char *big = malloc(n);
	char *l;

	memset(big, 'a', n);
	while (off < n) {
		ssize_t w = send(fd, big + off, n - off, MSG_DONTWAIT);
		if (w > 0)
			off += (size_t)w;
		pump(f);
	}
	l = read_line(f, fd);
	assert_non_null(strstr(l, "\"code\":\"too_long\""));
	assert_string_equal(read_line(f, fd), ""); /* then EOF */
	assert_int_equal(f->calls, 0);
	assert_int_equal(control_nclients(f->ctl), 0);
	free(big);
	close(fd);
}

static void test_control_max_clients(void **state)
{
	struct fixture *f = *state;
	int fds[4], sv[2];
	const char *req = "{\"v\":1,\"id\":1,\"op\":\"status\"}\n";

	for (int i = 0; i < 3; i++)
		fds[i] = adopt_pair(f);
	/* The refused client already wrote its request and shut its side (as
	 * `printf ... | socat` does): it must still get the reason. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(send(sv[0], req, strlen(req), 0), (ssize_t)strlen(req));
	shutdown(sv[0], SHUT_WR);
	assert_int_equal(control_adopt(f->ctl, sv[1]), 0);
	fds[3] = sv[0];
	assert_non_null(strstr(read_line(f, fds[3]), "\"code\":\"busy\""));
	assert_string_equal(read_line(f, fds[3]), "");
	assert_int_equal(control_nclients(f->ctl), 3);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	pump(f);
	assert_int_equal(control_nclients(f->ctl), 0);
}

static void test_control_subscribe_broadcast(void **state)
{
	struct fixture *f = *state;
	int a = adopt_pair(f), b = adopt_pair(f);
	const char *sub = "{\"v\":1,\"id\":1,\"op\":\"subscribe\"}\n";

	assert_int_equal(send(a, sub, strlen(sub), 0), (ssize_t)strlen(sub));
	assert_string_equal(read_line(f, a), "{\"v\":1,\"id\":1,\"ok\":true,\"result\":{\"subscribed\":true}}\n");
	control_broadcast(f->ctl, json_pack("{s:s,s:s}", "event", "result", "port", "slot1"));
	assert_string_equal(read_line(f, a), "{\"event\":\"result\",\"port\":\"slot1\",\"v\":1}\n");
	assert_int_equal(recv(b, (char[8]){0}, 8, MSG_DONTWAIT), -1);
	close(a);
	close(b);
}

static void test_control_second_instance_refused(void **state)
{
	struct fixture *f = *state;
	struct control *c2 = NULL;
	struct control_opts o = {.path = f->path, .listen_fd = -1, .max_clients = 1};
	struct control_err err;
	struct stat st;

	assert_int_equal(control_new(f->loop, &o, &c2, &err), CONTROL_EBUSY);
	assert_null(c2);
	assert_non_null(strstr(err.msg, "another espfabd is already listening"));
	/* The live socket is untouched. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
}

static void test_control_stale_socket_replaced(void **state)
{
	struct fixture *f = *state;
	struct control *c2 = NULL;
	char path[160];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct control_opts o = {.path = path, .listen_fd = -1, .max_clients = 1};
	struct control_err err;
	int fd;

	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	/* A socket file nobody listens on: what a kill -9 leaves behind. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(control_new(f->loop, &o, &c2, &err), 0);
	control_free(c2);
	assert_int_equal(access(path, F_OK), -1);
}

/* A client that is neither root, nor us, nor in the group gets one "denied"
 * line and is disconnected (runs only as root: it needs to become nobody). */
static void test_control_denied_peer(void **state)
{
	struct fixture *f = *state;
	pid_t pid;
	int status = -1;

	if (geteuid() != 0) {
		skip();
		return;
	}
	chmod(f->dir, 0755);
	chmod(f->path, 0666); /* let the kernel pass it: we test our own check */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		char buf[512] = "";
		ssize_t n = 0, r;
		int fd;
		if (setgid(65534) || setuid(65534))
			_exit(10);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(11);
		/* The daemon may already have refused and closed: a failed send is fine. */
		(void)!send(fd, "{\"v\":1,\"id\":1,\"op\":\"status\"}\n", 29, MSG_NOSIGNAL);
		while ((r = recv(fd, buf + n, sizeof(buf) - 1 - (size_t)n, 0)) > 0)
			n += r;
		buf[n] = '\0';
		_exit(strstr(buf, "\"code\":\"denied\"") && !strstr(buf, "\"ok\":true") ? 0 : 13);
	}
	for (int i = 0; i < 300; i++) {
		pump(f);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(f->calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_peer_allowed),
		cmocka_unit_test_setup_teardown(test_control_request_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_malformed_keeps_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_oversized_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_max_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_subscribe_broadcast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_second_instance_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_stale_socket_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_denied_peer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
