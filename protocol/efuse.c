/* eFuse facts and pure helpers: per-chip controller layout, block geometry,
 * RS error fields, the Reed-Solomon coding of key blocks, purpose names.
 * Sources: espefuse (esptool v4.8.1) efuse/<chip>/mem_definition.py,
 * fields.py and efuse_defs/<chip>.yaml. */
#include <string.h>
#include <strings.h>

#include "espfab/efuse.h"

static const struct efuse_layout layouts[] = {
	{ "ESP32-C3", 0x60008800u, 0x1F0u, 0x1F4u, 1 },
	{ "ESP32-C6", 0x600B0800u, 0x1F0u, 0x1F4u, 0 },
	{ "ESP32-H2", 0x600B0800u, 0x1F0u, 0x1F4u, 0 },
	{ "ESP32-S3", 0x60007000u, 0x1F4u, 0x1F8u, 0 },
};

const struct efuse_layout *efuse_layout_for(const char *chip_name)
{
	for (size_t i = 0; chip_name && i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (!strcmp(layouts[i].chip, chip_name))
			return &layouts[i];
	return NULL;
}

uint32_t efuse_block_rd_offset(unsigned block)
{
	if (block == 0)
		return EFUSE_BLK0_RD;
	if (block == 1)
		return 0x044u;
	if (block == 2)
		return 0x05Cu;
	return 0x07Cu + (block - 3) * 32u;
}

unsigned efuse_block_words(unsigned block)
{
	return block <= 1 ? 6 : 8;
}

/* RD_RS_ERR0 holds blocks 1..8 (3-bit count at 4(n-1), fail bit above
 * it), RD_RS_ERR1 blocks 9 and 10. The C3 has its fail bits one block up
 * ("design error", espefuse esp32c3/mem_definition.py BLOCK_FAIL_BIT). */
void efuse_rs_status(const struct efuse_layout *l, unsigned block, uint32_t err0, uint32_t err1,
		     unsigned *num_errors, int *fail)
{
	unsigned i = block - 1;
	unsigned fi = l->c3_fail_shift ? block : i;

	*num_errors = 0;
	*fail = 0;
	if (block < 1 || block >= EFUSE_BLOCKS)
		return;
	*num_errors = (i < 8 ? err0 >> (4 * i) : err1 >> (4 * (i - 8))) & 7u;
	if (fi < 8)
		*fail = (err0 >> (4 * fi + 3)) & 1u;
	else if (fi < 10)
		*fail = (err1 >> (4 * (fi - 8) + 3)) & 1u;
}

/* ---- Reed-Solomon, as reedsolo's rs_encode_msg ------------------------- */

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	unsigned r = 0, x = a;

	while (b) {
		if (b & 1)
			r ^= x;
		x <<= 1;
		if (x & 0x100)
			x ^= 0x11Du;
		b >>= 1;
	}
	return (uint8_t)r;
}

void efuse_rs_encode(const uint8_t data[EFUSE_KEY_LEN], uint8_t check[EFUSE_RS_LEN])
{
	/* generator = prod_{i<12} (x - 2^i), highest degree first */
	uint8_t gen[EFUSE_RS_LEN + 1] = { 1 };
	uint8_t msg[EFUSE_KEY_LEN + EFUSE_RS_LEN];
	uint8_t root = 1;

	for (unsigned i = 0; i < EFUSE_RS_LEN; i++) {
		uint8_t next[EFUSE_RS_LEN + 1] = { 0 };
		for (unsigned j = 0; j <= i; j++) {
			next[j] ^= gen[j];
			next[j + 1] ^= gf_mul(gen[j], root);
		}
		memcpy(gen, next, sizeof(gen));
		root = gf_mul(root, 2);
	}
	memcpy(msg, data, EFUSE_KEY_LEN);
	memset(msg + EFUSE_KEY_LEN, 0, EFUSE_RS_LEN);
	for (unsigned i = 0; i < EFUSE_KEY_LEN; i++) {
		uint8_t coef = msg[i];
		if (coef)
			for (unsigned j = 1; j <= EFUSE_RS_LEN; j++)
				msg[i + j] ^= gf_mul(gen[j], coef);
	}
	memcpy(check, msg + EFUSE_KEY_LEN, EFUSE_RS_LEN);
	memset(msg, 0, sizeof(msg)); /* the key passed through here */
}

/* ---- names ------------------------------------------------------------- */

static const char *const purpose_names[] = {
	"USER", "RESERVED", "XTS_AES_256_KEY_1", "XTS_AES_256_KEY_2", "XTS_AES_128_KEY",
	"HMAC_DOWN_ALL", "HMAC_DOWN_JTAG", "HMAC_DOWN_DIGITAL_SIGNATURE", "HMAC_UP",
	"SECURE_BOOT_DIGEST0", "SECURE_BOOT_DIGEST1", "SECURE_BOOT_DIGEST2",
};

const char *efuse_purpose_name(unsigned purpose)
{
	return purpose < sizeof(purpose_names) / sizeof(purpose_names[0]) ? purpose_names[purpose] : "?";
}

int efuse_purpose_parse(const char *s, enum efuse_purpose *out)
{
	for (unsigned i = 0; i < sizeof(purpose_names) / sizeof(purpose_names[0]); i++) {
		if (!strcasecmp(s, purpose_names[i])) {
			*out = (enum efuse_purpose)i;
			return 0;
		}
	}
	return -1;
}

int efuse_key_block_parse(const char *s, unsigned *key_index)
{
	unsigned n;

	if (!strncasecmp(s, "BLOCK_KEY", 9) && s[9] >= '0' && s[9] <= '5' && !s[10])
		n = (unsigned)(s[9] - '0');
	else if (!strncasecmp(s, "BLOCK", 5) && s[5] >= '4' && s[5] <= '9' && !s[6])
		n = (unsigned)(s[5] - '4');
	else
		return -1;
	*key_index = n;
	return 0;
}
