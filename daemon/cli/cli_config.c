/* The daemon's configuration as the espfab command sees it: read by the
 * one reader of espfabd.conf (daemon/ctl/config.c), so both agree on every key. */
#include <stdio.h>

#include "cli.h"
#include "config.h"

int cli_config(const struct cli_globals *g, struct config *cfg)
{
	if (config_read(cfg, g->config_path, "espfab"))
		return -1;
	for (unsigned i = 0; i < cfg->nwarnings; i++)
		fprintf(stderr, "espfab: warning: %s\n", cfg->warnings[i]);
	return 0;
}
