/* Test helper: burn a key file into a key block through espfab's eFuse
 * module, as the station will (efuse_burn_key), for the espefuse
 * comparison (efuse_espefuse.sh). Not installed; prints no key bytes.
 * usage: efuse_burn_helper PORT BLOCK_KEYn PURPOSE KEYFILE [no-read-protect] [no-write-protect]
 * Exit 0 burnt, 1 refused or failed (one line on stderr), 2 usage. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/efuse.h"
#include "espfab/flashop.h"

int main(int argc, char **argv)
{
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	struct efuse_err err = { 0 };
	enum efuse_purpose purpose;
	unsigned k, protect = EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE;
	uint8_t key[EFUSE_KEY_LEN + 1];
	size_t n = 0;
	FILE *kf;
	int e, rc = 1;

	if (argc < 5 || efuse_key_block_parse(argv[2], &k) || efuse_purpose_parse(argv[3], &purpose)) {
		fprintf(stderr, "usage: efuse_burn_helper PORT BLOCK_KEYn PURPOSE KEYFILE [no-read-protect] [no-write-protect]\n");
		return 2;
	}
	for (int i = 5; i < argc; i++) {
		if (!strcmp(argv[i], "no-read-protect"))
			protect &= ~EFUSE_PROTECT_READ;
		else if (!strcmp(argv[i], "no-write-protect"))
			protect &= ~EFUSE_PROTECT_WRITE;
		else {
			fprintf(stderr, "efuse_burn_helper: unknown flag '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!(kf = fopen(argv[4], "rb"))) {
		perror(argv[4]);
		return 2;
	}
	n = fread(key, 1, sizeof(key), kf);
	fclose(kf);
	if (n != EFUSE_KEY_LEN) {
		fprintf(stderr, "efuse_burn_helper: %s: not %d bytes\n", argv[4], EFUSE_KEY_LEN);
		goto out;
	}
	flashop_options_init(&o);
	o.before = RESET_MODE_NONE;
	if ((e = flashop_open(argv[1], &o, &f, &d))) {
		fprintf(stderr, "efuse_burn_helper: %s\n", d.msg);
		goto out;
	}
	if ((e = efuse_burn_key(f, k, purpose, key, protect, &err))) {
		fprintf(stderr, "efuse_burn_helper: %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	flashop_close(f);
	return rc;
}
