/* The one formatter of error messages (err.h). */
#include <stdio.h>
#include <string.h>

#include "espfab/err.h"

void err_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			*s = '?';
}

char *err_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n;

	if (cap == 0)
		return buf;
	n = vsnprintf(buf, cap, fmt, ap);
	if (n < 0) {
		buf[0] = '\0';
		return buf;
	}
	if ((size_t)n >= cap) {
		/* Cut: drop a UTF-8 character left incomplete at the end. */
		size_t len = cap - 1, start = len;
		while (start > 0 && ((unsigned char)buf[start - 1] & 0xC0) == 0x80)
			start--;
		if (start > 0 && (unsigned char)buf[start - 1] >= 0xC0) {
			unsigned char lead = (unsigned char)buf[start - 1];
			size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
			if (len - (start - 1) < need)
				buf[start - 1] = '\0';
		}
	}
	err_one_line(buf);
	return buf;
}

char *err_format(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vformat(buf, cap, fmt, ap);
	va_end(ap);
	return buf;
}
