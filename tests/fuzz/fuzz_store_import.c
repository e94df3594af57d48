/* libFuzzer: the store's importers (mfg_gen config -> product, values CSV ->
 * records) on an in-memory database. Input: CONFIG "\n--\n" VALUES, or just
 * VALUES against a fixed config. The first byte picks options. Checks that a
 * failed import leaves nothing behind and the invariant always holds. */
#include <espfab/store.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t table[32] = {0xaa, 0x50, 0x01, 0x02};
static const char default_config[] = "mass_prod,namespace,\nid,data,u32\nProductID,data,string\n"
				     "DeviceSecret,data,hex2bin\nDeviceName,data,string,REPEAT\n";

static int64_t total(struct store *s)
{
	json_t *j = NULL;
	struct store_err err = {0};
	if (store_query_stats(s, NULL, &j, &err))
		abort();
	int64_t n = 0;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(j, "stats"), i, r)
		n += json_integer_value(json_object_get(r, "total"));
	json_decref(j);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store *s;
	static unsigned counter;
	struct store_err err = {0};
	char name[32];

	/* A fresh database now and then keeps each run small and fast while
	 * still letting imports meet earlier ones (duplicate ids, unique values). */
	if (s && counter % 64 == 0) {
		store_close(s);
		s = NULL;
	}
	if (!s && store_open(&s, ":memory:", STORE_OPEN_CREATE, NULL, &err))
		abort();
	if (size < 1)
		return 0;
	uint8_t opt = data[0];
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	const char *cfg = default_config, *vals = text;
	size_t cfg_len = strlen(default_config), vals_len = len;
	const char *sep = memmem(text, len, "\n--\n", 4);
	if (sep) {
		cfg = text;
		cfg_len = (size_t)(sep - text);
		vals = sep + 4;
		vals_len = len - cfg_len - 4;
	}
	snprintf(name, sizeof(name), "p%u", counter++ % 4);
	/* Reuse the name when it exists: imports then also meet earlier records. */
	static const char *const uniq[] = {"DeviceSecret"};
	struct store_product_spec spec = {.name = name, .config_csv = cfg, .config_len = cfg_len,
					  .config_source = "config.csv", .part_table = table,
					  .part_table_len = sizeof(table), .part_label = "nvs", .part_offset = 0x9000,
					  .part_size = (opt & 4) ? 0x3000 : 0x6000, .nvs_version = (opt & 1) ? 1 : 2,
					  .unique = uniq, .n_unique = (opt & 2) ? 1 : 0};
	int prc = store_product_add(s, &spec, &err);
	if (prc && prc != STORE_EEXIST) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	int64_t before = total(s);
	struct store_import_opts o = {.product = name, .source = "values.csv", .base_dir = "/nonexistent",
				      .id_column = (opt & 8) ? "DeviceName" : NULL};
	size_t n = 0;
	int rc = store_import_csv(s, &o, vals, vals_len, &n, &err);
	int64_t after = total(s);
	/* all or nothing */
	if (rc ? after != before : after != before + (int64_t)n)
		abort();
	if (rc && !err.msg[0])
		abort();
	if (store_check(s, &err))
		abort();
	return 0;
}
