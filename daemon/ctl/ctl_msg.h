/* The control protocol: newline-delimited JSON over espfabd's unix socket.
 *
 * Request:  {"v":1,"id":<any JSON scalar>,"op":"<op>", ...op fields}
 * Response: {"v":1,"id":<same>,"ok":true,"result":{...}}
 *           {"v":1,"id":<same or null>,"ok":false,"error":{"code":"<code>","message":"<one line>"}}
 * Event:    {"v":1,"event":"<kind>", ...}  (only to subscribed clients)
 *
 * The version is required on every request (OpenSMTPD's imsg discipline: a
 * client built for another protocol fails loudly instead of misreading).
 * ctl_parse_request() is a pure function over one line (unit tested and
 * fuzzed); schemas/control-*.json describe the same messages.
 */
#ifndef ESPFAB_CTL_MSG_H
#define ESPFAB_CTL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CTL_VERSION 1
#define CTL_MAX_LINE (64 * 1024)
#define CTL_NAME_MAX 64
#define CTL_MAX_PORTS 64

enum ctl_error {
	CTL_OK = 0,
	CTL_EMALFORMED = -1, /* not a JSON object */
	CTL_EVERSION = -2,   /* "v" missing or not ours */
	CTL_EOP = -3,        /* "op" missing or unknown */
	CTL_EARG = -4,       /* an op's field missing or invalid */
};

enum ctl_op {
	CTL_OP_STATUS = 0,
	CTL_OP_BATCH_ADD,
	CTL_OP_BATCH_LIST,
	CTL_OP_BATCH_SHOW,
	CTL_OP_BATCH_PAUSE,
	CTL_OP_BATCH_RESUME,
	CTL_OP_BATCH_CANCEL,
	CTL_OP_RECORDS_LIST,
	CTL_OP_RECORDS_STATS,
	CTL_OP_AUDIT,
	CTL_OP_SUBSCRIBE,
	CTL_OP_UNSUBSCRIBE,
	CTL_OP_STORE,        /* {"request":{...}}: forwarded to store_request() */
	CTL_OP_COUNT_ /* not an op */
};

struct ctl_err {
	int code;
	char msg[256]; /* one line; names the field, never echoes more than 40 bytes of input */
};

struct ctl_request {
	enum ctl_op op;
	json_t *id;                       /* owned reference (json null when absent) */
	char product[CTL_NAME_MAX];     /* batch.add; filter for records.* ("" = all) */
	char state[16];                   /* records.list filter ("" = all) */
	char mac[18];                     /* audit filter, "aa:bb:cc:dd:ee:ff" ("" = all) */
	char since[40];                   /* audit filter, ISO-8601 or "" */
	int64_t batch;                    /* batch.show/pause/resume/cancel */
	int64_t count;                    /* batch.add */
	int64_t limit;                    /* records.list/audit (0 = default) */
	json_t *store_req;                /* store: owned reference to the "request" object */
	size_t nports;                    /* batch.add: restrict to these port names (0 = all) */
	char ports[CTL_MAX_PORTS][CTL_NAME_MAX];
};

/* Parse one line (without its newline). On success req holds an owned id
 * reference: release with ctl_request_deinit(). On failure req->id still
 * holds the request's id when one could be read (so the error reply can carry
 * it): call ctl_request_deinit() in both cases. */
int ctl_parse_request(const char *line, size_t len, struct ctl_request *req, struct ctl_err *err);
void ctl_request_deinit(struct ctl_request *req);

const char *ctl_op_name(enum ctl_op op);
/* Stable error code strings for replies: "malformed", "version", "op", "arg",
 * plus the daemon's own ("too_long", "denied", "not_found", "failed", "busy"). */
const char *ctl_error_code(enum ctl_error e);

/* Build a serialized line (with '\n') for a reply; the caller frees it with
 * free(). result is stolen (may be NULL: {}). Returns NULL on out of memory. */
char *ctl_reply_ok(json_t *id, json_t *result);
char *ctl_reply_error(json_t *id, const char *code, const char *message);
/* event is stolen; "v" is added. */
char *ctl_event_line(json_t *event);

/* Build a request line for clients (op fields are stolen from fields, may be NULL). */
char *ctl_request_line(int64_t id, const char *op, json_t *fields);

/* Parse a line the daemon sent (client side): returns a new object or NULL
 * when it is not a JSON object with "v" = CTL_VERSION. */
json_t *ctl_parse_message(const char *line, size_t len, struct ctl_err *err);

#endif
