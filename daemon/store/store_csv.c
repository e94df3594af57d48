/* Adapter from nvsgen's csv_reader to the importers' row arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_csv.h"

int store_csv_open(struct store_csv *c, const char *buf, size_t len, unsigned flags)
{
	struct csv_err ce = {0};
	memset(c, 0, sizeof(*c));
	if (csv_reader_new(&c->r, buf, len, flags, 0, &ce)) {
		snprintf(c->msg, sizeof(c->msg), "%s", ce.msg);
		c->line = ce.line;
		return -1;
	}
	return 0;
}

void store_csv_close(struct store_csv *c)
{
	csv_reader_free(c->r);
	free(c->fields);
	free(c->lens);
	memset(c, 0, sizeof(*c));
}

int store_csv_next(struct store_csv *c)
{
	struct csv_record rec;
	struct csv_err ce = {0};
	int rc = csv_reader_next(c->r, &rec, &ce);

	c->n = 0;
	if (rc < 0) {
		snprintf(c->msg, sizeof(c->msg), "%s", ce.msg);
		c->line = ce.line;
		return -1;
	}
	if (rc == 0)
		return 0;
	if (rec.nfields > c->cap) {
		const char **f = realloc(c->fields, rec.nfields * sizeof(*f));
		if (!f)
			goto nomem;
		c->fields = f;
		size_t *l = realloc(c->lens, rec.nfields * sizeof(*l));
		if (!l)
			goto nomem;
		c->lens = l;
		c->cap = rec.nfields;
	}
	for (size_t i = 0; i < rec.nfields; i++) {
		c->fields[i] = rec.fields[i].ptr;
		c->lens[i] = rec.fields[i].len;
	}
	c->n = rec.nfields;
	c->line = rec.line;
	return 1;
nomem:
	snprintf(c->msg, sizeof(c->msg), "out of memory");
	c->line = rec.line;
	return -1;
}
