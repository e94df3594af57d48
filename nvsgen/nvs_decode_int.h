/* Private to espfab_nvsgen: what the NVS decoder's files share
 * (nvs_decode.c: entry point and names; nvs_decode_page.c: the bytes of
 * pages and entries; nvs_decode_values.c: values, blobs and duplicates). */
#ifndef ESPFAB_NVS_DECODE_INT_H
#define ESPFAB_NVS_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/nvs_decode.h"

#define PAGE_VERSION_1 0xFFu
#define PAGE_VERSION_2 0xFEu

#define NS_COUNT 256u

struct decoder {
	struct nvs_decode *d;
	size_t item_cap, problem_cap, value_cap, blob_cap;
	/* namespace index -> position in d->namespaces + 1 (0: undefined) */
	unsigned ns_pos[NS_COUNT];
	char ns_name[NS_COUNT][NVS_DECODE_KEY_LEN + 1];
	bool ns_defined[NS_COUNT];
};


void nvsd_set_err(struct nvs_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Record a problem (the image is read on); NVS_ENOMEM if the list cannot grow. */
int nvsd_problem(struct decoder *dc, enum nvs_decode_problem_kind kind, uint32_t page, int slot, const char *fmt,
		 ...) __attribute__((format(printf, 5, 6)));
/* Make room for one more element of *arr (elem bytes each). */
int nvsd_grow(void **arr, size_t *cap, size_t count, size_t elem);

/* nvs_decode_page.c */
int nvsd_decrypt_image(uint8_t *img, size_t len, const uint8_t *key, struct nvs_err *err);
void nvsd_decode_header(struct nvs_decode_page *pg, const uint8_t *p, uint32_t index);
int nvsd_check_page(struct decoder *dc, const struct nvs_decode_page *pg, const uint8_t *p);
int nvsd_decode_page_entries(struct decoder *dc, uint32_t page, const uint8_t *p, struct nvs_err *err);

/* nvs_decode_values.c: namespaces, values, reassembled blobs and shadowed
 * duplicates from the decoded items. */
int nvsd_build_values(struct decoder *dc);

#endif
