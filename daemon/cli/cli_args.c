/* The espfab command's option parser. See cli_args.h. */
#include "cli_args.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct cli_args_state {
	const struct cli_args *p;
	int argc;
	char **argv;
	int i;                  /* next word */
	bool only_pos;          /* after "--" */
	int nextras;
	const char *first_extra;
};

const char *cli_args_name(const struct cli_opt *o, char *buf, size_t cap)
{
	if (o->short_name)
		snprintf(buf, cap, "-%c/%s", o->short_name, o->name);
	else
		snprintf(buf, cap, "%s", o->name);
	return buf;
}

/* The option's name in this parser's messages. */
static const char *msg_name(const struct cli_args *p, const struct cli_opt *o, char *buf, size_t cap)
{
	if (p->style == CLI_ARGS_ESPFAB)
		return o->name;
	return cli_args_name(o, buf, cap);
}

static int usage_error(const struct cli_args *p, const char *what, const struct cli_opt *o, const char *val)
{
	char name[80];

	if (!strcmp(what, "novalue")) {
		if (p->style == CLI_ARGS_ESPFAB)
			fprintf(stderr, "%s: %s takes no value\n", p->prog, o->name);
		else
			fprintf(stderr, "%s: argument %s: ignored explicit argument '%s'\n", p->prog,
				msg_name(p, o, name, sizeof(name)), val);
	} else if (o->nargs > 1) { /* "value": several */
		if (p->style == CLI_ARGS_ESPFAB)
			fprintf(stderr, "%s: %s needs %d values\n", p->prog, o->name, o->nargs);
		else
			fprintf(stderr, "%s: argument %s: expected %d arguments\n", p->prog,
				msg_name(p, o, name, sizeof(name)), o->nargs);
	} else { /* "value" */
		if (p->style == CLI_ARGS_ESPFAB)
			fprintf(stderr, "%s: %s needs a value\n", p->prog, o->name);
		else
			fprintf(stderr, "%s: argument %s: expected one argument\n", p->prog,
				msg_name(p, o, name, sizeof(name)));
	}
	return 2;
}

static bool spelled(const struct cli_opt *o, const char *s, size_t len)
{
	if (strlen(o->name) == len && !strncmp(o->name, s, len))
		return true;
	for (size_t k = 0; k < 2; k++)
		if (o->alias[k] && strlen(o->alias[k]) == len && !strncmp(o->alias[k], s, len))
			return true;
	return false;
}

static const struct cli_opt *find_exact(const struct cli_args *p, const char *s, size_t len)
{
	for (size_t k = 0; k < p->nopts; k++)
		if (spelled(&p->opts[k], s, len))
			return &p->opts[k];
	return NULL;
}

static const struct cli_opt *find_short(const struct cli_args *p, char c)
{
	for (size_t k = 0; k < p->nopts; k++)
		if (p->opts[k].short_name == c)
			return &p->opts[k];
	return NULL;
}

/* argparse's allow_abbrev over the "--" spellings. Returns 0 with *out (or
 * NULL: no match), 2 after the "ambiguous option" line. */
static int find_prefix(const struct cli_args *p, const char *s, size_t len, const struct cli_opt **out)
{
	int n = 0;

	*out = NULL;
	for (size_t k = 0; k < p->nopts; k++)
		if (!strncmp(p->opts[k].name, s, len) && p->opts[k].name[1] == '-') {
			*out = &p->opts[k];
			n++;
		}
	if (n < 2)
		return 0;
	fprintf(stderr, "%s: ambiguous option: %.*s could match", p->prog, (int)len, s);
	n = 0;
	for (size_t k = 0; k < p->nopts; k++)
		if (!strncmp(p->opts[k].name, s, len) && p->opts[k].name[1] == '-')
			fprintf(stderr, "%s %s", n++ ? "," : "", p->opts[k].name);
	fprintf(stderr, "\n");
	*out = NULL;
	return 2;
}

/* argparse's _negative_number_matcher: "-12", "-1.5", "-.5". */
static bool negative_number(const char *a)
{
	const char *d = a + 1;
	bool digits = false, dot = false;

	while (*d >= '0' && *d <= '9')
		d++, digits = true;
	if (*d == '.') {
		dot = true;
		digits = false;
		for (d++; *d >= '0' && *d <= '9'; d++)
			digits = true;
	}
	return !*d && digits && (dot || d > a + 1);
}

/* Is word a positional ("A" in argparse's pattern)? */
static bool positional(const struct cli_args_state *st, const char *w)
{
	const struct cli_args *p = st->p;

	if (st->only_pos || w[0] != '-' || !w[1])
		return true;
	if (!strcmp(w, "--"))
		return false; /* not a value: run() takes it */
	if ((p->flags & CLI_ARGS_NUMBERS) && negative_number(w))
		return true;
	if (p->style == CLI_ARGS_ARGPARSE) {
		const char *eq = strchr(w, '=');
		if (find_exact(p, w, eq && w[1] == '-' ? (size_t)(eq - w) : strlen(w)))
			return false;
		if (negative_number(w))
			return true;
		if (strchr(w, ' ') && !(w[1] == '-' && (p->flags & CLI_ARGS_PREFIX)))
			return true;
	}
	return false;
}

static void extra(struct cli_args_state *st, const char *w)
{
	if (!st->first_extra)
		st->first_extra = w;
	st->nextras++;
}

/* Hand the option its values: an explicit one, or the words that follow. */
static int take(struct cli_args_state *st, const struct cli_opt *o, char *explicit_val)
{
	const struct cli_args *p = st->p;
	char *one[1];
	int first = st->i, n = 0;

	if (o->kind == CLI_ARGS_FLAG) {
		if (explicit_val)
			return usage_error(p, "novalue", o, explicit_val);
		return p->on_opt(p->ctx, o, NULL, 0);
	}
	if (explicit_val) {
		if (o->kind == CLI_ARGS_ONE && o->nargs > 1)
			return usage_error(p, "value", o, NULL);
		one[0] = explicit_val;
		return p->on_opt(p->ctx, o, one, 1);
	}
	switch (o->kind) {
	case CLI_ARGS_FLAG:
		break;
	case CLI_ARGS_ONE:
		for (n = 0; n < (o->nargs > 1 ? o->nargs : 1); n++)
			if (st->i + n >= st->argc ||
			    (!(p->flags & CLI_ARGS_DASH_VALUE) && !positional(st, st->argv[st->i + n])))
				return usage_error(p, "value", o, NULL);
		break;
	case CLI_ARGS_OPTIONAL:
		n = st->i < st->argc && positional(st, st->argv[st->i]) ? 1 : 0;
		break;
	case CLI_ARGS_MANY:
		while (st->i + n < st->argc && positional(st, st->argv[st->i + n]))
			n++;
		break;
	}
	st->i += n;
	return p->on_opt(p->ctx, o, st->argv + first, n);
}

/* "-abc": flags a and b, then c with its value (attached or the next word). */
static int cluster(struct cli_args_state *st, char *w)
{
	const struct cli_args *p = st->p;
	const struct cli_opt *o = find_short(p, w[1]), *prev = NULL;
	int rc;

	if (!o) {
		if (p->style == CLI_ARGS_ESPFAB) {
			fprintf(stderr, "%s: unknown option '%s'%s%s%s\n", p->prog, w, p->hint ? " (" : "",
				p->hint ? p->hint : "", p->hint ? ")" : "");
			return 2;
		}
		extra(st, w);
		return 0;
	}
	/* argparse checks the whole cluster before it acts on any of it:
	 * "-hX" is an error, not help */
	for (char *c = w + 1; *c; c++) {
		if (!(o = find_short(p, *c)))
			return usage_error(p, "novalue", prev, c);
		if (o->kind != CLI_ARGS_FLAG)
			break;
		prev = o;
	}
	for (char *c = w + 1; *c; c++) {
		o = find_short(p, *c);
		if (o->kind != CLI_ARGS_FLAG)
			return take(st, o, c[1] ? c + 1 : NULL);
		if ((rc = take(st, o, NULL)) != 0)
			return rc;
	}
	return 0;
}

static int option(struct cli_args_state *st, char *w)
{
	const struct cli_args *p = st->p;
	const struct cli_opt *o;
	char *eq = w[1] == '-' ? strchr(w, '=') : NULL;
	size_t len = eq ? (size_t)(eq - w) : strlen(w);
	int rc;

	if ((o = find_exact(p, w, strlen(w))))
		return take(st, o, NULL);
	if (eq && (o = find_exact(p, w, len)))
		return take(st, o, eq + 1);
	if (w[1] != '-')
		return cluster(st, w);
	if ((p->flags & CLI_ARGS_PREFIX) && (rc = find_prefix(p, w, len, &o)) != 0)
		return rc;
	if (o)
		return take(st, o, eq ? eq + 1 : NULL);
	if (p->style == CLI_ARGS_ESPFAB) {
		fprintf(stderr, "%s: unknown option '%s'%s%s%s\n", p->prog, w, p->hint ? " (" : "", p->hint ? p->hint : "",
			p->hint ? ")" : "");
		return 2;
	}
	extra(st, w);
	return 0;
}

static int flush(struct cli_args_state *st, int start, int end)
{
	const struct cli_args *p = st->p;
	int used = 0, rc;

	if (end == start)
		return 0;
	if (p->on_run && (rc = p->on_run(p->ctx, st->argv + start, end - start, &used)) != 0)
		return rc;
	for (int k = start + used; k < end; k++)
		extra(st, st->argv[k]);
	return 0;
}

/* Positionals from st->i up to the next option, handed over as one run. */
static int run(struct cli_args_state *st)
{
	int start = st->i, rc;

	for (; st->i < st->argc; st->i++) {
		const char *w = st->argv[st->i];

		if (!st->only_pos && !strcmp(w, "--")) {
			st->only_pos = true;
			if (st->p->flags & CLI_ARGS_KEEP_DASHDASH)
				continue;
			/* in no run: the words before it are one run, the ones after another */
			if ((rc = flush(st, start, st->i)) != 0)
				return rc;
			start = st->i + 1;
			continue;
		}
		if (!positional(st, w))
			break;
	}
	return flush(st, start, st->i);
}

int cli_args_parse(const struct cli_args *p, int argc, char **argv, int first)
{
	struct cli_args_state st = {.p = p, .argc = argc, .argv = argv, .i = first};
	int rc;

	while (st.i < argc) {
		if ((p->flags & CLI_ARGS_STOP_AT_WORD) && positional(&st, argv[st.i]))
			break;
		if ((rc = run(&st)) != 0)
			return rc;
		if (st.i >= argc)
			break;
		if ((rc = option(&st, argv[st.i++])) != 0)
			return rc;
	}
	if (p->stopped)
		*p->stopped = st.i;
	if (p->on_end && (rc = p->on_end(p->ctx)) != 0)
		return rc;
	if (st.nextras) {
		if (p->style == CLI_ARGS_ESPFAB)
			fprintf(stderr, "%s: unexpected argument '%s'\n", p->prog, st.first_extra);
		else
			fprintf(stderr, "%s: unrecognized arguments: %s%s\n", p->prog, st.first_extra,
				st.nextras > 1 ? " ..." : "");
		return 2;
	}
	return 0;
}
