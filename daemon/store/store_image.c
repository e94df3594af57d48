/* A claimed record's NVS partition image, laid out as mfg_gen would for the
 * same config and values row (tests/unit/test_store_mfg.c compares with
 * mfg_gen's own output). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_fit.h"

int store_record_image(const struct store_record *r, const uint8_t *xts_key, uint8_t *buf, size_t cap,
		       size_t *out_len, struct store_err *err)
{
	const struct store_product *p = r->product;
	const uint8_t **vals = NULL;
	size_t *lens = NULL, k = 0;
	char why[200];
	int rc;

	*out_len = 0;
	vals = calloc(p->n_fields ? p->n_fields : 1, sizeof(*vals));
	lens = calloc(p->n_fields ? p->n_fields : 1, sizeof(*lens));
	if (!vals || !lens) {
		rc = store_fail_err(err, STORE_ENOMEM, "out of memory");
		goto out;
	}
	/* r->values follows the template's data/file rows in order. */
	for (size_t f = 0; f < p->n_fields; f++) {
		if (!strcmp(p->fields[f].type, "namespace"))
			continue;
		if (k >= r->n_values || r->values[k].field != &p->fields[f]) {
			rc = store_fail_err(err, STORE_EINPUT, "record '%s' does not match its product's template",
					    r->record_id);
			goto out;
		}
		vals[f] = r->values[k].data;
		lens[f] = r->values[k].len;
		k++;
	}
	if (cap < p->part_size) {
		rc = store_fail_err(err, STORE_EINPUT, "image buffer of %zu bytes is smaller than the partition (%u)",
				    cap, (unsigned)p->part_size);
		goto out;
	}
	rc = store_nvs_image(p, vals, lens, xts_key, buf, cap, out_len, why, sizeof(why));
	if (rc) {
		OPENSSL_cleanse(buf, cap);
		store_fail_err(err, rc, "record '%s': %s", r->record_id, why);
	}
out:
	free(vals);
	free(lens);
	return rc;
}
