/* Private to the generator (nvs_gen.c: rows in, image out; nvs_gen_write.c:
 * one value or namespace into entries and pages). */
#ifndef ESPFAB_NVS_GEN_INT_H
#define ESPFAB_NVS_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvs_internal.h"

#define NVS_NS_MAX 254u /* index 255 (0xFF) is reserved by the device */

struct nvs_ap_value {
	uint8_t *v;
	size_t len; /* 0 also for "no value": both are false in Python */
};

struct nvs_gen {
	struct nvs_layout l;
	enum nvs_version version;
	uint32_t size;
	unsigned ns_count; /* namespaces created */
	unsigned ns_cur;   /* index rows are written to; 0 = none yet */
	uint8_t ns_len[NVS_NS_MAX + 1];
	char ns_name[NVS_NS_MAX + 1][NVS_KEY_MAX];
	bool sta_extras; /* sta.apinfo/pmk/apsw written */
	struct nvs_ap_value ap_ssid, ap_passwd, ap_authmode;
	struct nvs_scratch scratch;
	struct nvs_xts xts;
};

/* NVS.write_entry(): encoding is lower-cased BEFORE the value is converted
 * (policy encoding-uppercase; the reference converted first). */
int nvs_write_entry(struct nvs_gen *g, const char *key, size_t key_len, const char *enc, size_t enc_len,
		    const uint8_t *value, size_t len, bool from_file, bool missing, struct nvs_err *err);
/* A blob the generator adds itself (the Wi-Fi extras). */
int nvs_write_blob_const(struct nvs_gen *g, const char *key, const uint8_t *data, size_t len, struct nvs_err *err);
/* NVS.write_namespace(), or a switch back to an existing namespace. */
int nvs_write_namespace(struct nvs_gen *g, const char *name, size_t len, struct nvs_err *err);

#endif
