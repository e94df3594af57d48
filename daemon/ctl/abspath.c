/* abspath_make(): see abspath.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "abspath.h"

int abspath_make(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	size_t n;
	int w;

	if (cap)
		out[0] = '\0';
	if (!path || !path[0])
		return -EINVAL;
	if (path[0] == '/') {
		n = strlen(path);
		if (n >= cap)
			return -ENAMETOOLONG;
		memcpy(out, path, n + 1);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return errno == ERANGE ? -ENAMETOOLONG : -errno;
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (path[0] == '/')
			path++;
	}
	if (!strcmp(path, "."))
		path = "";
	/* cwd is "/" only at the root: no doubled slash there */
	w = snprintf(out, cap, "%s%s%s", cwd, strcmp(cwd, "/") && path[0] ? "/" : "", path);
	if (w < 0 || (size_t)w >= cap) {
		if (cap)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}
