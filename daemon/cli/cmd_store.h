/* The store's commands (cmd_store.c): what the daemon client may share. */
#ifndef ESPFAB_CMD_STORE_H
#define ESPFAB_CMD_STORE_H

#include <jansson.h>
#include <stdio.h>

#include "cli.h"

/* THE DAEMON HOOK. When the user gave --socket, `records list|stats|retire|
 * check`, `product list|show` and `audit` send their request (the JSON that
 * store_request() takes, e.g. {"cmd":"records.stats","product":"lamp"}) to
 * espfabd through this function and print its reply with the same renderer
 * as the local path. The daemon client (cmd_daemon.c) defines it; until it
 * does, the weak reference is NULL and those commands say so.
 * Returns 0 and *reply (caller decrefs), or non-zero with a one-line reason
 * in errbuf. The daemon answers with exactly store_request()'s reply. */
int cli_daemon_request(const struct cli_globals *g, json_t *req, json_t **reply, char *errbuf, size_t errlen);

/* Text renderers for the replies of store_request(): the same output
 * whichever way the reply came. cmd is the request's "cmd". */
void cmd_store_render(FILE *f, const char *cmd, json_t *reply);

#endif
