/* Private: does a record's value fit its NVS type? Used by the importer so a
 * value the generator would refuse is refused at import, not on the line. */
#ifndef ESPFAB_STORE_FIT_H
#define ESPFAB_STORE_FIT_H

#include "store_int.h"

/* One value of a data field (type "data"; "file" fields are bytes as read).
 * 0, or STORE_EINPUT with a reason in why (never the value). */
int store_fit_value(const struct store_field *f, int nvs_version, const uint8_t *v, size_t len, char *why,
		    size_t why_len);

/* The whole record through the NVS generator at the product's partition
 * size: catches what only the layout knows (the image is full, ...).
 * values[i] belongs to p->fields[i] (NULL for namespace rows). */
int store_fit_record(const struct store_product *p, const uint8_t *const *values, const size_t *lens, char *why,
		     size_t why_len);

/* The record's NVS partition image (xts_key NULL: plain). values as above. */
int store_nvs_image(const struct store_product *p, const uint8_t *const *values, const size_t *lens,
		    const uint8_t *xts_key, uint8_t *buf, size_t cap, size_t *out_len, char *why, size_t why_len);

#endif
