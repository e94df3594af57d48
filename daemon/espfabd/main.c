/* espfabd: the provisioning station daemon.
 *
 * The main thread owns the event loop (epoll + signalfd + timerfd), the
 * control socket and SQLite; one worker thread per port does the device work.
 * It never forks: systemd (Type=notify) or the operator's terminal
 * supervises it; --foreground is accepted for clarity.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>

#include "espfab/store.h"
#include "abspath.h"
#include "espfab/version.h"
#include "config.h"
#include "control.h"
#include "credential.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "ports.h"
#include "station.h"
#include "uplink.h"

struct daemon {
	struct config cfg;
	struct loop *loop;
	struct store *store;
	struct control *ctl;
	struct station *station;
	struct uplink *uplink;
	int sigfd, tfd;
	unsigned ticks;     /* whole seconds of station housekeeping */
	unsigned tick_ms;   /* timer period: 1 s, shorter if the watchdog needs it */
	unsigned elapsed_ms;
	int stopping;
	int argc;           /* the command line, read again on SIGHUP */
	char **argv;
};

static int parse_args(struct config *cfg, int argc, char **argv, int *check_only, int *debug);
static void reload(struct daemon *d);

static void usage(FILE *f)
{
	fprintf(f,
		"usage: espfabd [--foreground] [--config PATH] [--db PATH] [--socket PATH]\n"
		"               [--port PORT ...] [--before default_reset|usb_reset|no_reset] [--baud B]\n"
		"               [--station NAME] [--verify readback|md5] [--table-offset OFF]\n"
		"               [--autodiscover] [--debug] [--check-config] [--version]\n"
		"PORT is a device path (prefer /dev/serial/by-path/...) or socket://HOST:PORT,\n"
		"optionally NAME=PATH to name the fixture slot. See espfabd(8), espfabd.conf(5).\n"
		"defaults: --config %s, --db %s, --socket %s\n",
		CONFIG_DEFAULT_PATH, CONFIG_DEFAULT_DB, CONFIG_DEFAULT_SOCKET);
}

static void on_stopped(void *ctx)
{
	struct daemon *d = ctx;

	loop_quit(d->loop);
}

static void begin_stop(struct daemon *d, const char *why)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	log_info("%s: finishing in-flight devices (grace %us)", why, d->cfg.shutdown_grace_s);
	notify_stopping();
	station_stop(d->station);
}

static void signal_cb(void *ctx, int fd, uint32_t events)
{
	struct daemon *d = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			begin_stop(d, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		else if (si.ssi_signo == SIGHUP && !d->stopping)
			reload(d);
	}
}

static void discover(struct daemon *d)
{
	struct ports_found found[32];
	int n = ports_discover(found, 32);

	for (int i = 0; i < n; i++) {
		if (station_has_path(d->station, found[i].path))
			continue;
		station_add_discovered_port(d->station, found[i].name, found[i].path, 0,
					    found[i].usb_jtag ? (int)RESET_MODE_USB_JTAG : -1);
	}
}

static void timer_cb(void *ctx, int fd, uint32_t events)
{
	struct daemon *d = ctx;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	/* The loop itself pings: a wedged main thread stops the keep-alives
	 * and systemd restarts us. */
	notify_watchdog();
	d->elapsed_ms += d->tick_ms * (unsigned)n;
	if (d->elapsed_ms < 1000)
		return;
	d->elapsed_ms = 0;
	d->ticks++;
	station_tick(d->station);
	if (d->cfg.autodiscover && !d->stopping && d->ticks % 2 == 0)
		discover(d);
}

/* The configuration file, then the command line over it, into cfg. */
/* A path given on the command line, made absolute against the directory
 * espfabd was started in (abspath.h). A value that starts with '-' is taken
 * for a forgotten argument ("--db --socket x"), not a file to create. */
static int cli_path(const char *opt, const char *val, char *out, size_t cap)
{
	int e;

	if (!val[0]) {
		fprintf(stderr, "espfabd: %s: expected a path, got an empty value\n", opt);
		return -1;
	}
	if (val[0] == '-') {
		fprintf(stderr, "espfabd: %s: expected a path, got option-like '%s' (write ./%s for such a file)\n",
			opt, val, val);
		return -1;
	}
	e = abspath_make(val, out, cap);
	if (e) {
		fprintf(stderr, "espfabd: %s: %s: %s\n", opt, val,
			e == -ENAMETOOLONG ? "too long once made absolute" : strerror(-e));
		return -1;
	}
	return 0;
}

/* --port [NAME=]PATH */
static int opt_port(struct config *cfg, const char *arg)
{
	struct config_err err;
	char *eq = strchr(arg, '=');
	char name[CONFIG_NAME_MAX] = "", abs[CONFIG_PATH_MAX];
	const char *path = arg;
	if (eq && eq - arg < (long)sizeof(name) && strncmp(arg, "socket:", 7)) {
		memcpy(name, arg, (size_t)(eq - arg));
		name[eq - arg] = '\0';
		path = eq + 1;
	}
	/* "socket:" without "//" is a mistyped TCP port: left for
	 * config_add_port() to refuse, not made into a file path */
	if (strncmp(path, "socket:", 7)) {
		if (cli_path("--port", path, abs, sizeof(abs)))
			return 2;
		path = abs;
	}
	if (config_add_port(cfg, name[0] ? name : NULL, path, &err)) {
		fprintf(stderr, "espfabd: --port: %s\n", err.msg);
		return 2;
	}
	return 0;
}

/* One option of the second pass: 0, -1 (help or version shown: exit 0)
 * or 2 (a usage error, said on stderr). */
static int apply_option(struct config *cfg, int c, const char *arg, int *check_only, int *debug)
{
	switch (c) {
	case 'f':
	case 'c':
		break;
	case 'd':
		if (store_db_is_server(arg))
			snprintf(cfg->db_path, sizeof(cfg->db_path), "%s", arg); /* a URI: no path */
		else if (cli_path("--db", arg, cfg->db_path, sizeof(cfg->db_path)))
			return 2;
		break;
	case 's':
		if (cli_path("--socket", arg, cfg->socket_path, sizeof(cfg->socket_path)))
			return 2;
		if (strlen(cfg->socket_path) >= 108 /* sun_path */) {
			fprintf(stderr, "espfabd: --socket: %s: longer than 107 bytes (a socket's limit)\n",
				cfg->socket_path);
			return 2;
		}
		break;
	case 'p':
		return opt_port(cfg, arg);
	case 'B':
		if (reset_mode_parse(arg, &cfg->before)) {
			fprintf(stderr, "espfabd: --before: expected default_reset, usb_reset or no_reset\n");
			return 2;
		}
		break;
	case 'b':
		if (config_parse_baud(arg, &cfg->baud)) {
			fprintf(stderr, "espfabd: --baud: expected 300..4000000, got '%s'\n", arg);
			return 2;
		}
		break;
	case 'S':
		snprintf(cfg->station, sizeof(cfg->station), "%s", arg);
		break;
	case 'V':
		if (strcmp(arg, "readback") && strcmp(arg, "md5")) {
			fprintf(stderr, "espfabd: --verify: expected readback or md5\n");
			return 2;
		}
		cfg->verify_readback = !strcmp(arg, "readback");
		break;
	case 'T':
		if (config_parse_offset(arg, &cfg->table_offset)) {
			fprintf(stderr, "espfabd: --table-offset: expected a 4 KiB-aligned offset\n");
			return 2;
		}
		break;
	case 'A':
		cfg->autodiscover = 1;
		break;
	case 'D':
		*debug = 1;
		break;
	case 'C':
		*check_only = 1;
		break;
	case 'h':
		usage(stdout);
		return -1;
	case 'v':
		printf("espfabd %s\n", ESPFAB_VERSION);
		return -1;
	default:
		usage(stderr);
		return 2;
	}
	return 0;
}

static int parse_args(struct config *cfg, int argc, char **argv, int *check_only, int *debug)
{
	static const struct option opts[] = {
		{"foreground", no_argument, NULL, 'f'}, {"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, 'd'},	{"socket", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 'p'}, {"before", required_argument, NULL, 'B'},
		{"baud", required_argument, NULL, 'b'}, {"station", required_argument, NULL, 'S'},
		{"verify", required_argument, NULL, 'V'}, {"table-offset", required_argument, NULL, 'T'},
		{"autodiscover", no_argument, NULL, 'A'}, {"debug", no_argument, NULL, 'D'},
		{"check-config", no_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},	{NULL, 0, NULL, 0},
	};
	const char *config_path = CONFIG_DEFAULT_PATH;
	int explicit_config = 0, c;

	/* First pass: only --config, so the file is read before the other
	 * options override it. optind 0: a full restart of getopt (a reload
	 * parses the same command line again). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (c == 'c') {
			config_path = optarg;
			explicit_config = 1;
		}
	if (config_read(cfg, explicit_config ? config_path : NULL, "espfabd"))
		return 2;
	optind = 0;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int rc = apply_option(cfg, c, optarg, check_only, debug);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "espfabd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	config_default_outbox(cfg, getenv("STATE_DIRECTORY"));
	return 0;
}

/* SIGHUP: the configuration file and the command line are read again, as
 * at startup. Ports follow it (station_reload); what else changed needs a
 * restart, and the log says so. A file that does not parse changes nothing. */
static void reload(struct daemon *d)
{
	static struct config fresh; /* large: not on the stack */
	struct config old_rest, new_rest;
	int check_only = 0, debug = 0;

	log_info("SIGHUP: reading the configuration again");
	if (parse_args(&fresh, d->argc, d->argv, &check_only, &debug)) {
		log_error("reload: the configuration has errors (above): nothing changed");
		return;
	}
	for (unsigned i = 0; i < fresh.nwarnings; i++)
		log_warn("%s", fresh.warnings[i]);
	old_rest = d->cfg;
	new_rest = fresh;
	old_rest.nports = new_rest.nports = 0;
	memset(old_rest.ports, 0, sizeof(old_rest.ports));
	memset(new_rest.ports, 0, sizeof(new_rest.ports));
	old_rest.lease = new_rest.lease; /* applied below */
	old_rest.nwarnings = new_rest.nwarnings = 0;
	memset(old_rest.warnings, 0, sizeof(old_rest.warnings));
	memset(new_rest.warnings, 0, sizeof(new_rest.warnings));
	if (memcmp(&old_rest, &new_rest, sizeof(old_rest)))
		log_warn("reload: only ports are applied; the other changes take effect at the next restart");
	station_reload(d->station, &fresh);
	station_lease_set(d->station, fresh.lease, "lease set to 0");
	d->cfg.lease = fresh.lease;
	d->cfg.nports = fresh.nports;
	memcpy(d->cfg.ports, fresh.ports, sizeof(fresh.ports));
}

/* The database unreachable at startup (a PostgreSQL server down or
 * restarting): wait for it, 1 s, then twice as long each time, at most
 * 30 s, or until a signal says stop (SIGHUP is not one). 0 to try again,
 * -1 to stop. */
static int startup_wait(const sigset_t *mask, unsigned *wait_ms)
{
	struct timespec ts;
	siginfo_t si;

	*wait_ms = !*wait_ms ? 1000 : *wait_ms * 2 > 30000 ? 30000 : *wait_ms * 2;
	ts.tv_sec = *wait_ms / 1000;
	ts.tv_nsec = (long)(*wait_ms % 1000) * 1000000L;
	notify_status("waiting for the database (next try in %u ms)", *wait_ms);
	if (sigtimedwait(mask, &si, &ts) >= 0 && si.si_signo != SIGHUP)
		return -1;
	return 0;
}

/* Opens the store, waiting for a database server that is not there yet. */
static int start_store(struct daemon *d, const uint8_t *key, const sigset_t *mask)
{
	struct store_err serr;
	unsigned wait_ms = 0;
	int r;

	while ((r = store_open(&d->store, d->cfg.db_path, STORE_OPEN_CREATE, key, &serr)) == STORE_EOFFLINE) {
		if (!wait_ms)
			log_error("%s; waiting for the database before anything else", serr.msg);
		if (startup_wait(mask, &wait_ms))
			return -1;
	}
	if (r) {
		fprintf(stderr, "espfabd: %s: %s\n", d->cfg.db_path, serr.msg);
		return -1;
	}
	if (wait_ms)
		log_msg(LOG_NOTICE, NULL, "database reachable: starting");
	return 0;
}

/* Before any device is touched: the results a previous run held in its
 * outbox journal reach the store first (their jobs are still open), then
 * the jobs that run left open (kill -9, power loss) are settled. */
static int settle_store(struct daemon *d, const sigset_t *mask)
{
	struct store_recovery rep = {0};
	struct store_err serr;
	unsigned wait_ms = 0;
	size_t left;

	while ((left = station_deliver_held(d->station)) != 0) {
		if (!wait_ms)
			log_error("%zu held results of the last run wait for the database; recovery waits for them", left);
		if (startup_wait(mask, &wait_ms))
			return -1;
	}
	if (store_recover(d->store, d->cfg.station, &rep, &serr)) {
		fprintf(stderr, "espfabd: recovery: %s\n", serr.msg);
		return -1;
	}
	if (rep.released || rep.interrupted)
		log_warn("recovered %u unsent job(s) (records back to available) and %u interrupted one(s) "
			 "(records stay bound to their MAC)",
			 rep.released, rep.interrupted);
	/* lease = 0: a lease an earlier run left is given back now. */
	station_lease_set(d->station, d->cfg.lease, "lease = 0 at startup");
	return 0;
}

/* The event loop, with the signals and the tick timer on it. */
static int start_loop(struct daemon *d, const sigset_t *mask)
{
	struct itimerspec its;
	uint64_t wd;

	if (loop_new(&d->loop)) {
		fprintf(stderr, "espfabd: cannot create the event loop\n");
		return -1;
	}
	/* Keep-alives at half of WatchdogSec= (systemd's advice), at least
	 * every second; the station's housekeeping stays once a second. */
	wd = notify_watchdog_period_ms();
	d->tick_ms = wd && wd < 1000 ? (wd < 10 ? 10 : (unsigned)wd) : 1000;
	its.it_interval.tv_sec = d->tick_ms / 1000;
	its.it_interval.tv_nsec = (long)(d->tick_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	d->sigfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->sigfd < 0 || d->tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL) ||
	    loop_add(d->loop, d->sigfd, EPOLLIN, signal_cb, d) || loop_add(d->loop, d->tfd, EPOLLIN, timer_cb, d)) {
		fprintf(stderr, "espfabd: cannot set up signals and timers: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int start_station(struct daemon *d)
{
	struct station_opts so = {0};
	char msg[256];

	so.cfg = &d->cfg;
	so.loop = d->loop;
	so.store = d->store;
	so.verify_readback = d->cfg.verify_readback;
	so.table_offset = d->cfg.table_offset;
	so.shutdown_grace_ms = d->cfg.shutdown_grace_s * 1000u;
	so.on_stopped = on_stopped;
	so.ctx = d;
	if (station_new(&so, &d->station, msg, sizeof(msg))) {
		fprintf(stderr, "espfabd: %s\n", msg);
		return -1;
	}
	return 0;
}

/* The control socket: systemd's (espfabd.socket) if it passed one. */
static int start_control(struct daemon *d)
{
	struct control_opts co = {0};
	struct control_err cerr;

	co.path = d->cfg.socket_path;
	co.listen_fd = -1;
	if (sd_listen_fds(1) == 1)
		co.listen_fd = SD_LISTEN_FDS_START; /* espfabd.socket */
	co.group = d->cfg.group;
	co.max_clients = d->cfg.max_clients;
	co.handler = station_handle_request;
	co.ctx = d->station;
	if (control_new(d->loop, &co, &d->ctl, &cerr)) {
		fprintf(stderr, "espfabd: %s\n", cerr.msg);
		return -1;
	}
	station_set_control(d->station, d->ctl);
	return 0;
}

/* The uplink; the token is wiped once it has its copy. */
static int start_uplink(struct daemon *d)
{
	struct uplink_cfg uc = {.url = d->cfg.uplink_url, .db_path = d->cfg.db_path, .station = d->cfg.station};
	char tok[512], msg[256];
	int r;

	if (credential_uplink_token(&d->cfg, tok, sizeof(tok)))
		return -1;
	uc.token = tok[0] ? tok : NULL;
	r = uplink_start(&uc, &d->uplink, msg, sizeof(msg));
	OPENSSL_cleanse(tok, sizeof(tok));
	if (r) {
		fprintf(stderr, "espfabd: %s\n", msg);
		return -1;
	}
	station_set_uplink(d->station, d->uplink);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d;
	uint8_t key[STORE_SEAL_KEY_LEN];
	sigset_t mask;
	int rc = 1, check_only = 0, debug = 0, have_key = 0, r;

	memset(&d, 0, sizeof(d));
	d.sigfd = d.tfd = -1;
	d.argc = argc;
	d.argv = argv;
	r = parse_args(&d.cfg, argc, argv, &check_only, &debug);
	if (r)
		return r < 0 ? 0 : r;
	if (check_only) {
		for (unsigned i = 0; i < d.cfg.nwarnings; i++)
			fprintf(stderr, "espfabd: warning: %s\n", d.cfg.warnings[i]);
		printf("espfabd: configuration OK (%zu ports, database %s, socket %s)\n", d.cfg.nports, d.cfg.db_path,
		       d.cfg.socket_path);
		return 0;
	}
	log_init("espfabd", 0);
	for (unsigned i = 0; i < d.cfg.nwarnings; i++)
		log_warn("%s", d.cfg.warnings[i]);
	if (debug)
		log_set_level(LOG_DEBUG);
	if (!d.cfg.nports && !d.cfg.autodiscover)
		log_warn("no ports configured and autodiscover off: nothing will be provisioned");

	/* Signals become file descriptor events; workers inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (start_loop(&d, &mask))
		goto out;

	if (credential_seal_key(&d.cfg, key, &have_key))
		goto out;
	if (start_store(&d, have_key ? key : NULL, &mask))
		goto out;
	if (start_station(&d))
		goto out;
	if (settle_store(&d, &mask))
		goto out;

	if (start_control(&d))
		goto out;

	if (d.cfg.uplink_url[0] && start_uplink(&d))
		goto out;

	for (size_t i = 0; i < d.cfg.nports; i++) {
		const struct config_port *p = &d.cfg.ports[i];
		if (station_add_port(d.station, p->name, p->path, p->baud, p->before))
			log_error("port %s: cannot start its worker", p->name);
	}
	if (d.cfg.autodiscover)
		discover(&d);

	log_info("station %s ready: %zu port(s), database %s, socket %s", d.cfg.station, d.cfg.nports,
		 d.cfg.db_path, d.cfg.socket_path);
	notify_ready();
	notify_status("ready: %zu ports", d.cfg.nports);
	if (loop_run(d.loop) < 0) {
		log_error("event loop failed: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	station_set_control(d.station, NULL);
	control_free(d.ctl);
	station_free(d.station); /* joins workers; their last results reach the audit */
	uplink_free(d.uplink);   /* what it has not delivered waits in the audit */
	store_close(d.store);    /* checkpoints the WAL: the audit is on disk */
	if (d.tfd >= 0)
		close(d.tfd);
	if (d.sigfd >= 0)
		close(d.sigfd);
	loop_free(d.loop);
	OPENSSL_cleanse(key, sizeof(key));
	if (!rc)
		log_info("stopped cleanly");
	return rc;
}
