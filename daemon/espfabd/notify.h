/* systemd notifications (sd_notify): READY=1 once the socket and the
 * database are up, STATUS= with counts, WATCHDOG=1 keep-alives from the main
 * loop, STOPPING=1. All are no-ops outside systemd ($NOTIFY_SOCKET unset). */
#ifndef ESPFABD_NOTIFY_H
#define ESPFABD_NOTIFY_H

#include <stdint.h>

void notify_ready(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_watchdog(void);
/* Keep-alive period in ms the main loop should honour (half of
 * WatchdogSec=), or 0 when no watchdog is configured. */
uint64_t notify_watchdog_period_ms(void);

#endif
