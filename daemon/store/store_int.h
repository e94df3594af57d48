/* Private to the store library. The SQLite store's layers, lowest first:
 * store_sql.c (errors, statements, columns), store_seal.c (sealing),
 * store_txn.c (transactions, durability), store_open.c (open, migrate). */
#ifndef ESPFAB_STORE_INT_H
#define ESPFAB_STORE_INT_H

#include <sqlite3.h>
#include <stdarg.h>

#include "espfab/store.h"

struct store_migration {
	int version;
	const char *name;
	const unsigned char *sql; /* NUL-terminated */
};
extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;

struct store_group; /* processes' share of one database file's WAL syncs */
struct store_backend; /* another backend's table of the public calls (store_backend.h) */

/* Prepared statements kept for the connection's life: compiling the SQL
 * took a third of the daemon's CPU before (a claim runs ~15 statements). */
#define STORE_STMT_CACHE 48
struct store_stmt {
	char *sql;
	sqlite3_stmt *st;
	int busy; /* handed out by store_prep(), not yet given back */
};

struct store {
	/* NULL: this SQLite store; else every public call goes to be (db is
	 * NULL then) and conn is that backend's own state. */
	const struct store_backend *be;
	void *conn;
	sqlite3 *db;
	struct store_stmt stmts[STORE_STMT_CACHE];
	unsigned stmt_next; /* round-robin victim when the cache is full */
	struct store_group *group; /* NULL: synchronous=FULL, no group commit */
	char *path;
	int txn;      /* inside store_txn_begin(): store_begin() nests as a savepoint */
	int txn_sp;   /* that savepoint is open */
	int txn_lost; /* SQLite rolled the outer transaction back under us */
	int64_t busy_start_ms;
	uint32_t busy_seed;
	int has_key;
	uint8_t key[STORE_SEAL_KEY_LEN];
};

/* Fills err (if any) and returns code. */
int store_fail_err(struct store_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Maps the connection's last SQLite error to STORE_EDB / STORE_EBUSY. */
int store_db_err(struct store *s, struct store_err *err, const char *what);

/* Transactions: BEGIN IMMEDIATE so a writer takes the lock up front (no
 * deadlock-prone read-to-write upgrade), COMMIT, ROLLBACK. Inside a
 * store_txn_begin() they become SAVEPOINT, RELEASE and ROLLBACK TO, and
 * durability waits for store_txn_commit(). */
int store_begin(struct store *s, struct store_err *err);
int store_commit(struct store *s, struct store_err *err);
void store_rollback(struct store *s);
/* Ends the open transaction by the body's result rc: COMMIT when 0 (and
 * durable before returning), ROLLBACK otherwise. Returns the final code. */
int store_end(struct store *s, int rc, struct store_err *err);
/* Ends a query loop: step_rc is the last sqlite3_step result, which must be
 * SQLITE_DONE; then *out = {key: arr} (arr gets a new reference). */
int store_json_wrap(struct store *s, int step_rc, const char *key, json_t *arr, json_t **out,
		    struct store_err *err);

/* Prepare with an error message: a cached statement for this SQL text when
 * one is free, else a new one. Give it back with store_unprep() (never
 * sqlite3_finalize), which resets it; NULL is fine. */
int store_prep(struct store *s, sqlite3_stmt **st, const char *sql, struct store_err *err);
void store_unprep(struct store *s, sqlite3_stmt *st);
/* Binds NULL for a NULL string. */
int store_bind_text(sqlite3_stmt *st, int i, const char *v);
int store_bind_opt_int(sqlite3_stmt *st, int i, int64_t v); /* < 0 (or 0 for ids) -> NULL handled by caller */
char *store_col_strdup(sqlite3_stmt *st, int i); /* NULL for NULL */
void store_col_copy(char *dst, size_t n, sqlite3_stmt *st, int i); /* "" for NULL, truncated to n */
/* Runs one statement with int64/text parameters given as a printf-like
 * type string: 'i' int64, 's' text. */
int store_run(struct store *s, struct store_err *err, const char *sql, const char *types, ...);
json_t *store_col_json(sqlite3_stmt *st, int i);   /* text/int/null as JSON */

/* One SQL text run as is (store_sql.c): migrations, pragmas, BEGIN/COMMIT. */
int store_exec(struct store *s, const char *sql, struct store_err *err);
/* Finalizes the statement cache (store_close). */
void store_stmts_free(struct store *s);

/* store_txn.c, for store_open(): SQLite's busy handler for s (arg), and the
 * process's group commit of the database file at path (NULL: none). */
int store_busy_handler(void *arg, int count);
struct store_group *store_group_get(const char *path);
void store_group_put(struct store_group *g);

/* Audit row inside the caller's transaction. */
int store_audit_insert(struct store *s, const struct store_audit_entry *a, const char *event,
		       const char *result, struct store_err *err);

/* Delivery ids (store_delivery.c; store.h, EXACTLY ONCE). The stored row
 * a repeat is compared with; its strings may be NULL. */
struct store_delivery_row {
	int64_t id, job_id; /* job_id 0: none */
	const char *event, *result, *mac, *error;
};
/* 0 when id is STORE_DELIVERY_LEN lower-case hex digits, else STORE_EINPUT. */
int store_delivery_valid(const char *id, struct store_err *err);
/* 1 when row is the result a (with the call's derived event and result)
 * describes, else STORE_EINPUT naming the id and the row. */
int store_delivery_match(const struct store_audit_entry *a, const char *event, const char *result,
			 const struct store_delivery_row *row, struct store_err *err);
/* Inside the caller's transaction: 1 when a->delivery is stored already
 * for this result (write nothing), 0 when it is not (or a has none), else
 * an error (STORE_EINPUT: a malformed id, or the id on another result). */
int store_delivery_seen(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
			struct store_err *err);

/* Sealing (store_seal.c). out gets nonce || ct || tag; the caller frees it. */
int store_seal(const struct store *s, const uint8_t *pt, size_t len, const char *aad, uint8_t **out,
	       size_t *out_len, struct store_err *err);
/* out gets plaintext + NUL; the caller wipes and frees it. */
int store_unseal(const struct store *s, const uint8_t *ct, size_t len, const char *aad, uint8_t **out,
		 size_t *out_len, struct store_err *err);
/* The keyed digest of a unique value (HMAC-SHA256). */
int store_unique_digest(const struct store *s, int pos, const uint8_t *v, size_t len, uint8_t out[32],
			struct store_err *err);
/* Checks s->key against the database's key check value; records it on first
 * use. need: fail if the database is sealed and no key was given. */
int store_seal_check(struct store *s, int need, struct store_err *err);
int store_db_sealed(struct store *s, int *sealed, struct store_err *err);
/* The value kept in meta 'seal_check' for s->key (0, or -1 on failure). */
int store_seal_check_value(const struct store *s, uint8_t out[32]);

/* Product id by name (STORE_ENOTFOUND). */
int store_product_id(struct store *s, const char *name, int64_t *id, struct store_err *err);

/* Loads a product's template into p (already allocated). */
int store_product_load(struct store *s, int64_t id, struct store_product **out, struct store_err *err);

/* The claim's pick of a new record (store_lease.c): the lowest available
 * record leased to station, else the lowest one leased to nobody; *rowid
 * is 0 when there is none. */
int store_lease_pick(struct store *s, int64_t product_id, const char *station, int64_t *rowid, struct store_err *err);
/* A lease call's station name: 0 or STORE_EINPUT (both backends). */
int store_lease_args(const char *station, struct store_err *err);
/* The audit row of one record leased or given back (both backends): the
 * trail then answers "which station held record X, from when" as it does
 * for devices. reason: NULL, or the release's reason. */
struct store_audit_entry store_lease_entry(const char *station, const char *product, const char *record_id,
					   const char *reason);
/* store_check()'s rules about leases. */
int store_lease_check(struct store *s, struct store_err *err);

/* AAD for a sealed value: binds the ciphertext to its row and field. */
void store_value_aad(char *buf, size_t len, int64_t product_id, const char *record_id, int pos);

#endif
