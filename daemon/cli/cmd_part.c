/* Placeholder until the 'part' family lands; replaced by its owner. */
#include <stdio.h>

#include "cli.h"

int cmd_part(int argc, char **argv, const struct cli_globals *g)
{
	(void)argc;
	(void)g;
	fprintf(stderr, "espfab: '%s' is not built yet\n", argv[0]);
	return 2;
}
