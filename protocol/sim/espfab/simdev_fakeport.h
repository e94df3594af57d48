/* An in-process struct port (port.h) over a simdev engine, on VIRTUAL time.
 *
 * The port's clock starts at 0 ms. sleep_ms() advances it; read() returns the
 * device's bytes as soon as the modelled wire delivers them, jumping the clock
 * forward, or PORT_ETIMEDOUT at once (clock set to the deadline) when nothing
 * arrives before the deadline. write() hands bytes to the engine at "now" and
 * returns at once, as a kernel tty buffer would. So protocol tests that flash
 * a whole image finish in milliseconds of real time while now_ms() reports the
 * time a real device would have taken.
 *
 * USB-Serial/JTAG engines (simdev_config.usb_jtag): once the device has
 * re-enumerated (a boot with usb_reenum_ms > 0, or a watchdog reset) every
 * call but sleep/now/close answers PORT_ENODEV until reopen(), which polls in
 * 100 ms virtual steps until the device is back or the deadline passes.
 *
 * The port borrows the engine: the engine must outlive the port, and the test
 * frees it (simdev_free) after port_close(), so it can still inspect flash,
 * counters and the DTR/RTS log after the client closed the port.
 */
#ifndef ESPFAB_SIMDEV_FAKEPORT_H
#define ESPFAB_SIMDEV_FAKEPORT_H

#include <stdint.h>

#include "espfab/port.h"
#include "espfab/simdev.h"

/* name (may be NULL: "fake:<chip>") is copied into port->name. On success
 * *out is owned by the caller (port_close). */
int simdev_fakeport_new(struct simdev *dev, const char *name, uint32_t baud, struct port **out);

/* The engine behind a fake port (NULL if p is not a fake port). */
struct simdev *simdev_fakeport_dev(struct port *p);
/* Virtual clock in nanoseconds (now_ms() is this / 1e6). */
uint64_t simdev_fakeport_now_ns(struct port *p);

struct simdev_fakeport_counters {
	unsigned long reads, writes, timeouts, set_baud, set_lines, flushes, reopens, sleeps;
	unsigned long long bytes_written, bytes_read;
};
const struct simdev_fakeport_counters *simdev_fakeport_counters(struct port *p);

/* Knobs: make the next n reopen() attempts fail with PORT_ENODEV (a USB port
 * that has not re-enumerated yet; each failed attempt costs 100 ms of
 * virtual time), or make every later read/write fail with err (a port that
 * went away: PORT_ENODEV / PORT_EIO; 0 clears). */
void simdev_fakeport_fail_reopen(struct port *p, unsigned n);
void simdev_fakeport_fail_io(struct port *p, int err);

#endif
