/* The records store through espfabd (--socket): cmd_store.c's queries are
 * sent as the daemon's "store" op, which runs the same store_request() the
 * direct path runs, so both print the same thing through one renderer. */
#include <stdio.h>

#include <jansson.h>

#include "cli.h"
#include "ctl_client.h"

#define REMOTE_TIMEOUT_MS 30000

int cli_daemon_request(const struct cli_globals *g, json_t *req, json_t **reply, char *errbuf, size_t errlen)
{
	struct ctl_client *c = NULL;
	struct ctl_client_err err = {0};
	int rc;

	*reply = NULL;
	if (ctl_client_connect(g->socket_path, &c, &err)) {
		snprintf(errbuf, errlen, "%s", err.msg);
		return -1;
	}
	rc = ctl_client_call(c, "store", json_pack("{s:O}", "request", req), reply, REMOTE_TIMEOUT_MS, &err);
	ctl_client_free(c);
	if (rc) {
		snprintf(errbuf, errlen, "%s", err.msg);
		return -1;
	}
	return 0;
}
