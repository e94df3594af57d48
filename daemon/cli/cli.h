/* The espfab command: one entry point per command family.
 *
 * main.c parses the global options (those before the command word) and calls
 * the family's function with argv[0] set to the command word. Each returns
 * the process exit status. Every family lives in its own cmd_<word>.c (and
 * cmd_<word>_<part>.c with a private cmd_<word>.h when it is large), and
 * parses its words with the one option parser, cli_args.h. The CLI links
 * espfab_ctl (daemon/ctl/) for the daemon's socket and configuration, never
 * the daemon itself.
 */
#ifndef ESPFAB_CLI_H
#define ESPFAB_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cli_globals {
	const char *db_path;     /* --db PATH, or NULL: the daemon's configured database */
	const char *socket_path; /* --socket PATH, or NULL: the default control socket */
	const char *config_path; /* --config PATH, or NULL: ESPFAB_CONFIG_FILE */
};

#include "espfab/paths.h"

#define CLI_DEFAULT_SOCKET ESPFAB_DEFAULT_SOCKET
#define CLI_DEFAULT_CONFIG ESPFAB_CONFIG_FILE

struct config;
/* The daemon's configuration (--config, else the default file; a missing
 * default file gives the defaults), read by config_read() (daemon/ctl);
 * warnings about old spellings go to stderr. 0, or -1 after a one-line
 * error on stderr. cli_config.c */
int cli_config(const struct cli_globals *g, struct config *cfg);

/* One store request (store_request()'s JSON) through espfabd at
 * g->socket_path; *reply is the caller's. 0, or -1 with a one-line reason
 * in errbuf. cli_remote.c */
/* Connect to espfabd (--socket, else the configured socket); 0, or 1 after a
 * one-line error on stderr. *c is the caller's (ctl_client_free). cmd_daemon.c */
struct ctl_client;
int cli_connect_daemon(const struct cli_globals *g, struct ctl_client **c);
/* The control socket: --socket, else the configuration's, into buf. */
const char *cli_socket_path(const struct cli_globals *g, char *buf, size_t cap);
/* A positive decimal id; 0, or -1. cmd_daemon.c */
int cli_parse_id(const char *s, int64_t *out);

int cli_daemon_request(const struct cli_globals *g, json_t *req, json_t **reply, char *errbuf, size_t errlen);

int cmd_nvs(int argc, char **argv, const struct cli_globals *g);      /* cmd_nvs.c */
int cmd_nvs_dump(int argc, char **argv, const struct cli_globals *g); /* cmd_nvs_dump.c: "nvs dump" */
int cmd_mfg(int argc, char **argv, const struct cli_globals *g);      /* cmd_mfg.c */
int cmd_part(int argc, char **argv, const struct cli_globals *g);     /* cmd_part.c */
int cmd_flash(int argc, char **argv, const struct cli_globals *g);    /* cmd_flash.c */
int cmd_records(int argc, char **argv, const struct cli_globals *g);  /* cmd_store.c */
int cmd_product(int argc, char **argv, const struct cli_globals *g);  /* cmd_store.c */
int cmd_audit(int argc, char **argv, const struct cli_globals *g);    /* cmd_store.c */
int cmd_batch(int argc, char **argv, const struct cli_globals *g);    /* cmd_daemon.c */
int cmd_status(int argc, char **argv, const struct cli_globals *g);   /* cmd_daemon.c */
int cmd_watch(int argc, char **argv, const struct cli_globals *g);    /* cmd_watch.c */
int cmd_secure_cert(int argc, char **argv, const struct cli_globals *g); /* cmd_secure_cert.c */
int cmd_certs(int argc, char **argv, const struct cli_globals *g);    /* cmd_certs.c */

#endif
