/* The text renderers of the store's replies (cmd_store.h): the same output
 * whether the reply came from the local store or through espfabd. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cmd_store.h"
#include "cmd_store_hmac.h"

static const char *jstr(json_t *o, const char *k, char *tmp, size_t cap)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
		return tmp;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	return "-";
}

/* A table: header + rows of the given keys, columns as wide as their widest cell. */
static void table(FILE *f, json_t *rows, const char *const *keys, const char *const *heads, size_t n)
{
	size_t w[16] = {0}, i;
	json_t *r;
	char tmp[32];

	for (size_t c = 0; c < n; c++)
		w[c] = strlen(heads[c]);
	json_array_foreach(rows, i, r) for (size_t c = 0; c < n; c++)
	{
		size_t l = strlen(jstr(r, keys[c], tmp, sizeof(tmp)));
		if (l > w[c])
			w[c] = l;
	}
	for (size_t c = 0; c < n; c++)
		fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, heads[c], c + 1 < n ? "  " : "\n");
	json_array_foreach(rows, i, r)
	{
		for (size_t c = 0; c < n; c++)
			fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, jstr(r, keys[c], tmp, sizeof(tmp)),
				c + 1 < n ? "  " : "\n");
		json_t *vals = json_object_get(r, "values");
		const char *k;
		json_t *v;
		json_object_foreach(vals, k, v)
		{
			if (json_is_string(v))
				fprintf(f, "    %s=%s\n", k, json_string_value(v));
			else
				fprintf(f, "    %s=hex:%s\n", k, json_string_value(json_object_get(v, "hex")));
		}
	}
}

void cmd_store_render(FILE *f, const char *cmd, json_t *reply)
{
	if (!strcmp(cmd, "records.list")) {
		static const char *const k[] = {"product", "id", "state", "mac", "station", "port", "bound_at"};
		static const char *const h[] = {"PRODUCT", "ID", "STATE", "MAC", "STATION", "PORT", "BOUND"};
		table(f, json_object_get(reply, "records"), k, h, 7);
	} else if (!strcmp(cmd, "records.stats")) {
		static const char *const k[] = {"product", "total", "available", "reserved", "sent", "verified", "retired"};
		static const char *const h[] = {"PRODUCT", "TOTAL", "AVAILABLE", "RESERVED", "SENT", "VERIFIED", "RETIRED"};
		table(f, json_object_get(reply, "stats"), k, h, 7);
	} else if (!strcmp(cmd, "audit")) {
		static const char *const k[] = {"time", "event", "result", "product", "record_id", "mac",
						"port", "batch_id", "duration_ms", "error"};
		static const char *const h[] = {"TIME", "EVENT", "RESULT", "PRODUCT", "RECORD", "MAC",
						"PORT", "BATCH", "MS", "DETAIL"};
		table(f, json_object_get(reply, "audit"), k, h, 10);
	} else if (!strcmp(cmd, "product.list")) {
		json_t *ps = json_object_get(reply, "products"), *p, *rows = json_array();
		size_t i;
		json_array_foreach(ps, i, p)
		{
			json_t *part = json_object_get(p, "partition"), *rc = json_object_get(p, "records");
			char off[32], size[32];
			snprintf(off, sizeof(off), "0x%llx", (long long)json_integer_value(json_object_get(part, "offset")));
			snprintf(size, sizeof(size), "0x%llx", (long long)json_integer_value(json_object_get(part, "size")));
			json_array_append_new(rows, json_pack("{s:O s:O s:O s:s s:s s:I s:O}", "name", json_object_get(p, "name"),
							      "nvs_version", json_object_get(p, "nvs_version"), "label",
							      json_object_get(part, "label"), "offset", off, "size", size,
							      "fields", (json_int_t)json_array_size(json_object_get(p, "fields")),
							      "available", json_object_get(rc, "available")));
		}
		static const char *const k[] = {"name", "nvs_version", "label", "offset", "size", "fields", "available"};
		static const char *const h[] = {"PRODUCT", "NVS", "PARTITION", "OFFSET", "SIZE", "FIELDS", "AVAILABLE"};
		table(f, rows, k, h, 7);
		json_decref(rows);
	} else if (!strcmp(cmd, "product.show")) {
		json_t *ps = json_object_get(reply, "products"), *p;
		size_t i;
		json_array_foreach(ps, i, p)
		{
			json_t *part = json_object_get(p, "partition"), *rc = json_object_get(p, "records");
			char tmp[32];
			fprintf(f, "product:    %s\n", jstr(p, "name", tmp, sizeof(tmp)));
			fprintf(f, "nvs:        version %s\n", jstr(p, "nvs_version", tmp, sizeof(tmp)));
			fprintf(f, "partition:  %s at 0x%llx, 0x%llx bytes\n", jstr(part, "label", tmp, sizeof(tmp)),
				(long long)json_integer_value(json_object_get(part, "offset")),
				(long long)json_integer_value(json_object_get(part, "size")));
			fprintf(f, "records:   ");
			const char *st;
			json_t *n;
			json_object_foreach(rc, st, n)
				fprintf(f, " %s %lld", st, (long long)json_integer_value(n));
			fprintf(f, "\nfields:\n");
			static const char *const k[] = {"namespace", "key", "type", "encoding", "repeat", "unique"};
			static const char *const h[] = {"  NAMESPACE", "KEY", "TYPE", "ENCODING", "REPEAT", "UNIQUE"};
			json_t *fields = json_deep_copy(json_object_get(p, "fields")), *fl;
			size_t j;
			json_array_foreach(fields, j, fl)
			{
				char ns[64];
				snprintf(ns, sizeof(ns), "  %s", json_string_value(json_object_get(fl, "namespace")));
				json_object_set_new(fl, "namespace", json_string(ns));
			}
			table(f, fields, k, h, 6);
			cmd_hmac_render(f, p);
			json_decref(fields);
			json_t *fw = json_object_get(p, "firmware"), *im;
			if (json_is_object(fw)) {
				fprintf(f, "firmware:   %s\n", jstr(fw, "chip", tmp, sizeof(tmp)));
				fprintf(f, "  %-10s %-10s %-24s %s\n", "OFFSET", "SIZE", "NAME", "SHA256 / FILE");
				json_array_foreach(json_object_get(fw, "images"), j, im)
					fprintf(f, "  0x%-8llx %-10lld %-24s %s %s\n",
						(long long)json_integer_value(json_object_get(im, "offset")),
						(long long)json_integer_value(json_object_get(im, "size")),
						json_string_value(json_object_get(im, "name")) ?: "",
						json_string_value(json_object_get(im, "sha256")) ?: "",
						json_string_value(json_object_get(im, "file")) ?: "");
			}
		}
	} else if (!strcmp(cmd, "records.retire")) {
		char tmp[32];
		fprintf(f, "retired record %s: %s\n", jstr(reply, "retired", tmp, sizeof(tmp)),
			jstr(reply, "reason", tmp, sizeof(tmp)));
	} else if (!strcmp(cmd, "records.check")) {
		fprintf(f, "ok: every record is in exactly one valid state, none reached two devices\n");
	} else if (!strcmp(cmd, "batch.list") || !strcmp(cmd, "batch.show")) {
		static const char *const k[] = {"id", "product", "count", "state", "verified", "failed", "in_flight", "remaining"};
		static const char *const h[] = {"BATCH", "PRODUCT", "COUNT", "STATE", "VERIFIED", "FAILED", "IN_FLIGHT", "REMAINING"};
		table(f, json_object_get(reply, "batches"), k, h, 8);
	} else {
		char *s = json_dumps(reply, JSON_INDENT(2));
		if (s)
			fprintf(f, "%s\n", s);
		free(s);
	}
}
