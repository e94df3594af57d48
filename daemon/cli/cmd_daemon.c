/* Placeholder until the daemon commands land; replaced by their owner. */
#include <stdio.h>

#include "cli.h"

static int not_yet(char **argv)
{
	fprintf(stderr, "espfab: '%s' is not built yet\n", argv[0]);
	return 2;
}

int cmd_batch(int argc, char **argv, const struct cli_globals *g) { (void)argc; (void)g; return not_yet(argv); }
int cmd_status(int argc, char **argv, const struct cli_globals *g) { (void)argc; (void)g; return not_yet(argv); }
int cmd_watch(int argc, char **argv, const struct cli_globals *g) { (void)argc; (void)g; return not_yet(argv); }
