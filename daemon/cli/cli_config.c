/* The daemon's configuration as the espfab command sees it: read with the
 * daemon's own parser (config.c), so both agree on every key. */
#include <stdio.h>

#include "cli.h"
#include "config.h"

int cli_config(const struct cli_globals *g, struct config *cfg)
{
	struct config_err err;
	const char *path = g->config_path ? g->config_path : CLI_DEFAULT_CONFIG;

	config_defaults(cfg);
	/* A missing default file means a station without one; a missing
	 * --config file is the operator's mistake. */
	if (config_load(cfg, path, !g->config_path, &err)) {
		fprintf(stderr, "espfab: %s\n", err.msg);
		return -1;
	}
	for (unsigned i = 0; i < cfg->nwarnings; i++)
		fprintf(stderr, "espfab: warning: %s\n", cfg->warnings[i]);
	return 0;
}
