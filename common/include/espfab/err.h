/* The one formatter of error messages. Every module's x_fail()/x_err_set()
 * fills its error struct through it, so each message keeps the one-line
 * promise the operator's terminal, the daemon's log (one journal entry per
 * line) and the control protocol (one JSON line) rely on, whatever outside
 * text (CSV values, file names, device replies) it quotes. Messages name
 * what failed and where first ("config.csv:3: ...", "port ttyUSB0: ..."):
 * that part is the caller's format. */
#ifndef ESPFAB_ERR_H
#define ESPFAB_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf into buf (cap > 0 bytes, always NUL-terminated), then every
 * control character (newline, CR, tab, ESC, ...) and DEL becomes '?', so
 * no quoted input can break the line or drive a terminal. Text longer than
 * cap - 1 bytes is cut, never inside a UTF-8 character. Returns buf. */
char *err_vformat(char *buf, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
char *err_format(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same clean-up in place, for text formatted elsewhere (a library's
 * own message). */
void err_one_line(char *s);

/* The fail function of a module whose error struct holds `int code` and
 * `char msg[]`: ERR_DEFINE_FAIL(static, fail, fwimg_err) defines
 *   static int fail(struct fwimg_err *err, int code, const char *fmt, ...)
 * which fills both (msg through err_vformat) when err is not NULL and
 * returns code, so a failure is one `return fail(err, X_E..., "...")`.
 * storage is static or empty. */
#define ERR_DEFINE_FAIL(storage, name, type)                                                                   \
	storage int name(struct type *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4))); \
	storage int name(struct type *err, int code, const char *fmt, ...)                                     \
	{                                                                                                        \
		va_list ap;                                                                                      \
		if (err) {                                                                                       \
			err->code = code;                                                                        \
			va_start(ap, fmt);                                                                       \
			err_vformat(err->msg, sizeof(err->msg), fmt, ap);                                        \
			va_end(ap);                                                                              \
		}                                                                                                \
		return code;                                                                                     \
	}

#endif
