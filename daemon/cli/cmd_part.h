/* espfab part's shared internals (private to daemon/cli): the parsed
 * command line and the steps the converter (cmd_part_io.c) and the report
 * (cmd_part_show.c) share. */
#ifndef ESPFAB_CMD_PART_H
#define ESPFAB_CMD_PART_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/part.h"

#define PROG "espfab part"
#define MAX_INPUT (16u * 1024u * 1024u) /* a table is 4K; a CSV this big is a mistake */

struct part_cli_args {
	const char *input;
	const char *output; /* NULL or "-": stdout */
	const char *flash_size;
	bool no_verify;
	bool quiet;
	bool json;
	bool show;
	struct part_opts opts;
	struct part_names *names;
	char **extra; /* the last --extra-partition-subtypes list (argv's words) */
	int nextra;
	const char *pos[2]; /* INPUT, OUTPUT */
	int npos;
};

/* --flash-size's choices (gen_esp32part.py's), smallest first. */
#define PART_CLI_NSIZES 8
extern const char *const part_cli_flash_sizes[PART_CLI_NSIZES];

/* Parse + verify + flash-size check of a->input, as the reference's main()
 * does up to the output; 0 and *t (caller frees), or 2 after one line. */
int part_cli_load(struct part_cli_args *a, struct part_table **t, bool *is_binary);
/* CSV <-> binary into a->output; the exit status. cmd_part_io.c */
int part_cli_convert(struct part_cli_args *a);
/* `espfab part show`; the exit status. cmd_part_show.c */
int part_cli_show(struct part_cli_args *a);
/* part_opts hooks: warnings on stderr, $VAR from the environment. */
void part_cli_warn_stderr(void *user, unsigned line, long pos, const char *text);
const char *part_cli_env_lookup(void *user, const char *name);
uint64_t part_cli_flash_size_bytes(const char *s);

#endif
