/* `espfab product add ... --nvs-encryption hmac`: the options (parsed by
 * cmd_store.c, checked here) and the line `product show` prints
 * (cmd_store_hmac.c). See docs/efuse.md. */
#ifndef ESPFAB_CMD_STORE_HMAC_H
#define ESPFAB_CMD_STORE_HMAC_H

#include <jansson.h>
#include <stdio.h>

#include "espfab/store_hmac.h"

struct cmd_hmac_opts {
	const char *encryption; /* --nvs-encryption: NULL, "none" or "hmac" */
	const char *key_block;  /* --hmac-key-block BLOCK_KEY0..5 */
	const char *protect;    /* --hmac-protect read,write|read|write|none */
	int seal;               /* --hmac-seal-key */
};

/* 0 with *on set (1: hmac, then *hp filled), or -1 after a one-line
 * message on stderr naming the option. */
int cmd_hmac_check(const char *word, const struct cmd_hmac_opts *o, int *on, struct store_hmac_product *hp);
/* "encryption: hmac, BLOCK_KEY1 (HMAC_UP), read- and write-protected, key
 * sealed in the store"; nothing for a plain product. */
void cmd_hmac_render(FILE *f, json_t *product);

#endif
