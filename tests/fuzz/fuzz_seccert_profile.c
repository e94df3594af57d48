/* Fuzz the identity profile parser behind `espfab certs profile` (and the
 * daemon, which parses the stored profile per device): any bytes either
 * parse, and then print back to JSON that parses to the same profile, or
 * are rejected with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/seccert_issue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seccert_profile p, q;
	struct seccert_err err = {0};
	char *js = NULL;

	if (size > 16384)
		return 0;
	if (seccert_profile_parse((const char *)data, size, &p, &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (seccert_profile_json(&p, &js, &err) || seccert_profile_parse(js, strlen(js), &q, &err) ||
	    memcmp(&p, &q, sizeof(p)))
		abort(); /* what we store must read back as the same profile */
	free(js);
	return 0;
}
