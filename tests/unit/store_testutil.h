/* Shared by the store's unit tests: temporary databases and a small product. */
#ifndef STORE_TESTUTIL_H
#define STORE_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "espfab/store.h"

/* One partition-table stand-in: the store keeps the bytes, it does not parse them. */
static const uint8_t tu_table[32] = {0xaa, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00, 0x00, 0x60};

static const char tu_config[] = "mass_prod,namespace,\n"
				"ProductID,data,string\n"
				"DeviceSecret,data,string\n"
				"DeviceName,data,string\n";

static inline char *tu_tmpdir(void)
{
	char tmpl[] = "/tmp/espfab-store-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline char *tu_path(const char *dir, const char *name)
{
	if (!dir || !name) /* tu_db(NULL, NULL) on PostgreSQL only */
		return NULL;
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* BACKENDS. With ESPFAB_TEST_PG set (tests/pg/run_unit.sh sets it to a
 * libpq URI prefix of a server it started itself), tu_db() creates a fresh
 * PostgreSQL database and returns its URI, so the same test runs against
 * the PostgreSQL backend; else it is a file in dir (SQLite). */
static inline int tu_is_pg(void)
{
	const char *p = getenv("ESPFAB_TEST_PG");
	return p && *p;
}

static inline char *tu_db(const char *dir, const char *name)
{
	static unsigned n;
	char db[64], cmd[1024];
	const char *pfx = getenv("ESPFAB_TEST_PG");

	if (!tu_is_pg())
		return tu_path(dir, name);
	snprintf(db, sizeof(db), "t%ld_%u", (long)getpid(), n++);
	snprintf(cmd, sizeof(cmd), "psql -qAt -d '%spostgres' -c 'CREATE DATABASE %s' >/dev/null", pfx, db);
	if (system(cmd) != 0) {
		fprintf(stderr, "tu_db: CREATE DATABASE %s failed on the test server\n", db);
		return NULL;
	}
	size_t len = strlen(pfx) + strlen(db) + 1;
	char *uri = malloc(len);
	if (uri)
		snprintf(uri, len, "%s%s", pfx, db);
	return uri;
}

/* For tests that edit the SQLite file behind the store's back: on
 * PostgreSQL they are skipped with this message (test_store_pg does the
 * same forging against the server's triggers). Includers include cmocka.h. */
#define TU_SQLITE_ONLY()                                                                                  \
	do {                                                                                                \
		if (tu_is_pg()) {                                                                           \
			fprintf(stderr, "[ SKIPPED  ] %s: edits the SQLite file directly; test_store_pg covers " \
					"PostgreSQL\n",                                                          \
				__func__);                                                                  \
			skip();                                                                             \
		}                                                                                           \
	} while (0)

static inline void tu_rmrf(char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
}

static inline int tu_add_product(struct store *s, const char *name, const char *const *uniq, size_t n_uniq,
				 struct store_err *err)
{
	struct store_product_spec spec = {
		.name = name,
		.config_csv = tu_config,
		.config_len = strlen(tu_config),
		.config_source = "config.csv",
		.part_table = tu_table,
		.part_table_len = sizeof(tu_table),
		.part_label = "nvs",
		.part_offset = 0x9000,
		.part_size = 0x6000,
		.nvs_version = 2,
		.unique = uniq,
		.n_unique = n_uniq,
	};
	return store_product_add(s, &spec, err);
}

/* n records "1".."n" with secret "secret-<i>". The caller frees the text. */
static inline char *tu_values(int first, int n)
{
	size_t cap = 64 + (size_t)n * 96;
	char *b = malloc(cap), *p = b;
	p += sprintf(p, "id,ProductID,DeviceSecret,DeviceName\n");
	for (int i = first; i < first + n; i++)
		p += sprintf(p, "%d,PRD-%06d,secret-%08d,dev-%d\n", i, i, i, i);
	return b;
}

static inline int tu_import(struct store *s, const char *product, const char *csv, struct store_err *err)
{
	struct store_import_opts o = {.product = product, .source = "values.csv"};
	return store_import_csv(s, &o, csv, strlen(csv), NULL, err);
}

/* The fixture the lifecycle, query and import tests share: a fresh database
 * in its own directory holding product "lamp" (uniq as its unique fields)
 * and records "1".."n_records". */
struct tu_fx {
	char *dir, *db;
	struct store *s;
};

static inline void tu_fx_free(struct tu_fx *f)
{
	if (!f)
		return;
	store_close(f->s);
	free(f->db);
	if (f->dir)
		tu_rmrf(f->dir);
	free(f);
}

/* NULL on failure, after printing why. */
static inline struct tu_fx *tu_fx_new(const char *const *uniq, size_t n_uniq, int n_records)
{
	struct tu_fx *f = calloc(1, sizeof(*f));
	struct store_err err = {0};
	char *csv = n_records > 0 ? tu_values(1, n_records) : NULL;
	if (!f || !(f->dir = tu_tmpdir()) || !(f->db = tu_db(f->dir, "t.db")) ||
	    store_open(&f->s, f->db, STORE_OPEN_CREATE, NULL, &err) ||
	    tu_add_product(f->s, "lamp", uniq, n_uniq, &err) || (csv && tu_import(f->s, "lamp", csv, &err))) {
		fprintf(stderr, "setup: %s\n", err.msg);
		tu_fx_free(f);
		f = NULL;
	}
	free(csv);
	return f;
}

/* Claims a record of "lamp" for mac on station "st1"; fails the running
 * cmocka test unless store_claim() returns expect. Includers include
 * cmocka.h first. */
static inline struct store_record *tu_claim(struct store *s, const char *mac, int expect)
{
	struct store_claim_req req = {.product = "lamp", .station = "st1", .port = "p0", .mac = mac};
	struct store_record *r = NULL;
	struct store_err err = {0};
	int rc = store_claim(s, &req, &r, &err);
	if (rc != expect)
		fail_msg("claim %s: %d (%s), expected %d", mac, rc, err.msg, expect);
	return r;
}

static inline int tu_teardown(void **state)
{
	tu_fx_free(*state);
	return 0;
}

#endif
