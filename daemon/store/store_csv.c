/* Python csv semantics: a quote opens a quoted field only at the start of a
 * field; inside, "" is a quote and newlines are data; after the closing quote
 * anything up to the delimiter is appended (the module's non-strict mode);
 * \r, \n and \r\n end a record; NUL is an error ("line contains NUL"). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "store_csv.h"

void store_csv_init(struct store_csv *c, const char *buf, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->p = buf;
	c->end = buf + len;
	c->line = 1;
}

static void clear_row(struct store_csv *c)
{
	for (size_t i = 0; i < c->n; i++) {
		OPENSSL_cleanse(c->fields[i], c->lens[i]);
		free(c->fields[i]);
	}
	c->n = 0;
}

void store_csv_deinit(struct store_csv *c)
{
	clear_row(c);
	free(c->fields);
	free(c->lens);
	memset(c, 0, sizeof(*c));
}

struct sbuf {
	char *b;
	size_t n, cap;
};

static int sb_put(struct sbuf *s, char ch)
{
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char *nb = malloc(cap);
		if (!nb)
			return -1;
		if (s->b) {
			memcpy(nb, s->b, s->n);
			OPENSSL_cleanse(s->b, s->n);
			free(s->b);
		}
		s->b = nb;
		s->cap = cap;
	}
	s->b[s->n++] = ch;
	return 0;
}

static int push_field(struct store_csv *c, struct sbuf *s)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		char **f = realloc(c->fields, cap * sizeof(*f));
		if (!f)
			return -1;
		c->fields = f;
		size_t *l = realloc(c->lens, cap * sizeof(*l));
		if (!l)
			return -1;
		c->lens = l;
		c->cap = cap;
	}
	if (!s->b) {
		if (sb_put(s, '\0'))
			return -1;
		s->n = 0;
	}
	s->b[s->n] = '\0';
	c->fields[c->n] = s->b;
	c->lens[c->n] = s->n;
	c->n++;
	s->b = NULL;
	s->n = s->cap = 0;
	return 0;
}

int store_csv_next(struct store_csv *c, unsigned *line)
{
	struct sbuf s = {0};
	int quoted = 0, after_quote = 0, rc;

	clear_row(c);
	*line = c->line;
	if (c->p >= c->end)
		return 0;
	/* An empty line is an empty row, as the csv module yields []. */
	if (*c->p == '\n' || *c->p == '\r') {
		if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
			c->p++;
		c->p++;
		c->line++;
		return 1;
	}
	int at_start = 1;
	while (c->p < c->end) {
		char ch = *c->p++;
		if (ch == '\0') {
			rc = -1;
			goto fail;
		}
		if (quoted) {
			if (ch == '"') {
				if (c->p < c->end && *c->p == '"') {
					c->p++;
					if (sb_put(&s, '"'))
						goto nomem;
				} else {
					quoted = 0;
					after_quote = 1;
				}
				continue;
			}
			if (ch == '\n' || (ch == '\r' && !(c->p < c->end && *c->p == '\n')))
				c->line++;
			if (sb_put(&s, ch))
				goto nomem;
			continue;
		}
		if (ch == '"' && at_start && !after_quote) {
			quoted = 1;
			at_start = 0;
			continue;
		}
		if (ch == ',') {
			if (push_field(c, &s))
				goto nomem;
			at_start = 1;
			after_quote = 0;
			continue;
		}
		if (ch == '\n' || ch == '\r') {
			if (ch == '\r' && c->p < c->end && *c->p == '\n')
				c->p++;
			c->line++;
			break;
		}
		at_start = 0;
		if (sb_put(&s, ch))
			goto nomem;
	}
	/* A quoted field still open at end of input: the csv module raises
	 * "unexpected end of data" only in strict mode; it keeps the text. */
	if (push_field(c, &s))
		goto nomem;
	return 1;
nomem:
	rc = -2;
fail:
	if (s.b) {
		OPENSSL_cleanse(s.b, s.n);
		free(s.b);
	}
	clear_row(c);
	return rc;
}
