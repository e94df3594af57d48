/* Logging: the journal with structured fields when stderr is connected to it
 * (systemd sets $JOURNAL_STREAM), plain lines on stderr otherwise.
 *
 * Fields: PORT, MAC, BATCH, RESULT (journalctl PORT=slot3 finds a slot's
 * history). Never pass secret material: callers log record ids, never
 * values. Thread-safe.
 */
#ifndef ESPFAB_CTL_LOG_H
#define ESPFAB_CTL_LOG_H

#include <stdint.h>
#include <syslog.h>

struct log_fields {
	const char *port;   /* NULL: none */
	const char *mac;    /* NULL: none */
	int64_t batch;      /* 0: none */
	const char *result; /* NULL: none */
};

/* mode: 0 auto (journal if $JOURNAL_STREAM matches stderr), 1 force stderr. */
void log_init(const char *ident, int force_stderr);
/* Messages above this priority (e.g. LOG_DEBUG) are dropped; default LOG_INFO. */
void log_set_level(int prio);
int log_to_journal(void);

void log_msg(int prio, const struct log_fields *f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
