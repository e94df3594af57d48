/* espfabd's secrets: each from its configured file, else from systemd's
 * credential of that name (LoadCredential=NAME:...). */
#ifndef ESPFABD_CREDENTIAL_H
#define ESPFABD_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The seal key (credential seal-key), or none (*have 0). 0, or -1 with
 * the reason on stderr. */
int credential_seal_key(const struct config *cfg, uint8_t *key, int *have);
/* The uplink's bearer token (credential uplink-token), or none (tok
 * empty). 0, or -1 with the reason on stderr. */
int credential_uplink_token(const struct config *cfg, char *tok, size_t cap);

#endif
