/* espfab-sim's command line (sim_opts.c), private to the program. */
#ifndef ESPFAB_SIM_OPTS_H
#define ESPFAB_SIM_OPTS_H

#include "espfab/simdev.h"

struct opts {
	struct simdev_config cfg;
	const char *link;
	const char *flash_path;
	const char *efuse_path; /* --efuse, else FLASH.efuse beside --flash */
	int tcp_port; /* -1: pty */
	int verbose;
};

/* getopt_long over argv into *o. Prints one line to stderr and returns -1
 * on a bad option; --help prints the usage and exits 0. */
int sim_parse_opts(int argc, char **argv, struct opts *o);

#endif
