/* The station's image building: a claimed record's NVS partition image. */
#include "station.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "espfab/nvs.h"
#include "espfab/store.h"
#include "espfab/version.h"
#include "jobq.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "espfab/store_cert.h"
#include "pipeline.h"
#include "station_ident.h"
#include "station_int.h"
#include "uplink.h"
#include "worker.h"

/* The record's NVS image: the product's rows in template order with the
 * record's values, encrypted with xts when not NULL (HMAC NVS encryption,
 * station_hmac.h). The image holds secrets: it is wiped wherever it dies. */
int station_build_image(const struct store_record *r, const uint8_t *xts, uint8_t **out, size_t *len, char *sha_hex, char *msg,
		       size_t cap)
{
	const struct store_product *p = r->product;
	struct nvs_gen *g = NULL;
	struct nvs_err nerr = {0};
	uint8_t *buf = NULL, sha[32];
	size_t vi = 0;
	int rc = -1;

	*out = NULL;
	if (nvs_gen_new(&g, p->part_size, p->nvs_version == 2 ? NVS_VERSION_2 : NVS_VERSION_1, &nerr)) {
		snprintf(msg, cap, "NVS generator: %s", nerr.msg);
		goto out;
	}
	for (size_t i = 0; i < p->n_fields; i++) {
		const struct store_field *f = &p->fields[i];
		if (!strcmp(f->type, "namespace")) {
			if (nvs_gen_add_row(g, f->key, "namespace", "", "", 0, &nerr)) {
				snprintf(msg, cap, "NVS row '%s': %s", f->key, nerr.msg);
				goto out;
			}
			continue;
		}
		if (vi >= r->n_values || r->values[vi].field != f) {
			snprintf(msg, cap, "record %s has no value for '%s'", r->record_id, f->key);
			goto out;
		}
		if (nvs_gen_add_row(g, f->key, f->type, f->encoding, (const char *)r->values[vi].data,
				    r->values[vi].len, &nerr)) {
			snprintf(msg, cap, "NVS row '%s': %s", f->key, nerr.msg);
			goto out;
		}
		vi++;
	}
	buf = malloc(p->part_size);
	if (!buf) {
		snprintf(msg, cap, "out of memory");
		goto out;
	}
	if (nvs_gen_finish(g, xts, buf, p->part_size, len, &nerr)) {
		snprintf(msg, cap, "NVS image: %s", nerr.msg);
		goto out;
	}
	if (!EVP_Digest(buf, *len, sha, NULL, EVP_sha256(), NULL)) {
		snprintf(msg, cap, "sha256 failed");
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(sha_hex + 2 * i, 3, "%02x", sha[i]);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, p->part_size);
		free(buf);
	}
	nvs_gen_free(g);
	return rc;
}
