/* Private helpers shared by the mfg*.c files (not installed, not public). */
#ifndef ESPFAB_MFG_PRIV_H
#define ESPFAB_MFG_PRIV_H

#include "espfab/mfg.h"

/* Fills *err (may be NULL) with code, line and a one-line message (control
 * characters from the inputs become '?'); returns code so callers can
 * `return mfg_fail(...)`. */
int mfg_fail(struct mfg_err *err, int code, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
