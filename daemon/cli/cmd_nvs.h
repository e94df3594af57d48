/* espfab nvs's shared internals (private to daemon/cli): the parsed command
 * line (cmd_nvs.c) and the sub-commands that act on it (cmd_nvs_gen.c). */
#ifndef ESPFAB_CMD_NVS_H
#define ESPFAB_CMD_NVS_H

#include <stdbool.h>
#include <stdio.h>

#include "espfab/nvs.h"

#define NVS_CLI_SIZE_MAX (256u * 1024 * 1024)
#define NVS_EXIT_INPUT 254 /* the reference's sys.exit(-2) for input errors */

enum nvs_cli_sub { NVS_CLI_SUB_GENERATE, NVS_CLI_SUB_ENCRYPT, NVS_CLI_SUB_GENKEY, NVS_CLI_SUB_DECRYPT };

enum nvs_cli_opt_id {
	NVS_CLI_OPT_VERSION,
	NVS_CLI_OPT_OUTDIR,
	NVS_CLI_OPT_KEYGEN,
	NVS_CLI_OPT_KEYFILE,
	NVS_CLI_OPT_INPUTKEY,
	NVS_CLI_OPT_KP_HMAC,
	NVS_CLI_OPT_KP_HMAC_KEYGEN,
	NVS_CLI_OPT_KP_HMAC_KEYFILE,
	NVS_CLI_OPT_KP_HMAC_INPUTKEY,
	NVS_CLI_OPT_COUNT
};

struct nvs_cli_args {
	enum nvs_cli_sub sub;
	enum nvs_version version; /* --version, checked while parsing */
	const char *opt[NVS_CLI_OPT_COUNT]; /* value, or "" for a flag given, NULL if absent */
	const char **pos;
	int npos;
};

void nvs_cli_usage(FILE *f);
/* The sub-commands; each returns the exit status after its output. */
int nvs_cli_generate(const struct nvs_cli_args *a, bool encrypt);
int nvs_cli_generate_key(const struct nvs_cli_args *a);
int nvs_cli_decrypt(const struct nvs_cli_args *a);

#endif
