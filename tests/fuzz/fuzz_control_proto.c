/* libFuzzer harness: one control-socket line into the request parser, and
 * every error reply it produces must itself be valid JSON for clients. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	struct ctl_err err = {0};
	struct ctl_err perr;
	char *line;
	json_t *m;
	int rc;

	rc = ctl_parse_request((const char *)data, size, &req, &err);
	if (rc)
		line = ctl_reply_error(req.id, ctl_error_code(rc), err.msg);
	else
		line = ctl_reply_ok(req.id, json_pack("{s:s}", "op", ctl_op_name(req.op)));
	if (!line)
		abort();
	m = ctl_parse_message(line, strlen(line) - 1, &perr);
	if (!m)
		abort(); /* a reply a client cannot read */
	if (memchr(line, '\n', strlen(line) - 1))
		abort(); /* a reply must be exactly one line */
	json_decref(m);
	free(line);
	ctl_request_deinit(&req);
	return 0;
}
