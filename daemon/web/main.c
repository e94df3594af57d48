/* espfab-web: the operator's screen. A client of espfabd's control socket
 * that serves a live station page to browsers on the line (see espfab-web(8)
 * and docs/web.md). It opens no database and no serial port. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "espfab/version.h"
#include "config.h"
#include "log.h"
#include "wfeed.h"
#include "whttp.h"
#include "whub.h"
#include "wmodel.h"
#include "wreq.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"

struct web {
	struct wmodel *model;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: espfab-web [--listen HOST:PORT] [--socket PATH] [--config PATH]\n"
		   "                  [--token-file PATH] [--retry-ms MS] [--keepalive-ms MS] [--debug] [--version]\n"
		   "Serves the station's live page (default http://" DEFAULT_LISTEN "/), fed by espfabd's\n"
		   "control socket. Read-only unless --token-file names the operator token. See espfab-web(8).\n");
}

static json_t *render(void *ctx)
{
	struct web *w = ctx;

	return wmodel_state(w->model, time(NULL));
}

/* The token file must not be readable by others: it is the operator's key. */
static int load_token(const char *path, char *out, size_t cap)
{
	char buf[WREQ_TOKEN_MAX + 8], msg[160];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0) {
		fprintf(stderr, "espfab-web: --token-file %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || (st.st_mode & 0077)) {
		fprintf(stderr, "espfab-web: --token-file %s: readable by group or others (chmod 600 it)\n", path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, "espfab-web: --token-file %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (wreq_token_parse(buf, (size_t)n, out, cap, msg, sizeof(msg))) {
		fprintf(stderr, "espfab-web: --token-file %s: %s\n", path, msg);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

static int parse_ms(const char *opt, const char *s, int *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < 10 || v > 600000) {
		fprintf(stderr, "espfab-web: %s: expected milliseconds from 10 to 600000, got '%.40s'\n", opt, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

struct web_args {
	const char *listen, *sock, *cfgpath, *tokfile;
	int retry_ms, keepalive_ms, debug;
};

/* -1 to go on, or the exit status (after --help: 0). */
static int web_parse_args(int argc, char **argv, struct web_args *a)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},     {"socket", required_argument, NULL, 's'},
		{"config", required_argument, NULL, 'c'},     {"token-file", required_argument, NULL, 't'},
		{"retry-ms", required_argument, NULL, 'r'},   {"keepalive-ms", required_argument, NULL, 'k'},
		{"debug", no_argument, NULL, 'd'},	      {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			a->listen = optarg;
			break;
		case 's':
			a->sock = optarg;
			break;
		case 'c':
			a->cfgpath = optarg;
			break;
		case 't':
			a->tokfile = optarg;
			break;
		case 'r':
			if (parse_ms("--retry-ms", optarg, &a->retry_ms))
				return 2;
			break;
		case 'k':
			if (parse_ms("--keepalive-ms", optarg, &a->keepalive_ms))
				return 2;
			break;
		case 'd':
			a->debug = 1;
			break;
		case 'V':
			printf("espfab-web %s\n", ESPFAB_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espfab-web: unexpected argument '%.60s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The real port (for :0) on one line a script can read. */
static void web_announce(const struct web_args *a, const struct whttp *http, const char *sock)
{
	char host[64];
	const char *colon = a->listen[0] == '[' ? strchr(a->listen, ']') + 1 : strrchr(a->listen, ':');

	snprintf(host, sizeof(host), "%.*s", (int)(colon - a->listen), a->listen);
	printf("espfab-web: serving http://%s:%u/ for espfabd at %s (%s)\n", host, whttp_port(http), sock,
	       a->tokfile ? "operator actions with a token" : "read-only");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct web_args a = {.listen = DEFAULT_LISTEN, .retry_ms = 1000, .keepalive_ms = 10000};
	const char *listen, *sock, *tokfile;
	char token[WREQ_TOKEN_MAX + 1] = "", msg[320];
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	struct web w = {0};
	struct whub *hub = NULL;
	struct wfeed *feed = NULL;
	struct whttp *http = NULL;
	struct whttp_err herr;
	struct config cfg;
	int rc = web_parse_args(argc, argv, &a), retry_ms, keepalive_ms;
	sigset_t mask;

	if (rc >= 0)
		return rc;
	rc = 1;
	listen = a.listen;
	sock = a.sock;
	tokfile = a.tokfile;
	retry_ms = a.retry_ms;
	keepalive_ms = a.keepalive_ms;
	if (wreq_listen_parse(listen, &sa, &salen, msg, sizeof(msg))) {
		fprintf(stderr, "espfab-web: --listen: %s\n", msg);
		return 2;
	}
	if (!sock) {
		/* Where the daemon's configuration puts its socket. */
		if (config_read(&cfg, a.cfgpath, "espfab-web"))
			return 2;
		sock = cfg.socket_path;
	}
	if (tokfile && load_token(tokfile, token, sizeof(token)))
		return 2;
	log_init("espfab-web", 0);
	if (a.debug)
		log_set_level(LOG_DEBUG);
	if (wmodel_new(&w.model) || whub_new(4096, render, &w, &hub)) {
		fprintf(stderr, "espfab-web: out of memory\n");
		goto out;
	}
	/* What the page needs to know of this server, in every state. */
	wmodel_set_extra(w.model, json_pack("{s:b, s:i}", "operator", token[0] != '\0', "keepalive_ms", keepalive_ms));
	/* Signals are taken by sigwait below, not by whichever thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (wfeed_start(&(struct wfeed_opts){.socket_path = sock, .retry_ms = retry_ms}, w.model, hub, &feed)) {
		fprintf(stderr, "espfab-web: cannot start the feed thread\n");
		goto out;
	}
	if (whttp_start(&(struct whttp_opts){.addr = (struct sockaddr *)&sa, .addrlen = salen,
					     .token = token[0] ? token : NULL, .socket_path = sock, .hub = hub,
					     .keepalive_ms = keepalive_ms},
			&http, &herr)) {
		fprintf(stderr, "espfab-web: --listen %s: %s\n", listen, herr.msg);
		goto out;
	}
	explicit_bzero(token, sizeof(token));
	web_announce(&a, http, sock);
	{
		int sig = 0;
		sigwait(&mask, &sig);
		log_msg(LOG_INFO, NULL, "signal %d: stopping", sig);
	}
	rc = 0;
out:
	explicit_bzero(token, sizeof(token));
	whttp_stop(http);
	wfeed_stop(feed);
	whub_free(hub);
	wmodel_free(w.model);
	return rc;
}
