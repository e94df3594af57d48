/* The audit trail's timestamps (store_now(): "2026-12-02T14:51:48.123Z")
 * for the rate windows, and ours for the tail. See wmodel.h. */
#include <stdio.h>
#include <string.h>

#include "wmodel.h"

time_t wmodel_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, se;
	char sep;

	if (!s || strlen(s) < 19)
		return -1;
	if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &se) != 7 || (sep != 'T' && sep != ' '))
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || h < 0 ||
	    mi < 0 || se < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return timegm(&tm);
}

void wmodel_format_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, cap, "?");
		return;
	}
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
