/* espfabd's configuration: SYSCONFDIR/espfab/espfabd.conf, then the command
 * line. The one reader of that file: espfabd and the espfab command (which
 * takes the database, socket and seal key from it) both parse it here.
 *
 * Format (espfabd.conf(5)): "key = value" lines, '#' comments, and
 * "[port NAME]" sections whose keys (path, baud, before) describe one fixture
 * slot. Top-level "port = PATH" lines add unnamed ports. Parsing is a pure
 * function over a buffer (fuzzed); errors are one line "file:line: reason".
 * Accepted old spellings (db = for database =) are kept as warnings in the
 * struct for the caller to print. A struct config is plain data: no heap,
 * copied freely.
 */
#ifndef ESPFAB_CTL_CONFIG_H
#define ESPFAB_CTL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/paths.h"
#include "espfab/reset_mode.h" /* before = enum reset_mode, parsed by reset_mode_parse() */

#define CONFIG_MAX_PORTS 64
#define CONFIG_PATH_MAX 256
#define CONFIG_NAME_MAX 64
#define CONFIG_MAX_WARNINGS 4
#define CONFIG_LEASE_MAX 1000 /* the store's STORE_LEASE_MAX (ctl does not include the store) */
#define CONFIG_DEFAULT_PATH ESPFAB_CONFIG_FILE
#define CONFIG_DEFAULT_SOCKET ESPFAB_DEFAULT_SOCKET
#define CONFIG_DEFAULT_DB ESPFAB_DEFAULT_DB

enum config_error {
	CONFIG_OK = 0,
	CONFIG_ESYNTAX = -1, /* malformed line */
	CONFIG_EKEY = -2,    /* unknown key or section */
	CONFIG_EVALUE = -3,  /* bad value for a known key */
	CONFIG_EIO = -4,     /* the file could not be read */
	CONFIG_EUSAGE = -5,  /* bad command line */
};

struct config_err {
	int code;
	unsigned line; /* 1-based line in the file, 0 for the command line */
	char msg[320]; /* "file:line: reason" */
};

struct config_port {
	char name[CONFIG_NAME_MAX]; /* slot name shown to operators (defaults to the path) */
	char path[CONFIG_PATH_MAX]; /* device path or socket://HOST:PORT */
	uint32_t baud;              /* 0: the global baud */
	int before;                 /* enum reset_mode, or -1: the global one */
};

struct config {
	char db_path[CONFIG_PATH_MAX];
	char socket_path[CONFIG_PATH_MAX];
	char station[CONFIG_NAME_MAX];
	char group[CONFIG_NAME_MAX];     /* control socket group ("espfab") */
	char seal_key[CONFIG_PATH_MAX];  /* file with the store's sealing key, or "" */
	char uplink_url[CONFIG_PATH_MAX];/* "" = no uplink (see uplink.h) */
	char uplink_token[CONFIG_PATH_MAX]; /* file with a bearer token, or "" */
	char outbox_path[CONFIG_PATH_MAX];  /* journal of held results (outbox.h); "" = memory only */
	uint32_t baud;                   /* flashing baud rate (sync is always 115200) */
	enum reset_mode before;
	int autodiscover;                /* 1: also watch USB bridges by VID:PID */
	unsigned poll_ms;                /* port watcher period */
	unsigned max_clients;
	int verify_readback;             /* 1: verify by MD5 and by reading back + decoding */
	uint32_t table_offset;           /* where devices' partition tables are read */
	unsigned shutdown_grace_s;       /* SIGTERM: time in-flight writes get to finish */
	unsigned lease;                  /* records set aside for this station (store_lease_fill), 0 = none */
	size_t nports;
	struct config_port ports[CONFIG_MAX_PORTS];
	/* "file:line: ..." lines about accepted old spellings, in file order
	 * (at most CONFIG_MAX_WARNINGS kept). */
	unsigned nwarnings;
	char warnings[CONFIG_MAX_WARNINGS][320];
};

/* Compiled-in defaults. */
void config_defaults(struct config *c);

/* After everything is read: a PostgreSQL database without an `outbox`
 * setting gets its journal of held results in the state directory
 * (state_dir, systemd's $STATE_DIRECTORY, may hold several paths split by
 * ':', the first is taken; NULL: the default database's folder). A SQLite
 * database is never unreachable and needs none. */
void config_default_outbox(struct config *c, const char *state_dir);

/* Parse a whole file held in text[0..len) into c (which holds defaults or
 * earlier values); fname is only used in messages. On error c may be partly
 * updated: callers discard it. */
int config_parse(struct config *c, const char *text, size_t len, const char *fname, struct config_err *err);

/* Read and parse path. missing_ok: a missing file is not an error. */
int config_load(struct config *c, const char *path, int missing_ok, struct config_err *err);

/* What every program does with its --config: defaults, then the file at
 * path, or at CONFIG_DEFAULT_PATH when path is NULL. A missing default file
 * is a station without one; a missing named file is the operator's mistake.
 * An error is printed on stderr as "prog: file:line: reason"; the accepted
 * old spellings stay in c->warnings for the caller to print or log. Returns
 * 0 or a config_error. */
int config_read(struct config *c, const char *path, const char *prog);

/* Add a port by path (and optional slot name); CONFIG_EVALUE when full or bad. */
int config_add_port(struct config *c, const char *name, const char *path, struct config_err *err);


/* A flash offset: 4 KiB-aligned, decimal or 0x hex, at most 16 MiB. */
int config_parse_offset(const char *s, uint32_t *out);

/* Parse a baud rate (300..4000000). */
int config_parse_baud(const char *s, uint32_t *out);

#endif
