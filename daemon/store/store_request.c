/* One query request (JSON) against the store: the daemon serves these on its
 * socket and the CLI runs the very same function on a local database, so the
 * output cannot differ between the two paths. */
#include <string.h>

#include "espfab/store_hmac.h"
#include "store_int.h"

static const char *str(json_t *req, const char *k)
{
	return json_string_value(json_object_get(req, k));
}

int store_request(struct store *s, json_t *req, json_t **out, struct store_err *err)
{
	const char *cmd = str(req, "cmd");

	*out = NULL;
	if (!json_is_object(req) || !cmd)
		return store_fail_err(err, STORE_EINPUT, "request has no \"cmd\"");
	if (!strcmp(cmd, "records.list")) {
		struct store_record_filter f = {
			.product = str(req, "product"),
			.state = str(req, "state"),
			.reveal = json_is_true(json_object_get(req, "reveal")),
			.limit = json_integer_value(json_object_get(req, "limit")),
		};
		return store_query_records(s, &f, out, err);
	}
	if (!strcmp(cmd, "records.stats"))
		return store_query_stats(s, str(req, "product"), out, err);
	if (!strcmp(cmd, "records.retire")) {
		int rc = store_retire(s, str(req, "product"), str(req, "id"), str(req, "reason"), err);
		if (!rc)
			*out = json_pack("{s:s s:s}", "retired", str(req, "id"), "reason", str(req, "reason"));
		return rc;
	}
	if (!strcmp(cmd, "records.check")) {
		int rc = store_check(s, err);
		if (!rc)
			*out = json_pack("{s:b}", "ok", 1);
		return rc;
	}
	if (!strcmp(cmd, "product.list") || !strcmp(cmd, "product.show")) {
		int rc = store_product_query(s, str(req, "name"), out, err);
		if (!rc && (rc = store_hmac_annotate(s, *out, err))) {
			json_decref(*out);
			*out = NULL;
		}
		return rc;
	}
	if (!strcmp(cmd, "audit")) {
		struct store_audit_filter f = {
			.since = str(req, "since"),
			.mac = str(req, "mac"),
			.product = str(req, "product"),
			.limit = json_integer_value(json_object_get(req, "limit")),
			.after_id = json_integer_value(json_object_get(req, "after")),
		};
		return store_query_audit(s, &f, out, err);
	}
	if (!strcmp(cmd, "batch.list") || !strcmp(cmd, "batch.show"))
		return store_batch_query(s, json_integer_value(json_object_get(req, "id")), out, err);
	return store_fail_err(err, STORE_EINPUT, "unknown request '%s'", cmd);
}
