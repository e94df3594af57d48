/* espfab records release-lease (cmd_lease.c). */
#ifndef ESPFAB_CMD_LEASE_H
#define ESPFAB_CMD_LEASE_H

#include "cli.h"

/* argv[0] is "records", argv[1] "release-lease". Returns the exit status:
 * 0, 1 (the store refused; one line on stderr), 2 (usage). */
int cmd_lease_release(int argc, char **argv, const struct cli_globals *g);

#endif
