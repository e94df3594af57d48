/* The control protocol: newline-delimited JSON over espfabd's unix socket.
 *
 * Request:  {"v":1,"id":<any JSON scalar>,"op":"<op>", ...op fields}
 * Response: {"v":1,"id":<same>,"ok":true,"result":{...}}
 *           {"v":1,"id":<same or null>,"ok":false,"error":{"code":"<code>","message":"<one line>"}}
 * Event:    {"v":1,"event":"<kind>", ...}  (only to subscribed clients)
 *
 * The version is required on every request (OpenSMTPD's imsg discipline: a
 * client built for another protocol fails loudly instead of misreading).
 * proto_parse_request() is a pure function over one line (unit tested and
 * fuzzed); schemas/control-*.json describe the same messages.
 */
#ifndef ESPFABD_PROTO_H
#define ESPFABD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTO_VERSION 1
#define PROTO_MAX_LINE (64 * 1024)
#define PROTO_NAME_MAX 64
#define PROTO_MAX_PORTS 64

enum proto_error {
	PROTO_OK = 0,
	PROTO_EMALFORMED = -1, /* not a JSON object */
	PROTO_EVERSION = -2,   /* "v" missing or not ours */
	PROTO_EOP = -3,        /* "op" missing or unknown */
	PROTO_EARG = -4,       /* an op's field missing or invalid */
};

enum proto_op {
	PROTO_OP_STATUS = 0,
	PROTO_OP_BATCH_ADD,
	PROTO_OP_BATCH_LIST,
	PROTO_OP_BATCH_SHOW,
	PROTO_OP_BATCH_PAUSE,
	PROTO_OP_BATCH_RESUME,
	PROTO_OP_BATCH_CANCEL,
	PROTO_OP_RECORDS_LIST,
	PROTO_OP_RECORDS_STATS,
	PROTO_OP_AUDIT,
	PROTO_OP_SUBSCRIBE,
	PROTO_OP_UNSUBSCRIBE,
	PROTO_OP_STORE,        /* {"request":{...}}: forwarded to store_request() */
	PROTO_OP_COUNT_ /* not an op */
};

struct proto_err {
	int code;
	char msg[256]; /* one line; names the field, never echoes more than 40 bytes of input */
};

struct proto_request {
	enum proto_op op;
	json_t *id;                       /* owned reference (json null when absent) */
	char product[PROTO_NAME_MAX];     /* batch.add; filter for records.* ("" = all) */
	char state[16];                   /* records.list filter ("" = all) */
	char mac[18];                     /* audit filter, "aa:bb:cc:dd:ee:ff" ("" = all) */
	char since[40];                   /* audit filter, ISO-8601 or "" */
	int64_t batch;                    /* batch.show/pause/resume/cancel */
	int64_t count;                    /* batch.add */
	int64_t limit;                    /* records.list/audit (0 = default) */
	json_t *store_req;                /* store: owned reference to the "request" object */
	size_t nports;                    /* batch.add: restrict to these port names (0 = all) */
	char ports[PROTO_MAX_PORTS][PROTO_NAME_MAX];
};

/* Parse one line (without its newline). On success req holds an owned id
 * reference: release with proto_request_deinit(). On failure req->id still
 * holds the request's id when one could be read (so the error reply can carry
 * it): call proto_request_deinit() in both cases. */
int proto_parse_request(const char *line, size_t len, struct proto_request *req, struct proto_err *err);
void proto_request_deinit(struct proto_request *req);

const char *proto_op_name(enum proto_op op);
/* Stable error code strings for replies: "malformed", "version", "op", "arg",
 * plus the daemon's own ("too_long", "denied", "not_found", "failed", "busy"). */
const char *proto_error_code(enum proto_error e);

/* Build a serialized line (with '\n') for a reply; the caller frees it with
 * free(). result is stolen (may be NULL: {}). Returns NULL on out of memory. */
char *proto_reply_ok(json_t *id, json_t *result);
char *proto_reply_error(json_t *id, const char *code, const char *message);
/* event is stolen; "v" is added. */
char *proto_event_line(json_t *event);

/* Build a request line for clients (op fields are stolen from fields, may be NULL). */
char *proto_request_line(int64_t id, const char *op, json_t *fields);

/* Parse a line the daemon sent (client side): returns a new object or NULL
 * when it is not a JSON object with "v" = PROTO_VERSION. */
json_t *proto_parse_message(const char *line, size_t len, struct proto_err *err);

#endif
