/* libFuzzer harness: what espfab-web reads from browsers and its command
 * line. The first byte picks the parser: a request's method and path (the
 * route table), an Authorization header (bearer token), the token file, or
 * a --listen address. Each result is checked against the parser's contract. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A table of our own: the harness fuzzes the routing, not the page. */
static const unsigned char page[] = "<!doctype html>";
const struct wasset wassets[] = {
	{"/", "text/html; charset=utf-8", page, sizeof(page) - 1},
	{"/app.js", "text/javascript; charset=utf-8", page, sizeof(page) - 1},
};
const size_t wassets_n = 2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	uint8_t mode;

	if (!size)
		return 0;
	mode = data[0] % 4;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (mode == 0) {
		/* "METHOD path" */
		struct wreq r;
		char *sp = strchr(s, ' ');
		const char *path = sp ? sp + 1 : "";
		if (sp)
			*sp = '\0';
		wreq_route(s, path, &r);
		if (r.route == WREQ_ASSET && (r.asset >= wassets_n || strcmp(path, wassets[r.asset].path)))
			abort();
		if (r.route == WREQ_BATCH_ACTION &&
		    (strncmp(path, "/api/batch/", 11) || r.batch <= 0 || strcmp(s, "POST") || strstr(path, "..")))
			abort();
		if (r.route == WREQ_BAD_METHOD && !r.allow)
			abort();
	} else if (mode == 1) {
		const char *tok;
		size_t len;
		if (!wreq_bearer(s, &tok, &len)) {
			if (!len || len > WREQ_TOKEN_MAX || tok < s || tok + len > s + strlen(s))
				abort();
			for (size_t i = 0; i < len; i++)
				if (tok[i] == ' ' || tok[i] < 0x21 || tok[i] > 0x7e)
					abort();
			if (!wreq_token_equal(tok, len, tok, len))
				abort();
		}
	} else if (mode == 2) {
		char out[WREQ_TOKEN_MAX + 1], msg[160];
		if (!wreq_token_parse((const char *)data + 1, size - 1, out, sizeof(out), msg, sizeof(msg))) {
			size_t n = strlen(out);
			if (n < WREQ_TOKEN_MIN || n > WREQ_TOKEN_MAX || memcmp(out, data + 1, n))
				abort();
		} else if (!msg[0] || strchr(msg, '\n')) {
			abort();
		}
	} else {
		struct sockaddr_storage sa;
		socklen_t len = 0;
		char msg[160];
		if (!wreq_listen_parse(s, &sa, &len, msg, sizeof(msg))) {
			if (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)
				abort();
		} else if (!msg[0]) {
			abort();
		}
	}
	free(s);
	return 0;
}
