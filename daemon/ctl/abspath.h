/* Command-line paths made absolute at parse time.
 *
 * A relative path on the command line means "relative to where I typed
 * it". Turning it absolute once, while parsing, keeps that meaning for
 * everything that uses the path later (the uplink's own database
 * connection, messages, `espfab status`) and names the file fully in every
 * error. The join is lexical: symlinks are kept (a fixture slot is named by
 * its link, which must not become the /dev/ttyUSBn it points at today) and
 * the file need not exist yet (a new database, a socket to create).
 */
#ifndef ESPFAB_CTL_ABSPATH_H
#define ESPFAB_CTL_ABSPATH_H

#include <stddef.h>

/* Write path, made absolute against the current directory, into
 * out[0..cap). Leading "./" segments are dropped; ".." is kept (only the
 * kernel knows where it leads through a symlink). Returns 0, -EINVAL for an
 * empty path, -ENAMETOOLONG when the result does not fit, or -errno from
 * getcwd(). out is "" on any error. */
int abspath_make(const char *path, char *out, size_t cap);

#endif
