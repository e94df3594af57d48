/* See wreq.h. */
#include "wreq.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <netinet/in.h>

static int is_get(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

/* /api/batch/<id>/<action>: id is 1..2^53 in decimal without sign or zeros
 * in front. */
static int batch_path(const char *p, struct wreq *out)
{
	static const char prefix[] = "/api/batch/";
	const char *s = p + sizeof(prefix) - 1, *slash;
	int64_t id = 0;

	if (strncmp(p, prefix, sizeof(prefix) - 1))
		return 0;
	slash = strchr(s, '/');
	if (!slash || slash == s || slash - s > 15 || *s == '0')
		return 0;
	for (const char *c = s; c < slash; c++) {
		if (*c < '0' || *c > '9')
			return 0;
		id = id * 10 + (*c - '0');
	}
	if (!strcmp(slash + 1, "pause"))
		out->action = WREQ_PAUSE;
	else if (!strcmp(slash + 1, "resume"))
		out->action = WREQ_RESUME;
	else
		return 0;
	out->batch = id;
	return 1;
}

void wreq_route(const char *method, const char *path, struct wreq *out)
{
	memset(out, 0, sizeof(*out));
	out->route = WREQ_NOT_FOUND;
	if (!method || !path)
		return;
	for (size_t i = 0; i < wassets_n; i++) {
		if (!strcmp(path, wassets[i].path)) {
			out->asset = i;
			out->route = is_get(method) ? WREQ_ASSET : WREQ_BAD_METHOD;
			out->allow = "GET, HEAD";
			return;
		}
	}
	if (!strcmp(path, "/events") || !strcmp(path, "/api/state")) {
		out->route = !is_get(method) ? WREQ_BAD_METHOD : path[1] == 'e' ? WREQ_EVENTS : WREQ_STATE;
		out->allow = "GET, HEAD";
		return;
	}
	if (batch_path(path, out)) {
		out->route = !strcmp(method, "POST") ? WREQ_BATCH_ACTION : WREQ_BAD_METHOD;
		out->allow = "POST";
		return;
	}
}

/* RFC 6750: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int b64token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

int wreq_bearer(const char *h, const char **token, size_t *len)
{
	size_t n = 0;

	*token = NULL;
	*len = 0;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return -1;
	h += 7;
	while (*h == ' ')
		h++;
	while (h[n] && b64token_char(h[n]))
		n++;
	/* Trailing spaces are tolerated, anything else is not. */
	for (size_t i = n; h[i]; i++)
		if (h[i] != ' ' && h[i] != '\t')
			return -1;
	if (!n || n > WREQ_TOKEN_MAX)
		return -1;
	*token = h;
	*len = n;
	return 0;
}

int wreq_token_equal(const char *given, size_t given_len, const char *ours, size_t ours_len)
{
	unsigned char diff = given_len != ours_len;

	for (size_t i = 0; i < ours_len; i++)
		diff |= (unsigned char)(ours[i] ^ (i < given_len ? given[i] : 0));
	return diff == 0;
}

int wreq_token_parse(const char *text, size_t len, char *out, size_t cap, char *msg, size_t msgcap)
{
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len < WREQ_TOKEN_MIN) {
		snprintf(msg, msgcap, "the token is %zu characters; at least %d are needed", len, WREQ_TOKEN_MIN);
		return -1;
	}
	if (len > WREQ_TOKEN_MAX || len >= cap) {
		snprintf(msg, msgcap, "the token is longer than %d characters", WREQ_TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!b64token_char(text[i])) {
			/* The position, never the byte: this is a secret. */
			snprintf(msg, msgcap, "the token has a character outside A-Z a-z 0-9 -._~+/= at position %zu",
				 i + 1);
			return -1;
		}
	}
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

int wreq_listen_parse(const char *s, struct sockaddr_storage *sa, socklen_t *salen, char *msg, size_t msgcap)
{
	char host[64];
	const char *colon, *h = s, *port;
	size_t hl;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char *end = NULL;
	long pn;

	if (!s || !*s) {
		snprintf(msg, msgcap, "empty address (want HOST:PORT, e.g. 127.0.0.1:8080)");
		return -1;
	}
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':') {
			snprintf(msg, msgcap, "'%.80s': an IPv6 address is written [ADDR]:PORT", s);
			return -1;
		}
		h = s + 1;
		hl = (size_t)(rb - h);
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon) {
			snprintf(msg, msgcap, "'%.80s': want HOST:PORT (e.g. 127.0.0.1:8080, [::1]:8080)", s);
			return -1;
		}
		hl = (size_t)(colon - s);
		port = colon + 1;
	}
	if (!hl || hl >= sizeof(host)) {
		snprintf(msg, msgcap, "'%.80s': no host before the port", s);
		return -1;
	}
	errno = 0;
	pn = strtol(port, &end, 10);
	if (!*port || *end || errno || pn < 0 || pn > 65535) {
		snprintf(msg, msgcap, "'%.80s': the port must be a number from 0 to 65535", s);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, port, &hints, &res) || !res || res->ai_addrlen > sizeof(*sa)) {
		snprintf(msg, msgcap, "'%.80s': '%s' is not a numeric IPv4 or IPv6 address", s, host);
		if (res)
			freeaddrinfo(res);
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
