/* espfab records release-lease --station NAME: gives a station's lease of
 * records back to every station (store_lease_release), for a station
 * declared dead (its PC gone for good): until then no other station may
 * take those records. A live station releases its own lease itself (clean
 * shutdown, `lease = 0`).
 *
 * It always writes the database directly (--db, else the configured one),
 * never through espfabd: the daemon is a station and, on PostgreSQL, runs
 * as a station's role, which may release only its own lease; this command
 * runs as an admin's role (docs/postgresql.md "Leases").
 */
#include <espfab/store.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "cmd_lease.h"
#include "config.h"

#define LEASE_PROG "espfab records release-lease"

struct lease_opts {
	const char *station, *reason;
	int json;
};

enum lease_opt_id { LEASE_OPT_STATION, LEASE_OPT_REASON, LEASE_OPT_JSON, LEASE_OPT_HELP };

static const struct cli_opt lease_opts_table[] = {
	{"--station", 0, CLI_ARGS_ONE, LEASE_OPT_STATION, {NULL, NULL}, 0},
	{"--reason", 0, CLI_ARGS_ONE, LEASE_OPT_REASON, {NULL, NULL}, 0},
	{"--json", 0, CLI_ARGS_FLAG, LEASE_OPT_JSON, {NULL, NULL}, 0},
	{"--help", 'h', CLI_ARGS_FLAG, LEASE_OPT_HELP, {NULL, NULL}, 0},
};

static const char lease_usage[] = "usage: espfab [--db DATABASE] records release-lease --station NAME "
				  "[--reason TEXT] [--json]\n";

static int lease_on_opt(void *ctx, const struct cli_opt *opt, char **vals, int nvals)
{
	struct lease_opts *o = ctx;
	const char *val = nvals ? vals[0] : NULL;

	switch ((enum lease_opt_id)opt->id) {
	case LEASE_OPT_STATION:
		o->station = val;
		break;
	case LEASE_OPT_REASON:
		o->reason = val;
		break;
	case LEASE_OPT_JSON:
		o->json = 1;
		break;
	case LEASE_OPT_HELP:
		fputs(lease_usage, stdout);
		return CLI_ARGS_DONE;
	}
	return 0;
}

int cmd_lease_release(int argc, char **argv, const struct cli_globals *g)
{
	static struct config cfg; /* large: not on the stack */
	struct lease_opts o = {0};
	struct cli_args p = {.prog = LEASE_PROG,
			     .opts = lease_opts_table,
			     .nopts = sizeof(lease_opts_table) / sizeof(lease_opts_table[0]),
			     .style = CLI_ARGS_ESPFAB,
			     .hint = "see 'espfab records --help'",
			     .ctx = &o,
			     .on_opt = lease_on_opt};
	struct store_err err = {0};
	struct store *s = NULL;
	const char *db = g->db_path;
	int64_t n = 0;
	int rc = cli_args_parse(&p, argc, argv, 2);

	if (rc)
		return rc == CLI_ARGS_DONE ? 0 : rc;
	if (!o.station || !*o.station) {
		fprintf(stderr, LEASE_PROG ": --station NAME is required (see 'espfab records --help')\n");
		return 2;
	}
	if (!db) {
		if (cli_config(g, &cfg))
			return 1;
		db = cfg.db_path;
	}
	/* No seal key: a release moves no value. */
	if (store_open(&s, db, 0, NULL, &err) ||
	    store_lease_release(s, o.station,
				o.reason && *o.reason ? o.reason : "released by an admin: station declared dead", &n,
				&err)) {
		fprintf(stderr, LEASE_PROG ": %s\n", err.msg);
		store_close(s);
		return 1;
	}
	store_close(s);
	if (o.json) {
		json_t *j = json_pack("{s:s s:I}", "station", o.station, "released", (json_int_t)n);
		char *t = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		json_decref(j);
		if (!t)
			return 1;
		printf("%s\n", t);
		free(t);
	} else
		printf("released %lld record%s leased to station %s\n", (long long)n, n == 1 ? "" : "s", o.station);
	return fflush(stdout) ? 1 : 0;
}
