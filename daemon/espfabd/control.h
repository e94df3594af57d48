/* The control socket: a unix stream socket speaking ctl_msg.h's lines.
 *
 * Hygiene (after OpenSMTPD's control.c): the peer's credentials are checked
 * on accept (root, the daemon's own uid, or a member of the control group;
 * others get one "denied" line, are logged and disconnected); at most
 * max_clients at once; a line longer than CTL_MAX_LINE gets a "too_long"
 * error and a disconnect; a malformed line gets an error reply and the client
 * stays; a subscriber that stops reading is dropped once its queue passes
 * CONTROL_MAX_OUTQ. Everything runs on the main thread's loop.
 */
#ifndef ESPFABD_CONTROL_H
#define ESPFABD_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "loop.h"
#include "ctl_msg.h"

#define CONTROL_MAX_OUTQ (4 * 1024 * 1024)

enum control_error {
	CONTROL_OK = 0,
	CONTROL_EBUSY = -1, /* another instance is listening on the path */
	CONTROL_ESYS = -2,  /* a system call failed (errno in the message) */
	CONTROL_EARG = -3,
};

struct control_err {
	int code;
	char msg[320];
};

struct control;
struct control_client;

/* Called once per well-formed request. The handler answers with
 * control_reply()/control_reply_error() (now or later, while the client
 * lives). req is only valid during the call. */
typedef void (*control_handler)(void *ctx, struct control_client *c, const struct ctl_request *req);

struct control_opts {
	const char *path;     /* socket path; ignored when listen_fd >= 0 */
	int listen_fd;        /* an inherited listening socket (systemd), or -1 */
	const char *group;    /* group allowed in besides root and our uid; may not exist */
	unsigned max_clients;
	control_handler handler;
	void *ctx;
};

/* Bind (refusing if another instance answers on the path; a stale socket
 * file is replaced), chmod 0660, chgrp to the group when it exists, listen,
 * and register with the loop. On success *out is owned by the caller. */
int control_new(struct loop *loop, const struct control_opts *o, struct control **out, struct control_err *err);
/* Disconnects every client, closes the socket and unlinks the path it bound. */
void control_free(struct control *c);

/* Adopt an already connected stream socket (tests use a socketpair); the
 * credential check runs as for an accepted client. Takes the fd. */
int control_adopt(struct control *c, int fd);

/* Pure: may this peer use the socket? groups: the peer's supplementary groups. */
int control_peer_allowed(uid_t peer_uid, gid_t peer_gid, const gid_t *groups, size_t ngroups, uid_t self_uid,
			 gid_t allowed_gid, int have_group);

/* Queue a line (with its '\n') to a client; the string is copied. */
void control_send(struct control_client *cl, const char *line);
/* Build and queue a reply; result is stolen. */
void control_reply(struct control_client *cl, json_t *id, json_t *result);
void control_reply_error(struct control_client *cl, json_t *id, const char *code, const char *message);

void control_subscribe(struct control_client *cl, int on);
/* Send an event line to every subscriber; event is stolen. */
void control_broadcast(struct control *c, json_t *event);

size_t control_nclients(const struct control *c);
/* uid of the client's peer (for audit of who queued what). */
uid_t control_client_uid(const struct control_client *cl);

#endif
