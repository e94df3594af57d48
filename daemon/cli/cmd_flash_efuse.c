/* espfab flash efuse-summary. Key block contents are never printed: a
 * summary says only whether a readable block is empty. */
#include <stdio.h>
#include <string.h>

#include "cmd_flash_efuse.h"
#include "espfab/efuse.h"

static const char *state_of(const struct efuse_key_state *k)
{
	if (k->read_protected)
		return "read-protected";
	return k->empty ? "empty" : "in-use";
}

int cli_efuse_summary(struct flashop *f, int json, json_t *out, struct rom_diag *d)
{
	struct efuse_summary s;
	struct efuse_err err = { 0 };
	int e = efuse_read_summary(f, &s, &err);

	if (e) {
		memset(d, 0, sizeof(*d));
		snprintf(d->msg, sizeof(d->msg), "%s", err.msg);
		return e <= EFUSE_ENOHMAC ? ROM_ECHIP : e;
	}
	if (json) {
		json_t *keys = json_array();
		for (unsigned k = 0; k < EFUSE_KEY_BLOCKS; k++) {
			const struct efuse_key_state *ks = &s.key[k];
			char name[16];
			snprintf(name, sizeof(name), "BLOCK_KEY%u", k);
			json_array_append_new(
				keys, json_pack("{s:s,s:i,s:s,s:i,s:s,s:b,s:b,s:b,s:i,s:b}", "name", name, "block",
						EFUSE_KEY_FIRST_BLOCK + k, "purpose", efuse_purpose_name(ks->purpose),
						"purpose_value", (int)ks->purpose, "state", state_of(ks), "read_protected",
						ks->read_protected, "write_protected", ks->write_protected,
						"purpose_write_protected", ks->purpose_write_protected, "rs_errors",
						(int)ks->rs_errors, "rs_fail", ks->rs_fail));
		}
		json_object_set_new(out, "efuse",
				    json_pack("{s:I,s:I,s:b,s:o}", "wr_dis", (json_int_t)s.wr_dis, "rd_dis",
					      (json_int_t)s.rd_dis, "rd_dis_write_protected", s.rd_dis_write_protected,
					      "keys", keys));
		return 0;
	}
	printf("eFuse key blocks (%s): WR_DIS 0x%08x, RD_DIS 0x%02x%s\n", s.layout->chip, (unsigned)s.wr_dis,
	       (unsigned)s.rd_dis, s.rd_dis_write_protected ? " (locked)" : "");
	for (unsigned k = 0; k < EFUSE_KEY_BLOCKS; k++) {
		const struct efuse_key_state *ks = &s.key[k];
		printf("BLOCK_KEY%u (BLOCK%u)  purpose %-27s %-14s  read %s, write %s, purpose %s, RS %s\n", k,
		       EFUSE_KEY_FIRST_BLOCK + k, efuse_purpose_name(ks->purpose), state_of(ks),
		       ks->read_protected ? "protected" : "open", ks->write_protected ? "protected" : "open",
		       ks->purpose_write_protected ? "locked" : "open",
		       ks->rs_fail ? "FAIL" : ks->rs_errors ? "corrected" : "ok");
	}
	return 0;
}
