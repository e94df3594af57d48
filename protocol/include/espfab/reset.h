/* Reset sequences: protocol code over the port's line and sleep operations,
 * so a test can assert the exact DTR/RTS sequence and its timing.
 *
 * Line levels follow esptool: DTR drives IO0 and RTS drives EN through the
 * usual auto-program transistor pair, "asserted" (1) pulls the pin low.
 * All functions return 0 or a negative ROM_E* code (rom.h): ROM_ENOLINES
 * when the port cannot drive DTR/RTS (TCP, ptys).
 */
#ifndef ESPFAB_RESET_H
#define ESPFAB_RESET_H

#include <stdint.h>

#include "espfab/chip.h"
#include "espfab/port.h"
#include "espfab/reset_mode.h"
#include "espfab/rom.h"

/* --after's words (reset_mode.h has --before's); 0 or ROM_EINVAL. */
int reset_after_parse(const char *word, enum reset_after *out);

/* Classic reset into download mode: EN low 100 ms with IO0 high, then EN
 * released with IO0 low in the same TIOCMSET (no glitch through (0,0)),
 * IO0 held hold_ms (50, or 550 for slow boards), then released. */
int reset_classic(struct port *p, uint32_t hold_ms);
/* USB-Serial/JTAG sequence (esptool's USBJTAGSerialReset): goes through
 * (1,1) rather than (0,0) when entering reset. */
int reset_usb_jtag(struct port *p);
/* Reset for connect attempt n (0-based): classic alternates 50/550 ms holds. */
int reset_enter_loader(struct port *p, enum reset_mode m, unsigned attempt);
/* Hard reset by an RTS pulse (EN low 100 ms, IO0 released): boots the app on
 * the classic circuit. */
int reset_hard_rts(struct port *p);

/* Over USB-Serial/JTAG the ROM feeds neither the RTC watchdog nor the
 * super-watchdog: disable the first and set the second to auto-feed, by
 * register writes bracketed by the write-protection keys (esptool's
 * disable_watchdogs). ROM_OK without writes on chips without USB-JTAG. */
int reset_disable_watchdogs(struct rom *r, const struct chip_desc *c);
/* Leave download mode over USB-Serial/JTAG: a core reset does not re-sample
 * the strapping pins, so arm the RTC watchdog to reset the system (esptool's
 * watchdog_reset). The chip resets and the port re-enumerates: the last
 * write may get no reply, which is not an error. */
int reset_watchdog(struct rom *r, const struct chip_desc *c);

#endif
