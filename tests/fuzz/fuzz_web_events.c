/* libFuzzer harness: what espfab-web reads from espfabd's socket. The input
 * is lines; each is parsed as the client does (ctl_parse_message) and fed
 * to the model: an object as an event, an array as an audit page, "off" to
 * go offline. After every line the whole state is rendered and serialized
 * as an SSE message, which must be one "data:" line of printable ASCII
 * (nothing from the socket may break the stream or carry control bytes to
 * the page). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_msg.h"
#include "whub.h"
#include "wmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_sse(json_t *data)
{
	char *s = whub_sse("state", data);
	const char *body;

	if (!s)
		abort();
	body = strstr(s, "\ndata: ");
	if (!body || strchr(body + 7, '\n') != s + strlen(s) - 2)
		abort(); /* a newline inside the data line */
	for (const char *p = s; *p; p++)
		if ((*p < 0x20 && *p != '\n') || (unsigned char)*p >= 0x7f)
			abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wmodel *m = NULL;
	json_t *ch = json_array(), *c;
	size_t off = 0, i;
	time_t now = 1800000000;

	if (wmodel_new(&m))
		abort();
	while (off < size) {
		const char *line = (const char *)data + off;
		const char *nl = memchr(line, '\n', size - off);
		size_t len = nl ? (size_t)(nl - line) : size - off;
		off += len + 1;
		now += 7;
		if (len == 3 && !memcmp(line, "off", 3)) {
			wmodel_set_online(m, 0, "gone", now, ch);
		} else if (len && line[0] == '[') {
			json_t *rows = json_loadb(line, len, 0, NULL);
			wmodel_seed_begin(m);
			wmodel_seed_page(m, rows);
			wmodel_seed_end(m, now, ch);
			json_decref(rows);
		} else {
			struct ctl_err perr;
			json_t *msg = ctl_parse_message(line, len, &perr);
			if (msg)
				wmodel_apply(m, msg, now, ch);
			json_decref(msg);
		}
		json_array_foreach(ch, i, c)
			check_sse(json_object_get(c, "data"));
		json_array_clear(ch);
	}
	c = wmodel_state(m, now);
	check_sse(c);
	json_decref(c);
	json_decref(ch);
	wmodel_free(m);
	return 0;
}
