/* A small client for espfabd's control socket (used by the espfab command
 * and the tests): connect, send one request, read replies and events. */
#ifndef ESPFABD_CLIENT_H
#define ESPFABD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum client_error {
	CLIENT_OK = 0,
	CLIENT_ECONNECT = -1,  /* no daemon on that socket, or not allowed to connect */
	CLIENT_EIO = -2,       /* the connection broke */
	CLIENT_ETIMEDOUT = -3,
	CLIENT_EPROTO = -4,    /* the daemon sent something we cannot read */
	CLIENT_EREMOTE = -5,   /* the daemon answered with an error */
};

struct client_err {
	int code;
	char remote_code[32]; /* the daemon's error code for CLIENT_EREMOTE */
	char msg[320];
};

struct client;

int client_connect(const char *path, struct client **out, struct client_err *err);
void client_free(struct client *c);
int client_fd(const struct client *c);

/* Send a request (fields stolen, may be NULL) and wait for its reply.
 * Events arriving meanwhile are dropped. On success *result is a new
 * reference to the reply's "result". */
int client_call(struct client *c, const char *op, json_t *fields, json_t **result, int timeout_ms,
		struct client_err *err);

/* Send a request without waiting (returns its id in *id). */
int client_send(struct client *c, const char *op, json_t *fields, int64_t *id, struct client_err *err);

/* Next message from the daemon (reply or event), waiting up to timeout_ms
 * (-1: forever). *msg is a new reference. */
int client_next(struct client *c, json_t **msg, int timeout_ms, struct client_err *err);

#endif
