/* Mass-manufacturing batches: one device's intermediate CSV (as
 * csv.writer writes it) and its NVS image. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "espfab/csv.h"
#include "espfab/mfg.h"
#include "mfg_priv.h"

/* One device row as nvs_partition_gen will see it: the config row without
 * its REPEAT field, plus '' for a namespace or the device's value. */
struct out_row {
	const char *f[8];
	size_t len[8];
	size_t n;     /* fields to write to the CSV */
	size_t extra; /* fields beyond the first 8 (written from the config row) */
};

/* add_data_to_file(): the values are consumed in header order; for each
 * config key the cursor moves to the first (column, value) pair in which
 * the key appears as the column name or as the value. */
static int device_value(const struct mfg_batch *b, size_t dev, const struct mfg_row *cr, size_t *cursor,
			const char **v, size_t *vlen)
{
	const struct mfg_row *hdr = &b->vrows[0], *r = &b->vrows[dev + 1];
	const char *key = fld(b, cr, 0);
	size_t klen = fld_len(b, cr, 0);
	while (*cursor < hdr->n) {
		size_t k = *cursor;
		if ((fld_len(b, hdr, k) == klen && !memcmp(fld(b, hdr, k), key, klen)) ||
		    (fld_len(b, r, k) == klen && !memcmp(fld(b, r, k), key, klen))) {
			*v = fld(b, r, k);
			*vlen = fld_len(b, r, k);
			(*cursor)++;
			return 0;
		}
		(*cursor)++;
	}
	return -1; /* cannot happen after mfg_check_config(); IndexError in the reference */
}

static int csv_put(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
	if (mfg_grow((void **)buf, cap, *len + n + 1, 1))
		return MFG_ENOMEM;
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

static int csv_put_field(char **buf, size_t *cap, size_t *len, const char *s, size_t n)
{
	if (!mfg_needs_quotes(s, n))
		return csv_put(buf, cap, len, s, n);
	if (csv_put(buf, cap, len, "\"", 1))
		return MFG_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (csv_put(buf, cap, len, s + i, 1) || (s[i] == '"' && csv_put(buf, cap, len, "\"", 1)))
			return MFG_ENOMEM;
	return csv_put(buf, cap, len, "\"", 1);
}

int mfg_batch_csv(const struct mfg_batch *b, size_t i, char **buf, size_t *cap, size_t *len, struct mfg_err *err)
{
	static const char header[] = "key,type,encoding,value\r\n";
	size_t cursor = 0;

	*len = 0;
	if (!b || i >= b->ndev)
		return mfg_fail(err, MFG_EINPUT, 0, "no device %zu", i);
	if (csv_put(buf, cap, len, header, sizeof(header) - 1))
		goto nomem;
	for (size_t c = 0; c < b->ncrows; c++) {
		const struct mfg_row *cr = &b->crows[c];
		const char *v = "";
		size_t vlen = 0, nout = 0;
		if (!b->cfg[c].is_ns && device_value(b, i, cr, &cursor, &v, &vlen))
			return mfg_fail(err, MFG_EINPUT, b->vrows[i + 1].line, "%s:%u: no value for key '%.40s'",
				    b->values_name, b->vrows[i + 1].line, fld(b, cr, 0));
		for (size_t k = 0; k < cr->n; k++) {
			if ((int)k == b->cfg[c].repeat_at)
				continue;
			if ((nout++ && csv_put(buf, cap, len, ",", 1)) ||
			    csv_put_field(buf, cap, len, fld(b, cr, k), fld_len(b, cr, k)))
				goto nomem;
		}
		if ((nout && csv_put(buf, cap, len, ",", 1)) || csv_put_field(buf, cap, len, v, vlen) ||
		    csv_put(buf, cap, len, "\r\n", 2))
			goto nomem;
	}
	(*buf)[*len] = '\0';
	return 0;
nomem:
	return mfg_fail(err, MFG_ENOMEM, 0, "out of memory");
}

int mfg_batch_image(const struct mfg_batch *b, size_t i, struct nvs_gen *g, const struct nvs_file_source *files,
		    const uint8_t *xts_key, uint8_t *img, size_t cap, size_t *img_len, struct mfg_err *err)
{
	struct nvs_err nerr;
	size_t cursor = 0;
	unsigned line;
	int rc;

	if (!b || i >= b->ndev)
		return mfg_fail(err, MFG_EINPUT, 0, "no device %zu", i);
	line = b->vrows[i + 1].line;
	nvs_gen_reset(g);
	for (size_t c = 0; c < b->ncrows; c++) {
		const struct mfg_row *cr = &b->crows[c];
		const char *f[4] = {NULL, NULL, NULL, NULL}, *v = "";
		size_t flen[4] = {0, 0, 0, 0}, vlen = 0, n = 0;

		if (!b->cfg[c].is_ns && device_value(b, i, cr, &cursor, &v, &vlen))
			return mfg_fail(err, MFG_EINPUT, line, "%s:%u: no value for key '%.40s'", b->values_name, line,
				    fld(b, cr, 0));
		if (b->cfg[c].nvs_skips)
			continue;
		/* csv.DictReader over the written row: key, type, encoding, value
		 * are its first four fields (extra ones ignored, missing ones None). */
		for (size_t k = 0; k < cr->n && n < 4; k++) {
			if ((int)k == b->cfg[c].repeat_at)
				continue;
			f[n] = fld(b, cr, k);
			flen[n] = fld_len(b, cr, k);
			n++;
		}
		if (n < 4) {
			f[n] = v;
			flen[n] = vlen;
			n++;
		}
		rc = nvs_gen_add_fields(g, f[0], flen[0], f[1], flen[1], f[2], flen[2], f[3], flen[3], files, &nerr);
		if (rc)
			return mfg_fail(err, rc == NVS_ENOMEM ? MFG_ENOMEM : rc == NVS_ESIZE ? MFG_ESIZE
								    : rc == NVS_EIO	 ? MFG_EIO
											 : MFG_EINPUT,
				    line, "%s:%u: %s", b->values_name, line, nerr.msg);
	}
	rc = nvs_gen_finish(g, xts_key, img, cap, img_len, &nerr);
	if (rc)
		return mfg_fail(err, rc == NVS_ENOMEM ? MFG_ENOMEM : rc == NVS_ESIZE ? MFG_ESIZE
							  : rc == NVS_ECRYPTO ? MFG_ECRYPTO : MFG_EINPUT,
			    line, "%s:%u: %s", b->values_name, line, nerr.msg);
	return 0;
}
