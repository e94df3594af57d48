/* A small client for espfabd's control socket (used by the espfab command
 * and the tests): connect, send one request, read replies and events. */
#ifndef ESPFAB_CTL_CLIENT_H
#define ESPFAB_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum ctl_client_error {
	CTL_CLIENT_OK = 0,
	CTL_CLIENT_ECONNECT = -1,  /* no daemon on that socket, or not allowed to connect */
	CTL_CLIENT_EIO = -2,       /* the connection broke */
	CTL_CLIENT_ETIMEDOUT = -3,
	CTL_CLIENT_EPROTO = -4,    /* the daemon sent something we cannot read */
	CTL_CLIENT_EREMOTE = -5,   /* the daemon answered with an error */
};

struct ctl_client_err {
	int code;
	char remote_code[32]; /* the daemon's error code for CTL_CLIENT_EREMOTE */
	char msg[320];
};

struct ctl_client;

int ctl_client_connect(const char *path, struct ctl_client **out, struct ctl_client_err *err);
void ctl_client_free(struct ctl_client *c);
int ctl_client_fd(const struct ctl_client *c);

/* Send a request (fields stolen, may be NULL) and wait for its reply.
 * Events arriving meanwhile are dropped. On success *result is a new
 * reference to the reply's "result". */
int ctl_client_call(struct ctl_client *c, const char *op, json_t *fields, json_t **result, int timeout_ms,
		struct ctl_client_err *err);

/* Send a request without waiting (returns its id in *id). */
int ctl_client_send(struct ctl_client *c, const char *op, json_t *fields, int64_t *id, struct ctl_client_err *err);

/* Next message from the daemon (reply or event), waiting up to timeout_ms
 * (-1: forever). *msg is a new reference. */
int ctl_client_next(struct ctl_client *c, json_t **msg, int timeout_ms, struct ctl_client_err *err);

#endif
