/* espfabd's secrets: the seal key and the uplink token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "espfab/store.h"
#include "credential.h"

/* Where a secret comes from: the configured file, else systemd's credential
 * NAME (LoadCredential=NAME:...) when there is one. 0: neither. */
static int credential_path(const char *configured, const char *name, char *path, size_t cap)
{
	const char *credir = getenv("CREDENTIALS_DIRECTORY");

	if (configured[0]) {
		snprintf(path, cap, "%s", configured);
		return 1;
	}
	return credir && (size_t)snprintf(path, cap, "%s/%s", credir, name) < cap && access(path, R_OK) == 0;
}

/* The seal key (credential seal-key), or none. */
int credential_seal_key(const struct config *cfg, uint8_t *key, int *have)
{
	char path[CONFIG_PATH_MAX + 32];
	struct store_err serr;

	*have = 0;
	if (!credential_path(cfg->seal_key, "seal-key", path, sizeof(path)))
		return 0;
	if (store_seal_key_read(path, key, &serr)) {
		fprintf(stderr, "espfabd: seal key: %s\n", serr.msg);
		return -1;
	}
	*have = 1;
	return 0;
}

/* The uplink's bearer token (credential uplink-token), or none: the first
 * line, without its newline. */
int credential_uplink_token(const struct config *cfg, char *tok, size_t cap)
{
	char path[CONFIG_PATH_MAX + 32];
	FILE *f;
	int rc = -1;

	tok[0] = '\0';
	if (!credential_path(cfg->uplink_token, "uplink-token", path, sizeof(path)))
		return 0;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "espfabd: uplink token %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(tok, (int)cap, f)) {
		tok[strcspn(tok, "\r\n")] = '\0';
		if (tok[0] && strlen(tok) < cap - 1 && !strpbrk(tok, " \t"))
			rc = 0;
	}
	fclose(f);
	if (rc) {
		OPENSSL_cleanse(tok, cap);
		fprintf(stderr, "espfabd: uplink token %s: expected one line with the token (no spaces, under %zu "
			"bytes)\n", path, cap - 1);
	}
	return rc;
}
