/* espfabd.conf parser. See config.h and espfabd.conf(5). */
#include "config.h"
#include "espfab/err.h"
#include "espfab/fsu.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_FILE_MAX (1024 * 1024)

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->db_path, sizeof(c->db_path), "%s", CONFIG_DEFAULT_DB);
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", CONFIG_DEFAULT_SOCKET);
	snprintf(c->station, sizeof(c->station), "station1");
	snprintf(c->group, sizeof(c->group), "espfab");
	c->baud = 921600;
	c->before = RESET_MODE_CLASSIC;
	c->autodiscover = 0;
	c->poll_ms = 500;
	c->max_clients = 32;
	c->verify_readback = 1;
	c->table_offset = 0x8000;
	c->shutdown_grace_s = 10;
}

static int fail(struct config_err *err, int code, const char *fname, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct config_err *err, int code, const char *fname, unsigned line, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	err_vformat(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (err) {
		err->code = code;
		err->line = line;
		if (fname && line)
			snprintf(err->msg, sizeof(err->msg), "%s:%u: %s", fname, line, reason);
		else if (fname)
			snprintf(err->msg, sizeof(err->msg), "%s: %s", fname, reason);
		else
			snprintf(err->msg, sizeof(err->msg), "%s", reason);
	}
	return code;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (!*s || !isdigit((unsigned char)*s))
		return CONFIG_EVALUE;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return CONFIG_EVALUE;
	*out = v;
	return 0;
}

int config_parse_baud(const char *s, uint32_t *out)
{
	unsigned long v;

	if (parse_uint(s, 300, 4000000, &v))
		return CONFIG_EVALUE;
	*out = (uint32_t)v;
	return 0;
}

int config_parse_offset(const char *s, uint32_t *out)
{
	char *end = NULL;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return CONFIG_EVALUE;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || v == 0 || v > 0x1000000 || (v & 0xfff))
		return CONFIG_EVALUE;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "on"))
		*out = 1;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "off"))
		*out = 0;
	else
		return CONFIG_EVALUE;
	return 0;
}

/* A port path must be printable without spaces: it is shown to operators and
 * put in the journal. socket:// names need a host and a port. */
static int valid_path(const char *p)
{
	if (!*p)
		return 0;
	for (const char *q = p; *q; q++)
		if (!isgraph((unsigned char)*q))
			return 0;
	if (!strncmp(p, "socket://", 9)) {
		const char *colon = strrchr(p + 9, ':');
		unsigned long port;
		if (!colon || colon == p + 9 || parse_uint(colon + 1, 1, 65535, &port))
			return 0;
		return 1;
	}
	return p[0] == '/';
}

static int valid_name(const char *n)
{
	if (!*n || strlen(n) >= CONFIG_NAME_MAX)
		return 0;
	for (const char *q = n; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr("-_.:/@", *q))
			return 0;
	return 1;
}

int config_add_port(struct config *c, const char *name, const char *path, struct config_err *err)
{
	struct config_port *p;

	if (c->nports >= CONFIG_MAX_PORTS)
		return fail(err, CONFIG_EVALUE, NULL, 0, "too many ports (at most %d)", CONFIG_MAX_PORTS);
	if (strlen(path) >= CONFIG_PATH_MAX || !valid_path(path))
		return fail(err, CONFIG_EVALUE, NULL, 0,
			    "port '%.80s': expected an absolute device path or socket://HOST:PORT", path);
	if (name && !valid_name(name))
		return fail(err, CONFIG_EVALUE, NULL, 0, "port name '%.80s': letters, digits and -_.:/@ only",
			    name);
	for (size_t i = 0; i < c->nports; i++) {
		if (!strcmp(c->ports[i].path, path))
			return fail(err, CONFIG_EVALUE, NULL, 0, "port '%.80s' given twice", path);
		if (name && !strcmp(c->ports[i].name, name))
			return fail(err, CONFIG_EVALUE, NULL, 0, "port name '%.80s' given twice", name);
	}
	p = &c->ports[c->nports++];
	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->name, sizeof(p->name), "%s", name ? name : path);
	p->before = -1;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set_string(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return CONFIG_EVALUE;
	snprintf(dst, cap, "%s", v);
	return 0;
}

/* A PostgreSQL database rather than a file: the prefixes store_open()
 * takes (store_db_is_server(); spelled out here so the parser and its
 * fuzzer need not link the store). */
static int db_is_server(const char *v)
{
	return !strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11) || !strncmp(v, "service=", 8);
}

void config_default_outbox(struct config *c, const char *state_dir)
{
	const char *slash = strrchr(CONFIG_DEFAULT_DB, '/');
	int n;

	if (c->outbox_path[0] || !db_is_server(c->db_path))
		return;
	if (state_dir && state_dir[0] == '/')
		n = (int)strcspn(state_dir, ":");
	else {
		state_dir = CONFIG_DEFAULT_DB;
		n = slash ? (int)(slash - CONFIG_DEFAULT_DB) : 0;
	}
	snprintf(c->outbox_path, sizeof(c->outbox_path), "%.*s/outbox.journal", n, state_dir);
}

/* One "key = value" in the global section. */
static int global_key(struct config *c, const char *k, const char *v, const char *fname, unsigned ln,
		      struct config_err *err)
{
	unsigned long u;
	int rc = 0;

	if (!strcmp(k, "database") || !strcmp(k, "db")) {
		if ((v[0] != '/' && !db_is_server(v)) || set_string(c->db_path, sizeof(c->db_path), v))
			return fail(err, CONFIG_EVALUE, fname, ln,
				    "%s: expected an absolute path or a PostgreSQL URI (postgresql://, service=)", k);
		/* The README once documented "db" and the espfab command read
		 * only that: such files keep working, with a nudge. */
		if (!strcmp(k, "db") && c->nwarnings < CONFIG_MAX_WARNINGS)
			snprintf(c->warnings[c->nwarnings++], sizeof(c->warnings[0]),
				 "%s:%u: 'db' is the old name of 'database' (accepted; rename it)", fname, ln);
	} else if (!strcmp(k, "socket")) {
		if (v[0] != '/' || set_string(c->socket_path, sizeof(c->socket_path), v) ||
		    strlen(v) >= 108 /* sun_path */)
			return fail(err, CONFIG_EVALUE, fname, ln, "socket: expected an absolute path under 108 bytes");
	} else if (!strcmp(k, "station")) {
		if (!valid_name(v) || set_string(c->station, sizeof(c->station), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "station: letters, digits and -_.:/@ only");
	} else if (!strcmp(k, "group")) {
		if (!valid_name(v) || set_string(c->group, sizeof(c->group), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "group: expected a group name");
	} else if (!strcmp(k, "seal_key")) {
		if (v[0] != '/' || set_string(c->seal_key, sizeof(c->seal_key), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "seal_key: expected an absolute path");
	} else if (!strcmp(k, "uplink")) {
		if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
		    set_string(c->uplink_url, sizeof(c->uplink_url), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "uplink: expected an http:// or https:// URL");
	} else if (!strcmp(k, "outbox")) {
		if (v[0] != '/' || set_string(c->outbox_path, sizeof(c->outbox_path), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "outbox: expected an absolute path");
	} else if (!strcmp(k, "uplink_token")) {
		if (v[0] != '/' || set_string(c->uplink_token, sizeof(c->uplink_token), v))
			return fail(err, CONFIG_EVALUE, fname, ln, "uplink_token: expected an absolute path");
	} else if (!strcmp(k, "baud")) {
		if (config_parse_baud(v, &c->baud))
			return fail(err, CONFIG_EVALUE, fname, ln, "baud: expected 300..4000000, got '%.40s'", v);
	} else if (!strcmp(k, "before")) {
		if (reset_mode_parse(v, &c->before))
			return fail(err, CONFIG_EVALUE, fname, ln,
				    "before: expected default_reset, usb_reset or no_reset, got '%.40s'", v);
	} else if (!strcmp(k, "autodiscover")) {
		if (parse_bool(v, &c->autodiscover))
			return fail(err, CONFIG_EVALUE, fname, ln, "autodiscover: expected yes or no");
	} else if (!strcmp(k, "poll_ms")) {
		if (parse_uint(v, 50, 60000, &u))
			return fail(err, CONFIG_EVALUE, fname, ln, "poll_ms: expected 50..60000");
		c->poll_ms = (unsigned)u;
	} else if (!strcmp(k, "max_clients")) {
		if (parse_uint(v, 1, 1024, &u))
			return fail(err, CONFIG_EVALUE, fname, ln, "max_clients: expected 1..1024");
		c->max_clients = (unsigned)u;
	} else if (!strcmp(k, "verify")) {
		if (!strcmp(v, "readback"))
			c->verify_readback = 1;
		else if (!strcmp(v, "md5"))
			c->verify_readback = 0;
		else
			return fail(err, CONFIG_EVALUE, fname, ln, "verify: expected readback or md5");
	} else if (!strcmp(k, "table_offset")) {
		if (config_parse_offset(v, &c->table_offset))
			return fail(err, CONFIG_EVALUE, fname, ln,
				    "table_offset: expected a 4 KiB-aligned offset such as 0x8000");
	} else if (!strcmp(k, "shutdown_grace")) {
		if (parse_uint(v, 0, 600, &u))
			return fail(err, CONFIG_EVALUE, fname, ln, "shutdown_grace: expected 0..600 seconds");
		c->shutdown_grace_s = (unsigned)u;
	} else if (!strcmp(k, "lease")) {
		if (parse_uint(v, 0, CONFIG_LEASE_MAX, &u))
			return fail(err, CONFIG_EVALUE, fname, ln, "lease: expected 0..%d records", CONFIG_LEASE_MAX);
		c->lease = (unsigned)u;
	} else if (!strcmp(k, "port")) {
		struct config_err e;
		rc = config_add_port(c, NULL, v, &e);
		if (rc)
			return fail(err, rc, fname, ln, "%s", e.msg);
	} else {
		return fail(err, CONFIG_EKEY, fname, ln, "unknown key '%.40s'", k);
	}
	return rc;
}

static int port_key(struct config_port *p, const char *k, const char *v, const char *fname, unsigned ln,
		    struct config_err *err, struct config *c)
{
	if (!strcmp(k, "path")) {
		if (strlen(v) >= CONFIG_PATH_MAX || !valid_path(v))
			return fail(err, CONFIG_EVALUE, fname, ln,
				    "path: expected an absolute device path or socket://HOST:PORT");
		for (size_t i = 0; i < c->nports; i++)
			if (&c->ports[i] != p && !strcmp(c->ports[i].path, v))
				return fail(err, CONFIG_EVALUE, fname, ln, "path '%.80s' used by two ports", v);
		snprintf(p->path, sizeof(p->path), "%s", v);
	} else if (!strcmp(k, "baud")) {
		if (config_parse_baud(v, &p->baud))
			return fail(err, CONFIG_EVALUE, fname, ln, "baud: expected 300..4000000, got '%.40s'", v);
	} else if (!strcmp(k, "before")) {
		enum reset_mode b;
		if (reset_mode_parse(v, &b))
			return fail(err, CONFIG_EVALUE, fname, ln,
				    "before: expected default_reset, usb_reset or no_reset, got '%.40s'", v);
		p->before = (int)b;
	} else {
		return fail(err, CONFIG_EKEY, fname, ln, "unknown key '%.40s' in a [port] section", k);
	}
	return 0;
}

int config_parse(struct config *c, const char *text, size_t len, const char *fname, struct config_err *err)
{
	char line[1024];
	size_t pos = 0;
	unsigned ln = 0;
	struct config_port *cur = NULL; /* NULL: the global section */
	unsigned cur_line = 0;

	if (!fname)
		fname = "<config>";
	while (pos < len) {
		size_t start = pos, n;
		char *s, *eq, *k, *v;

		while (pos < len && text[pos] != '\n')
			pos++;
		n = pos - start;
		if (pos < len)
			pos++;
		ln++;
		if (n >= sizeof(line))
			return fail(err, CONFIG_ESYNTAX, fname, ln, "line longer than %zu bytes", sizeof(line) - 1);
		if (memchr(text + start, '\0', n))
			return fail(err, CONFIG_ESYNTAX, fname, ln, "NUL byte in line");
		memcpy(line, text + start, n);
		line[n] = '\0';
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (cur && !cur->path[0])
				return fail(err, CONFIG_EVALUE, fname, cur_line, "[port %s] has no path", cur->name);
			if (!close || *trim(close + 1))
				return fail(err, CONFIG_ESYNTAX, fname, ln, "expected '[port NAME]'");
			*close = '\0';
			s = trim(s + 1);
			if (strncmp(s, "port", 4) || (s[4] != ' ' && s[4] != '\t'))
				return fail(err, CONFIG_EKEY, fname, ln, "unknown section '[%.40s]' (only [port NAME])", s);
			s = trim(s + 4);
			if (!valid_name(s))
				return fail(err, CONFIG_EVALUE, fname, ln, "port name '%.40s': letters, digits and -_.:/@ only", s);
			for (size_t i = 0; i < c->nports; i++)
				if (!strcmp(c->ports[i].name, s))
					return fail(err, CONFIG_EVALUE, fname, ln, "port name '%.40s' given twice", s);
			if (c->nports >= CONFIG_MAX_PORTS)
				return fail(err, CONFIG_EVALUE, fname, ln, "too many ports (at most %d)", CONFIG_MAX_PORTS);
			cur = &c->ports[c->nports++];
			memset(cur, 0, sizeof(*cur));
			snprintf(cur->name, sizeof(cur->name), "%s", s);
			cur->before = -1;
			cur_line = ln;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return fail(err, CONFIG_ESYNTAX, fname, ln, "expected 'key = value'");
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (!*k)
			return fail(err, CONFIG_ESYNTAX, fname, ln, "missing key before '='");
		if (!*v)
			return fail(err, CONFIG_EVALUE, fname, ln, "%.40s: missing value", k);
		if (cur) {
			int rc = port_key(cur, k, v, fname, ln, err, c);
			if (rc)
				return rc;
		} else {
			int rc = global_key(c, k, v, fname, ln, err);
			if (rc)
				return rc;
		}
	}
	if (cur && !cur->path[0])
		return fail(err, CONFIG_EVALUE, fname, cur_line, "[port %s] has no path", cur->name);
	return 0;
}

int config_load(struct config *c, const char *path, int missing_ok, struct config_err *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = fsu_read_file(path, CONFIG_FILE_MAX, &buf, &len);

	if (rc == -ENOENT && missing_ok)
		return 0;
	if (rc == -EFBIG)
		return fail(err, CONFIG_EIO, path, 0, "larger than %d bytes", CONFIG_FILE_MAX);
	if (rc)
		return fail(err, CONFIG_EIO, path, 0, "%s", strerror(-rc));
	rc = config_parse(c, (const char *)buf, len, path, err);
	free(buf);
	return rc;
}

int config_read(struct config *c, const char *path, const char *prog)
{
	struct config_err err;
	int rc;

	config_defaults(c);
	rc = config_load(c, path ? path : CONFIG_DEFAULT_PATH, !path, &err);
	if (rc)
		fprintf(stderr, "%s: %s\n", prog, err.msg);
	return rc;
}
