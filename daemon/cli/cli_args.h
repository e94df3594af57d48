/* The espfab command's one option parser.
 *
 * Every command family describes its options in a table and gets them back
 * through callbacks; the parser does the spelling: long options anywhere,
 * "--opt=value" and "--opt value", short options alone, with their value
 * attached ("-o0x9000") or clustered ("-qv"), other spellings of an option
 * ("--flash_mode", "-fm"), "--" ending options, and, where the command
 * copies a Python tool, argparse's rules: unique prefixes, negative numbers
 * and words with a space taken as positionals, positionals handed over in
 * runs between options (the caller says how much of a run it takes, the
 * rest is unrecognized, as argparse's consume_positionals() does).
 *
 * Errors are one line on stderr starting "PROG: ", naming the option, and
 * the parse returns 2, argparse's exit status for a usage error. Two
 * wordings: argparse's (the commands that follow nvs_partition_gen.py and
 * gen_esp32part.py) and espfab's own (the other commands).
 */
#ifndef ESPFAB_CLI_ARGS_H
#define ESPFAB_CLI_ARGS_H

#include <stddef.h>

enum cli_args_kind {
	CLI_ARGS_FLAG,     /* no value; "--opt=v" is refused */
	CLI_ARGS_ONE,      /* exactly one value, or struct cli_opt's nargs values */
	CLI_ARGS_OPTIONAL, /* argparse nargs='?': the next word when it is not an option */
	CLI_ARGS_MANY,     /* argparse nargs='*': the following words up to the next option */
};

enum cli_args_style {
	CLI_ARGS_ARGPARSE, /* "argument --x: expected one argument", "unrecognized arguments: w" */
	CLI_ARGS_ESPFAB,   /* "--x needs a value", "unknown option '--y'" */
};

/* Flags of struct cli_args. */
#define CLI_ARGS_PREFIX 0x1u      /* a unique prefix of a long option names it (argparse allow_abbrev) */
#define CLI_ARGS_DASH_VALUE 0x2u  /* a value may start with '-' ("--port -x" takes "-x", as esptool's loop did) */
#define CLI_ARGS_KEEP_DASHDASH 0x4u /* "--" reaches the positional runs (argparse keeps it in its pattern) */
#define CLI_ARGS_STOP_AT_WORD 0x10u /* the first positional ends the parse (espfab's global options) */
#define CLI_ARGS_NUMBERS 0x8u     /* "-5", "-1.5" are positionals in the ESPFAB style too (ARGPARSE: always) */

#define CLI_ARGS_DONE (-1) /* a callback's "stop here, all is well" (--help was printed) */

struct cli_opt {
	const char *name;     /* "--flash-size": the spelling messages use */
	char short_name;      /* 'o': -o, -oVALUE, -qo VALUE; 0 for none */
	enum cli_args_kind kind;
	int id;               /* handed back to on_opt */
	const char *alias[2]; /* other exact spellings ("--flash_size", "-fs"), or NULL */
	int nargs;            /* CLI_ARGS_ONE: 2 or more for that many values ("--prefix_num START DIGITS") */
};

struct cli_args {
	const char *prog;          /* "espfab part": the head of every message */
	const struct cli_opt *opts;
	size_t nopts;
	unsigned flags;
	enum cli_args_style style;
	const char *hint;          /* ESPFAB style: appended to "unknown option" as " (HINT)", or NULL */
	void *ctx;
	/* One option as given: vals[0..nvals) are its values (0 for a flag or
	 * an absent optional value). Returns 0 to go on, CLI_ARGS_DONE, or the
	 * exit status after printing its own one-line message. */
	int (*on_opt)(void *ctx, const struct cli_opt *o, char **vals, int nvals);
	/* A run of positionals (NULL: every positional is unrecognized). Sets
	 * *used to how many of run[0..n) it takes; the rest are unrecognized.
	 * Returns like on_opt. */
	int (*on_run)(void *ctx, char **run, int n, int *used);
	/* After the last word, before unrecognized words are reported (argparse
	 * names missing required arguments first). May be NULL. */
	int (*on_end)(void *ctx);
	int *stopped;              /* CLI_ARGS_STOP_AT_WORD: set to that word's index (argc: none) */
};

/* Parse argv[first..argc). Returns 0, CLI_ARGS_DONE, or a non-zero exit
 * status after one line on stderr (2 for a usage error). argv's strings are
 * handed to the callbacks as they are (never copied or modified). */
int cli_args_parse(const struct cli_args *p, int argc, char **argv, int first);

/* The name messages use for an option: "-h/--help", or "--offset". */
const char *cli_args_name(const struct cli_opt *o, char *buf, size_t cap);

#endif
