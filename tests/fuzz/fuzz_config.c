/* libFuzzer harness: espfabd.conf text into the config parser. On error the
 * message is one line naming the file; on success the values are sane. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c;
	struct config_err err;
	int rc;

	config_defaults(&c);
	memset(&err, 0, sizeof(err));
	rc = config_parse(&c, (const char *)data, size, "f.conf", &err);
	if (rc) {
		if (strncmp(err.msg, "f.conf", 6) || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	if (c.nports > CONFIG_MAX_PORTS || c.baud < 300 || c.baud > 4000000)
		abort();
	for (size_t i = 0; i < c.nports; i++)
		if (!c.ports[i].path[0] || !c.ports[i].name[0])
			abort();
	return 0;
}
