/* See log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_journal;
static int log_level = LOG_INFO;
static char log_ident[32] = "espfabd";

/* systemd documents $JOURNAL_STREAM as "device:inode" of the stream it
 * connected stderr to; only when they match is stderr really the journal. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, int force_stderr)
{
	if (ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_journal = !force_stderr && stderr_is_journal();
}

void log_set_level(int prio)
{
	log_level = prio;
}

int log_to_journal(void)
{
	return log_journal;
}

void log_msg(int prio, const struct log_fields *f, const char *fmt, ...)
{
	char msg[1024], extra[256] = "";
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_journal) {
		char bbuf[32];
		snprintf(bbuf, sizeof(bbuf), "BATCH=%lld", f ? (long long)f->batch : 0LL);
		sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=%s", log_ident,
				"PORT=%s", f && f->port ? f->port : "", "MAC=%s", f && f->mac ? f->mac : "",
				"%s", f && f->batch ? bbuf : "BATCH=", "RESULT=%s", f && f->result ? f->result : "",
				NULL);
		return;
	}
	if (f) {
		size_t n = 0;
		if (f->port)
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, " port=%s", f->port);
		if (f->mac && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, " mac=%s", f->mac);
		if (f->batch && n < sizeof(extra))
			n += (size_t)snprintf(extra + n, sizeof(extra) - n, " batch=%lld", (long long)f->batch);
		if (f->result && n < sizeof(extra))
			snprintf(extra + n, sizeof(extra) - n, " result=%s", f->result);
	}
	{
		struct timespec ts;
		struct tm tm;
		char tbuf[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s.%03ld %s: %s%s\n", tbuf, ts.tv_nsec / 1000000, log_ident, msg, extra);
		pthread_mutex_unlock(&log_lock);
	}
}
