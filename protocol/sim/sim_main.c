/* espfab-sim: the virtual ESP32 served on a pseudo-terminal or a TCP port.
 *
 * The device engine runs on CLOCK_MONOTONIC: bytes leave for the host at the
 * time the modelled UART has shifted them out, so a client sees the same
 * latencies as on a real chip at that baud rate.
 *
 * A pty has no modem lines (TIOCMSET fails on it) and TCP has none either, so
 * the device starts in download mode and stays there; FLASH_END still leaves
 * the loader as the ROM does. A new client (the first open of the pty after
 * every client closed it, or a new TCP connection), or SIGUSR1, power-cycles
 * the chip back into download mode at the ROM's baud rate, as opening a real
 * USB-UART bridge usually does through DTR/RTS.
 *
 * New pty clients are seen through inotify on the slave node, not by
 * sampling the master's POLLHUP: a client that closes and reopens within
 * microseconds (flashop's hard reset, then the next job) never lets the
 * master show a hang-up, but the kernel queues IN_CLOSE and IN_OPEN for it
 * before the client's first byte can reach us.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "espfab/version.h"
#include "espfab/simdev.h"

#define OUT_MAX 65536

static volatile sig_atomic_t stop_sig;
static volatile sig_atomic_t usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		usr1 = 1;
	else
		stop_sig = sig;
}

struct opts {
	struct simdev_config cfg;
	const char *link;
	const char *flash_path;
	const char *efuse_path; /* --efuse, else FLASH.efuse beside --flash */
	int tcp_port; /* -1: pty */
	int verbose;
};

struct server {
	struct simdev *dev;
	int master;          /* pty */
	int pty_idle;        /* no client has the slave open (POLLHUP) */
	int ino_fd;          /* inotify on the slave node; -1: sample POLLHUP */
	int pty_closed;      /* a client closed the slave since this session began */
	int listen_fd, conn; /* tcp */
	uint64_t t0;
	uint8_t out[OUT_MAX];
	size_t out_len;
	unsigned long long out_dropped;
	char slave_path[128];
	int link_made;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: espfab-sim [--chip esp32|esp32s2|esp32s3|esp32c2|esp32c3|esp32c6|esp32h2]\n"
		"                  [--link PATH | --tcp PORT]\n"
		"                  [--flash FILE] [--flash-size SIZE] [--mac MAC] [--baud B]\n"
		"                  [--no-timing] [--erase-ms MS] [--program-us US]\n"
		"                  [--drop-after N] [--corrupt-rate P] [--seed S] [--garbage]\n"
		"                  [--usb-jtag [--wdt-ms MS]] [--secure-download] [--secure-boot]\n"
		"                  [--flash-crypt-cnt N] [--strap-broken] [--efuse FILE] [--verbose] [--version]\n"
		"Serves a virtual ESP32 ROM serial loader on a new pty (first output line:\n"
		"its path) or on 127.0.0.1:PORT (first line: socket://127.0.0.1:PORT;\n"
		"--tcp 0 picks a free port). SIGTERM/SIGINT/SIGHUP and the death of its\n"
		"parent stop it; SIGUSR1 re-enters\n"
		"download mode. --usb-jtag (S3, C3, C6, H2): the ROM reports its USB-Serial/JTAG\n"
		"console and the RTC/super watchdogs reset the chip (into the app) MS ms after\n"
		"each boot unless the client disables them as esptool does (default 2000).\n"
		"--secure-download (S2 and later): register, MD5 and flash reads are refused.\n"
		"--flash-crypt-cnt N: the FLASH_CRYPT_CNT eFuse (odd bit count = flash\n"
		"encryption on), reported by GET_SECURITY_INFO or, on the ESP32, its eFuses.\n"
		"--strap-broken: IO0 is never low at reset: every reset boots the application.\n"
		"--efuse FILE (C3, C6, H2, S3): the eFuses live in FILE (default FLASH.efuse\n"
		"beside --flash; without either they last as long as the process).\n");
}

static int parse_ull(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "espfab-sim: %s: invalid value '%s' (0..%llu)\n", opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "chip", required_argument, NULL, 'c' },
		{ "link", required_argument, NULL, 'l' },
		{ "tcp", required_argument, NULL, 't' },
		{ "flash", required_argument, NULL, 'f' },
		{ "flash-size", required_argument, NULL, 's' },
		{ "mac", required_argument, NULL, 'm' },
		{ "baud", required_argument, NULL, 'b' },
		{ "no-timing", no_argument, NULL, 'N' },
		{ "erase-ms", required_argument, NULL, 'E' },
		{ "program-us", required_argument, NULL, 'P' },
		{ "drop-after", required_argument, NULL, 'D' },
		{ "corrupt-rate", required_argument, NULL, 'C' },
		{ "seed", required_argument, NULL, 'S' },
		{ "garbage", no_argument, NULL, 'G' },
		{ "usb-jtag", no_argument, NULL, 'U' },
		{ "wdt-ms", required_argument, NULL, 'W' },
		{ "secure-download", no_argument, NULL, 'Z' },
		{ "strap-broken", no_argument, NULL, 'X' },
		{ "efuse", required_argument, NULL, 'F' },
		{ "secure-boot", no_argument, NULL, 'B' },
		{ "flash-crypt-cnt", required_argument, NULL, 'K' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	simdev_config_default(&o->cfg);
	o->cfg.start_in_download = 1;
	o->link = NULL;
	o->flash_path = NULL;
	o->efuse_path = NULL;
	o->tcp_port = -1;
	o->verbose = 0;
	opterr = 0; /* our own one-line message */
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (simdev_chip_parse(optarg, &o->cfg.chip)) {
				fprintf(stderr,
					"espfab-sim: --chip: unknown chip '%s' (esp32, esp32s2, esp32s3, esp32c2, esp32c3, "
					"esp32c6, esp32h2)\n", optarg);
				return -1;
			}
			break;
		case 'Z':
			o->cfg.security_flags |= SIMDEV_SEC_SECURE_DOWNLOAD;
			break;
		case 'X':
			o->cfg.strap_broken = 1;
			break;
		case 'B':
			o->cfg.security_flags |= SIMDEV_SEC_SECURE_BOOT;
			break;
		case 'K':
			if (parse_ull("--flash-crypt-cnt", optarg, 255, &v))
				return -1;
			o->cfg.flash_crypt_cnt = (uint8_t)v;
			break;
		case 'l':
			o->link = optarg;
			break;
		case 't':
			if (parse_ull("--tcp", optarg, 65535, &v))
				return -1;
			o->tcp_port = (int)v;
			break;
		case 'f':
			o->flash_path = optarg;
			break;
		case 'F':
			o->efuse_path = optarg;
			break;
		case 's':
			if (simdev_size_parse(optarg, &o->cfg.flash_size)) {
				fprintf(stderr, "espfab-sim: --flash-size: invalid size '%s' (e.g. 4MB)\n", optarg);
				return -1;
			}
			break;
		case 'm':
			if (simdev_mac_parse(optarg, o->cfg.mac)) {
				fprintf(stderr, "espfab-sim: --mac: invalid MAC '%s' (aa:bb:cc:dd:ee:ff)\n", optarg);
				return -1;
			}
			break;
		case 'b':
			if (parse_ull("--baud", optarg, 5000000, &v))
				return -1;
			o->cfg.baud = (uint32_t)v;
			break;
		case 'N':
			o->cfg.timing = 0;
			break;
		case 'E':
			if (parse_ull("--erase-ms", optarg, 100000, &v))
				return -1;
			o->cfg.erase_ms = (uint32_t)v;
			break;
		case 'P':
			if (parse_ull("--program-us", optarg, 10000000, &v))
				return -1;
			o->cfg.program_us = (uint32_t)v;
			break;
		case 'D':
			if (parse_ull("--drop-after", optarg, 1ull << 40, &v))
				return -1;
			o->cfg.drop_after = (long long)v;
			break;
		case 'C': {
			char *end = NULL;
			double p;

			errno = 0;
			p = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(p >= 0 && p <= 1)) {
				fprintf(stderr, "espfab-sim: --corrupt-rate: invalid probability '%s' (0..1)\n", optarg);
				return -1;
			}
			o->cfg.corrupt_rate = p;
			break;
		}
		case 'S':
			if (parse_ull("--seed", optarg, UINT64_MAX, &v))
				return -1;
			o->cfg.seed = v;
			break;
		case 'G':
			o->cfg.garbage = 1;
			break;
		case 'U':
			o->cfg.usb_jtag = 1;
			break;
		case 'W':
			if (parse_ull("--wdt-ms", optarg, 3600000, &v))
				return -1;
			o->cfg.wdt_ms = (uint32_t)v;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			printf("espfab-sim %s\n", ESPFAB_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "espfab-sim: bad option or missing value: '%s' (see --help)\n",
				argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "espfab-sim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (o->link && o->tcp_port >= 0) {
		fprintf(stderr, "espfab-sim: --link and --tcp exclude each other\n");
		return -1;
	}
	return 0;
}

static uint32_t speed_to_baud(speed_t s)
{
	static const struct {
		speed_t s;
		uint32_t b;
	} t[] = {
		{ B300, 300 }, { B600, 600 }, { B1200, 1200 }, { B2400, 2400 }, { B4800, 4800 },
		{ B9600, 9600 }, { B19200, 19200 }, { B38400, 38400 }, { B57600, 57600 },
		{ B115200, 115200 }, { B230400, 230400 }, { B460800, 460800 }, { B500000, 500000 },
		{ B576000, 576000 }, { B921600, 921600 }, { B1000000, 1000000 }, { B1152000, 1152000 },
		{ B1500000, 1500000 }, { B2000000, 2000000 }, { B2500000, 2500000 }, { B3000000, 3000000 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].s == s)
			return t[i].b;
	return 0; /* BOTHER or unknown: treat as matching the device */
}

static int open_pty(struct server *s, const char *link)
{
	struct termios tio;
	const char *name;

	s->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->master < 0 || grantpt(s->master) || unlockpt(s->master)) {
		fprintf(stderr, "espfab-sim: cannot create a pty: %s\n", strerror(errno));
		return -1;
	}
	name = ptsname(s->master);
	if (!name) {
		fprintf(stderr, "espfab-sim: ptsname: %s\n", strerror(errno));
		return -1;
	}
	snprintf(s->slave_path, sizeof(s->slave_path), "%s", name);
	/* Linux answers TCGETS on the master with the slave's termios: that is
	 * how we see the baud rate the client set. */
	if (tcgetattr(s->master, &tio)) {
		fprintf(stderr, "espfab-sim: %s: tcgetattr: %s\n", s->slave_path, strerror(errno));
		return -1;
	}
	s->pty_idle = 1;
	fcntl(s->master, F_SETFL, fcntl(s->master, F_GETFL) | O_NONBLOCK);
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ino_fd >= 0 && inotify_add_watch(s->ino_fd, s->slave_path, IN_OPEN | IN_CLOSE) < 0) {
		close(s->ino_fd);
		s->ino_fd = -1;
	}
	if (s->ino_fd < 0)
		fprintf(stderr, "espfab-sim: %s: no inotify (%s): new clients seen by polling\n",
			s->slave_path, strerror(errno));
	if (link) {
		struct stat st;

		if (lstat(link, &st) == 0) {
			if (!S_ISLNK(st.st_mode)) {
				fprintf(stderr, "espfab-sim: --link %s exists and is not a symlink\n", link);
				return -1;
			}
			unlink(link);
		}
		if (symlink(s->slave_path, link)) {
			fprintf(stderr, "espfab-sim: --link %s: %s\n", link, strerror(errno));
			return -1;
		}
		s->link_made = 1;
	}
	printf("%s\n", s->slave_path);
	fflush(stdout);
	return 0;
}

static int open_tcp(struct server *s, int port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		fprintf(stderr, "espfab-sim: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never on the network */
	if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(s->listen_fd, 4) ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &alen)) {
		fprintf(stderr, "espfab-sim: --tcp %d: %s\n", port, strerror(errno));
		return -1;
	}
	printf("socket://127.0.0.1:%u\n", (unsigned)ntohs(a.sin_port));
	fflush(stdout);
	return 0;
}

static uint64_t now_rel(const struct server *s)
{
	return mono_ns() - s->t0;
}

/* Move bytes whose time has come from the engine to the host. */
static int pump_out(struct server *s, int fd)
{
	uint64_t now = now_rel(s);
	size_t n;

	if (s->out_len < OUT_MAX) {
		n = simdev_tx(s->dev, now, s->out + s->out_len, OUT_MAX - s->out_len);
		s->out_len += n;
	}
	if (fd < 0) {
		/* nobody connected: the bytes fall on the floor, as on a real wire */
		s->out_dropped += s->out_len;
		s->out_len = 0;
		return 0;
	}
	while (s->out_len) {
		ssize_t w = write(fd, s->out, s->out_len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		memmove(s->out, s->out + w, s->out_len - (size_t)w);
		s->out_len -= (size_t)w;
	}
	return 0;
}

static void feed_in(struct server *s, const uint8_t *buf, size_t n)
{
	if (s->master >= 0) {
		struct termios tio;

		/* the host's baud as it set it on its side of the pty */
		if (tcgetattr(s->master, &tio) == 0)
			simdev_set_host_baud(s->dev, speed_to_baud(cfgetospeed(&tio)));
	}
	simdev_rx(s->dev, now_rel(s), buf, n);
}

/* The slave's hang-up state now: 1 if no client has it open. */
static int pty_hung_up(const struct server *s)
{
	struct pollfd peek = { .fd = s->master, .events = POLLIN };

	return poll(&peek, 1, 0) == 1 && (peek.revents & POLLHUP);
}

/* The last bytes a client wrote before it closed (a hard reset's FLASH_END,
 * say) reached the chip before anything that follows: feed what is still
 * unread to the current session. Fed to the next client's fresh session, a
 * FLASH_END left the loader for the application and every SYNC after it
 * went unanswered (seen under load). */
static void old_session_tail(struct server *s)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = read(s->master, buf, sizeof(buf))) > 0)
		feed_in(s, buf, (size_t)n);
}

static void new_pty_client(struct server *s, const struct opts *o)
{
	/* Opened before we saw the previous client close: what is queued may
	 * be its tail, and then also the new client's first bytes, which are
	 * lost as bytes sent into a reset are (clients retry SYNC). Idle, we
	 * took the tail when the close was seen: all of it is the new one's. */
	if (!s->pty_idle)
		old_session_tail(s);
	s->pty_idle = 0; /* a client opened the pty: fresh chip, strapped for download */
	s->pty_closed = 0;
	s->out_len = 0;  /* bytes meant for the previous client */
	simdev_power_cycle(s->dev, now_rel(s), 1);
	if (o->verbose)
		fprintf(stderr, "espfab-sim: client opened %s\n", s->slave_path);
}

/* Drain the inotify queue before any byte of the master is read. inotify
 * merges identical consecutive events, so opens are not counted: an open
 * while idle or after a close is a new session, and the master's POLLHUP
 * (level state, read after the queue) says whether anyone is left. */
static void pty_watch(struct server *s, const struct opts *o)
{
	union {
		struct inotify_event ev;
		char raw[4096];
	} u;
	int fresh = 0;
	ssize_t n;

	while ((n = read(s->ino_fd, u.raw, sizeof(u.raw))) > 0) {
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(u.raw + off);

			if (ev->mask & IN_CLOSE)
				s->pty_closed = 1;
			if ((ev->mask & IN_OPEN) && (s->pty_closed || s->pty_idle))
				fresh = 1;
			off += (ssize_t)sizeof(struct inotify_event) + (ssize_t)ev->len;
		}
	}
	if (fresh && !pty_hung_up(s)) {
		new_pty_client(s, o);
	} else if (s->pty_closed && !s->pty_idle && pty_hung_up(s)) {
		old_session_tail(s);
		s->pty_idle = 1; /* the last client closed the slave */
		s->out_len = 0;
	}
}

/* Installed before the first output line: whoever reads that line may
 * signal us at once. The stop signals stay blocked outside ppoll(). */
static void block_signals(sigset_t *old)
{
	sigset_t mask;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, old);
}

static int serve(struct server *s, const struct opts *o, const sigset_t *old)
{
	uint8_t buf[4096];

	while (!stop_sig) {
		struct pollfd pf[3];
		nfds_t nf = 0;
		int io_fd = s->master >= 0 ? (s->pty_idle ? -1 : s->master) : s->conn;
		uint64_t next, now;
		struct timespec ts, *tsp = NULL;
		int r;

		if (usr1) {
			usr1 = 0;
			simdev_power_cycle(s->dev, now_rel(s), 1);
			if (o->verbose)
				fprintf(stderr, "espfab-sim: SIGUSR1: back in download mode\n");
		}
		if (pump_out(s, io_fd) < 0 && s->conn >= 0) {
			close(s->conn);
			s->conn = -1;
			continue;
		}
		if (s->ino_fd >= 0) {
			int was_idle = s->pty_idle;

			pty_watch(s, o);
			if (was_idle != s->pty_idle)
				continue;
			pf[nf].fd = s->ino_fd;
			pf[nf].events = POLLIN;
			nf++;
		}
		if (s->master >= 0 && s->pty_idle) {
			/* POLLHUP would be level-triggered here: peek, never
			 * spin. With inotify this is only a backstop: a client
			 * open while we think none is must get its session. */
			if (!pty_hung_up(s)) {
				new_pty_client(s, o);
				continue;
			}
		} else if (s->master >= 0) {
			pf[nf].fd = s->master;
			pf[nf].events = POLLIN | (s->out_len ? POLLOUT : 0);
			nf++;
		} else if (io_fd >= 0) {
			pf[nf].fd = io_fd;
			pf[nf].events = POLLIN | (s->out_len ? POLLOUT : 0);
			nf++;
		} else if (s->listen_fd >= 0) {
			pf[nf].fd = s->listen_fd;
			pf[nf].events = POLLIN;
			nf++;
		}
		next = simdev_next_event_ns(s->dev);
		now = now_rel(s);
		if (s->master >= 0 && s->pty_idle && (next == UINT64_MAX || next > now + 20000000ull))
			next = now + 20000000ull; /* POLLHUP stays up: look again for a client */
		if (next != UINT64_MAX) {
			uint64_t d = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(d / 1000000000ull);
			ts.tv_nsec = (long)(d % 1000000000ull);
			tsp = &ts;
		}
		r = ppoll(pf, nf, tsp, old);
		{
			/* ppoll returning ready fds restores the mask without delivering
			 * a pending signal: under steady traffic look for it ourselves */
			sigset_t pend;

			if (sigpending(&pend) == 0 &&
			    (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT) || sigismember(&pend, SIGHUP)))
				stop_sig = SIGTERM;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "espfab-sim: poll: %s\n", strerror(errno));
			return -1;
		}
		for (nfds_t i = 0; i < nf; i++) {
			if (!pf[i].revents || pf[i].fd == s->ino_fd)
				continue; /* inotify: drained at the top of the loop */
			if (pf[i].fd == s->listen_fd) {
				int c = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				int one = 1;

				if (c < 0)
					continue;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				s->conn = c;
				/* a fresh connection finds a fresh chip, strapped for download */
				s->out_len = 0; /* bytes for the previous client */
				simdev_power_cycle(s->dev, now_rel(s), 1);
				continue;
			}
			if (pf[i].fd == s->master && (pf[i].revents & POLLHUP) && !(pf[i].revents & POLLIN)) {
				/* with inotify a reopen may already be queued:
				 * it counts as a new session */
				if (s->ino_fd >= 0)
					pty_watch(s, o);
				if (pty_hung_up(s)) {
					s->pty_idle = 1; /* the last client closed the slave */
					s->out_len = 0;
				}
				continue;
			}
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t n = read(pf[i].fd, buf, sizeof(buf));

				if (n > 0) {
					feed_in(s, buf, (size_t)n);
				} else if (n == 0 || (errno != EAGAIN && errno != EINTR && errno != EIO)) {
					if (s->conn >= 0 && pf[i].fd == s->conn) {
						close(s->conn);
						s->conn = -1;
						s->out_len = 0;
					}
				} else if (n < 0 && errno == EIO && s->master >= 0) {
					s->pty_idle = 1; /* the last client closed the slave */
					s->out_len = 0;
				}
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct server s;
	struct simdev_err err;
	sigset_t old;
	uint8_t *mapped = NULL;
	static char efuse_buf[4096];
	int rc = 2;

	memset(&s, 0, sizeof(s));
	s.master = s.listen_fd = s.conn = s.ino_fd = -1;
	/* never outlive the test or daemon that started us: a leaked simulator
	 * keeps its pty and flash file busy */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_opts(argc, argv, &o))
		goto out;
	if (o.flash_path) {
		if (simdev_flash_map(o.flash_path, o.cfg.flash_size, &mapped, &err)) {
			fprintf(stderr, "espfab-sim: %s\n", err.msg);
			goto out;
		}
		o.cfg.flash = mapped;
	}
	if (!o.efuse_path && o.flash_path) {
		if ((size_t)snprintf(efuse_buf, sizeof(efuse_buf), "%s.efuse", o.flash_path) >= sizeof(efuse_buf)) {
			fprintf(stderr, "espfab-sim: --flash: path too long for its .efuse file\n");
			goto out;
		}
		o.efuse_path = efuse_buf;
	}
	o.cfg.efuse_file = o.efuse_path;
	if (simdev_new(&o.cfg, &s.dev, &err)) {
		fprintf(stderr, "espfab-sim: %s\n", err.msg);
		goto out;
	}
	s.t0 = mono_ns();
	block_signals(&old);
	if (o.tcp_port >= 0 ? open_tcp(&s, o.tcp_port) : open_pty(&s, o.link))
		goto out;
	fprintf(stderr, "espfab-sim: %s, %zu KiB flash%s%s, %u baud, timing %s, ready\n",
		simdev_chip_name(o.cfg.chip), o.cfg.flash_size / 1024, o.flash_path ? " in " : "",
		o.flash_path ? o.flash_path : "", o.cfg.baud, o.cfg.timing ? "on" : "off");
	if (serve(&s, &o, &old))
		goto out;
	rc = 0;
	if (o.verbose) {
		const struct simdev_stats *st = simdev_stats(s.dev);

		fprintf(stderr, "espfab-sim: stopped: %llu requests, %llu responses, %llu sectors erased\n",
			st->requests, st->responses, st->sectors_erased);
	}
out:
	if (s.link_made)
		unlink(o.link);
	if (s.conn >= 0)
		close(s.conn);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.ino_fd >= 0)
		close(s.ino_fd);
	if (s.master >= 0)
		close(s.master);
	simdev_free(s.dev);
	simdev_flash_unmap(mapped, o.cfg.flash_size);
	return rc;
}
