/* The feed: one thread that is espfabd's client for the screen. It connects
 * to the control socket (like `espfab watch`), subscribes, pages in the last
 * hour of the audit trail for the rates and the tail, and applies every event
 * to the model, publishing the changes to the hub. When the daemon goes away
 * it marks the station offline and tries again every retry_ms; a daemon that
 * refuses us (socket permissions) is shown as offline with its reason.
 *
 * It holds no database and no serial port: the socket is all it knows.
 */
#ifndef ESPFAB_WFEED_H
#define ESPFAB_WFEED_H

#include "whub.h"
#include "wmodel.h"

enum wfeed_error {
	WFEED_OK = 0,
	WFEED_ESYS = -1,
};

struct wfeed;

struct wfeed_opts {
	const char *socket_path; /* copied */
	int retry_ms;            /* between connection attempts (1000 by default when 0) */
	int stats_ms;            /* republish the rates this often (30000 when 0) */
};

/* Starts the thread. model and hub are borrowed and must outlive the feed;
 * the model is only touched with the hub's lock held. */
int wfeed_start(const struct wfeed_opts *o, struct wmodel *model, struct whub *hub, struct wfeed **out);
/* Stops and joins the thread (within about 200 ms). */
void wfeed_stop(struct wfeed *f);

#endif
