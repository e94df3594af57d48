/* The product's NVS encryption options. See cmd_store_hmac.h. */
#include "cmd_store_hmac.h"

#include <string.h>

#include "espfab/efuse.h"

static int protect_parse(const char *s, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned v;
	} t[] = {{"read,write", 3}, {"write,read", 3}, {"read", 1}, {"write", 2}, {"none", 0}};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].name)) {
			*out = t[i].v;
			return 0;
		}
	return -1;
}

int cmd_hmac_check(const char *word, const struct cmd_hmac_opts *o, int *on, struct store_hmac_product *hp)
{
	memset(hp, 0, sizeof(*hp));
	*on = 0;
	if (!o->encryption || !strcmp(o->encryption, "none")) {
		if (o->key_block || o->protect || o->seal) {
			fprintf(stderr, "espfab %s: --hmac-key-block, --hmac-protect and --hmac-seal-key need "
					"--nvs-encryption hmac\n",
				word);
			return -1;
		}
		return 0;
	}
	if (strcmp(o->encryption, "hmac")) {
		fprintf(stderr, "espfab %s: --nvs-encryption must be none or hmac, not '%s'\n", word, o->encryption);
		return -1;
	}
	if (!o->key_block) {
		fprintf(stderr, "espfab %s: --nvs-encryption hmac needs --hmac-key-block BLOCK_KEY0..5\n", word);
		return -1;
	}
	if (efuse_key_block_parse(o->key_block, &hp->key_block)) {
		fprintf(stderr, "espfab %s: --hmac-key-block must be BLOCK_KEY0..BLOCK_KEY5 (or BLOCK4..BLOCK9), not '%s'\n",
			word, o->key_block);
		return -1;
	}
	hp->protect = EFUSE_PROTECT_READ | EFUSE_PROTECT_WRITE;
	if (o->protect && protect_parse(o->protect, &hp->protect)) {
		fprintf(stderr, "espfab %s: --hmac-protect must be read,write, read, write or none, not '%s'\n", word,
			o->protect);
		return -1;
	}
	hp->seal = o->seal;
	*on = 1;
	return 0;
}

void cmd_hmac_render(FILE *f, json_t *product)
{
	json_t *e = json_object_get(product, "nvs_encryption");
	int r, w;

	if (!json_is_object(e)) /* plain: the output stays as before */
		return;
	r = json_is_true(json_object_get(e, "read_protect"));
	w = json_is_true(json_object_get(e, "write_protect"));
	fprintf(f, "encryption: hmac, %s (HMAC_UP), %s, key %s\n",
		json_string_value(json_object_get(e, "key_block")) ?: "?",
		r && w ? "read- and write-protected" : r ? "read-protected" : w ? "write-protected" : "unprotected",
		json_is_true(json_object_get(e, "seal_key")) ? "sealed in the store" : "not kept");
}
