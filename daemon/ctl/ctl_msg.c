/* Control protocol messages. See ctl_msg.h. */
#include "espfab/err.h"
#include "ctl_msg.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[CTL_OP_COUNT_] = {
	[CTL_OP_STATUS] = "status",
	[CTL_OP_BATCH_ADD] = "batch.add",
	[CTL_OP_BATCH_LIST] = "batch.list",
	[CTL_OP_BATCH_SHOW] = "batch.show",
	[CTL_OP_BATCH_PAUSE] = "batch.pause",
	[CTL_OP_BATCH_RESUME] = "batch.resume",
	[CTL_OP_BATCH_CANCEL] = "batch.cancel",
	[CTL_OP_RECORDS_LIST] = "records.list",
	[CTL_OP_RECORDS_STATS] = "records.stats",
	[CTL_OP_AUDIT] = "audit",
	[CTL_OP_SUBSCRIBE] = "subscribe",
	[CTL_OP_UNSUBSCRIBE] = "unsubscribe",
	[CTL_OP_STORE] = "store",
};

const char *ctl_op_name(enum ctl_op op)
{
	if ((unsigned)op < CTL_OP_COUNT_)
		return op_names[op];
	return "?";
}

const char *ctl_error_code(enum ctl_error e)
{
	switch (e) {
	case CTL_OK:
		return "ok";
	case CTL_EMALFORMED:
		return "malformed";
	case CTL_EVERSION:
		return "version";
	case CTL_EOP:
		return "op";
	case CTL_EARG:
		return "arg";
	}
	return "malformed";
}

ERR_DEFINE_FAIL(static, fail, ctl_err)

/* A short, printable rendering of untrusted text for an error message. */
static void quote(char *dst, size_t cap, const char *s)
{
	size_t j = 0;

	for (size_t i = 0; s[i] && j + 1 < cap && i < 40; i++)
		dst[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	dst[j] = '\0';
}

static int get_string(json_t *o, const char *key, char *dst, size_t cap, int required, struct ctl_err *err)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, CTL_EARG, "missing field '%s'", key);
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, CTL_EARG, "field '%s' must be a string", key);
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s) || strlen(s) >= cap)
		return fail(err, CTL_EARG, "field '%s' is too long or holds a NUL", key);
	for (const char *q = s; *q; q++)
		if (!isprint((unsigned char)*q))
			return fail(err, CTL_EARG, "field '%s' holds a control character", key);
	if (required && !*s)
		return fail(err, CTL_EARG, "field '%s' is empty", key);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int get_int(json_t *o, const char *key, int64_t min, int64_t max, int required, int64_t *out,
		   struct ctl_err *err)
{
	json_t *v = json_object_get(o, key);
	json_int_t i;

	if (!v || json_is_null(v)) {
		if (required)
			return fail(err, CTL_EARG, "missing field '%s'", key);
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return fail(err, CTL_EARG, "field '%s' must be an integer", key);
	i = json_integer_value(v);
	if (i < min || i > max)
		return fail(err, CTL_EARG, "field '%s' must be %lld..%lld", key, (long long)min, (long long)max);
	*out = i;
	return 0;
}

static int valid_mac(const char *s)
{
	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

static int parse_fields(json_t *o, struct ctl_request *req, struct ctl_err *err)
{
	int rc = 0;

	switch (req->op) {
	case CTL_OP_STATUS:
	case CTL_OP_BATCH_LIST:
	case CTL_OP_SUBSCRIBE:
	case CTL_OP_UNSUBSCRIBE:
		break;
	case CTL_OP_BATCH_ADD: {
		json_t *ports = json_object_get(o, "ports");
		rc = get_string(o, "product", req->product, sizeof(req->product), 1, err);
		if (!rc)
			rc = get_int(o, "count", 1, 10000000, 1, &req->count, err);
		if (rc || !ports || json_is_null(ports))
			break;
		if (!json_is_array(ports) || json_array_size(ports) > CTL_MAX_PORTS) {
			rc = fail(err, CTL_EARG, "field 'ports' must be an array of at most %d names", CTL_MAX_PORTS);
			break;
		}
		for (size_t i = 0; i < json_array_size(ports); i++) {
			json_t *p = json_array_get(ports, i);
			const char *s = json_string_value(p);
			if (!s || !*s || strlen(s) >= CTL_NAME_MAX || json_string_length(p) != strlen(s)) {
				rc = fail(err, CTL_EARG, "field 'ports'[%zu] must be a non-empty name", i);
				break;
			}
			memcpy(req->ports[req->nports++], s, strlen(s) + 1);
		}
		break;
	}
	case CTL_OP_BATCH_SHOW:
	case CTL_OP_BATCH_PAUSE:
	case CTL_OP_BATCH_RESUME:
	case CTL_OP_BATCH_CANCEL:
		rc = get_int(o, "batch", 1, INT64_MAX, 1, &req->batch, err);
		break;
	case CTL_OP_RECORDS_LIST:
		rc = get_string(o, "product", req->product, sizeof(req->product), 0, err);
		if (!rc)
			rc = get_string(o, "state", req->state, sizeof(req->state), 0, err);
		if (!rc)
			rc = get_int(o, "limit", 1, 1000000, 0, &req->limit, err);
		break;
	case CTL_OP_RECORDS_STATS:
		rc = get_string(o, "product", req->product, sizeof(req->product), 0, err);
		break;
	case CTL_OP_AUDIT:
		rc = get_string(o, "since", req->since, sizeof(req->since), 0, err);
		if (!rc)
			rc = get_string(o, "mac", req->mac, sizeof(req->mac), 0, err);
		if (!rc && req->mac[0] && !valid_mac(req->mac))
			rc = fail(err, CTL_EARG, "field 'mac' must look like aa:bb:cc:dd:ee:ff");
		if (!rc)
			rc = get_int(o, "limit", 1, 1000000, 0, &req->limit, err);
		if (!rc)
			rc = get_int(o, "batch", 0, INT64_MAX, 0, &req->batch, err);
		break;
	case CTL_OP_STORE: {
		json_t *r = json_object_get(o, "request");
		json_t *cmd = json_object_get(r, "cmd");
		if (!json_is_object(r) || !json_is_string(cmd)) {
			rc = fail(err, CTL_EARG, "field 'request' must be an object with a string 'cmd'");
			break;
		}
		req->store_req = json_incref(r);
		break;
	}
	case CTL_OP_COUNT_:
		rc = fail(err, CTL_EOP, "unknown op");
		break;
	}
	return rc;
}

int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, struct ctl_err *err)
{
	json_t *root = NULL, *v, *id, *op;
	json_error_t jerr;
	const char *ops;
	int rc = 0;

	memset(req, 0, sizeof(*req));
	req->id = json_null();
	if (len > CTL_MAX_LINE)
		return fail(err, CTL_EMALFORMED, "request longer than %d bytes", CTL_MAX_LINE);
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = fail(err, CTL_EMALFORMED, "not JSON: %s at column %d", jerr.text, jerr.column);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = fail(err, CTL_EMALFORMED, "request must be a JSON object");
		goto out;
	}
	id = json_object_get(root, "id");
	if (id && (json_is_string(id) || json_is_integer(id) || json_is_null(id))) {
		json_decref(req->id);
		req->id = json_incref(id);
	} else if (id) {
		rc = fail(err, CTL_EMALFORMED, "field 'id' must be a string, an integer or null");
		goto out;
	}
	v = json_object_get(root, "v");
	if (!v) {
		rc = fail(err, CTL_EVERSION, "missing protocol version 'v' (this daemon speaks %d)", CTL_VERSION);
		goto out;
	}
	if (!json_is_integer(v) || json_integer_value(v) != CTL_VERSION) {
		rc = fail(err, CTL_EVERSION, "unsupported protocol version (this daemon speaks %d)", CTL_VERSION);
		goto out;
	}
	op = json_object_get(root, "op");
	ops = json_string_value(op);
	if (!ops) {
		rc = fail(err, CTL_EOP, "missing field 'op'");
		goto out;
	}
	req->op = CTL_OP_COUNT_;
	for (int i = 0; i < CTL_OP_COUNT_; i++)
		if (!strcmp(ops, op_names[i]))
			req->op = (enum ctl_op)i;
	if (req->op == CTL_OP_COUNT_) {
		char q[48];
		quote(q, sizeof(q), ops);
		rc = fail(err, CTL_EOP, "unknown op '%s'", q);
		goto out;
	}
	rc = parse_fields(root, req, err);
out:
	json_decref(root);
	return rc;
}

void ctl_request_deinit(struct ctl_request *req)
{
	if (!req)
		return;
	json_decref(req->id);
	req->id = NULL;
	json_decref(req->store_req);
	req->store_req = NULL;
}

static char *dump_line(json_t *o)
{
	char *s, *line;
	size_t n;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

char *ctl_reply_ok(json_t *id, json_t *result)
{
	json_t *o = json_object();

	if (!o) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(o, "v", json_integer(CTL_VERSION));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "result", result ? result : json_object());
	return dump_line(o);
}

char *ctl_reply_error(json_t *id, const char *code, const char *message)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "v", json_integer(CTL_VERSION));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
	return dump_line(o);
}

char *ctl_event_line(json_t *event)
{
	if (!event)
		return NULL;
	json_object_set_new(event, "v", json_integer(CTL_VERSION));
	return dump_line(event);
}

char *ctl_request_line(int64_t id, const char *op, json_t *fields)
{
	json_t *o = fields ? fields : json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "v", json_integer(CTL_VERSION));
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "op", json_string(op));
	return dump_line(o);
}

json_t *ctl_parse_message(const char *line, size_t len, struct ctl_err *err)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, 0, &jerr), *v;

	if (!o || !json_is_object(o)) {
		json_decref(o);
		fail(err, CTL_EMALFORMED, "daemon sent something that is not a JSON object");
		return NULL;
	}
	v = json_object_get(o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != CTL_VERSION) {
		json_decref(o);
		fail(err, CTL_EVERSION, "daemon speaks another protocol version (this client speaks %d)",
		     CTL_VERSION);
		return NULL;
	}
	return o;
}
