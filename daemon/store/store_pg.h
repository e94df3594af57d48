/* Private to the store's PostgreSQL backend (store_pg*.c). */
#ifndef ESPFAB_STORE_PG_H
#define ESPFAB_STORE_PG_H

#include <libpq-fe.h>

#include "store_backend.h"

extern const struct store_migration store_pg_migrations[];
extern const size_t store_pg_n_migrations;
extern const struct store_backend store_pg_backend;

/* Statements prepared on the session, keyed by the SQL text's address
 * (every statement here is a literal): parsing and planning each time cost
 * more than the round trip. A new session (reconnect) starts empty. */
#define PG_STMT_CACHE 128
#define PG_DONE_CHECKS 8

/* One libpq connection, in struct store's conn. */
struct store_pg {
	PGconn *c;
	const char *stmts[PG_STMT_CACHE]; /* stmts[i] is prepared as "e<i>" */
	int n_stmts;
	char *uri;       /* the setting as given: may hold a password, never printed */
	char where[160]; /* "db@host:port" for messages */
	int readonly;
	int txn;         /* inside store_txn_begin(): calls become savepoints */
	int txn_sp;      /* that savepoint is open */
	int txn_lost;    /* the outer transaction is gone (error, connection) */
	int call;        /* a call's own transaction is open */
	/* After a failed reconnect, calls fail at once until then (monotonic
	 * ms): a station polling its status must not block on a dead host's
	 * connect_timeout every time. The wait doubles to 2 s. */
	uint64_t retry_at_ms;
	unsigned retry_wait_ms;
	/* Batches given a verified result since the last COMMIT: checked for
	 * "done" after it (store_pg_batch.c); all open ones when too many. */
	int64_t done_check[PG_DONE_CHECKS];
	int n_done_check, done_check_all;
};

static inline struct store_pg *pg_of(struct store *s)
{
	return s->conn;
}

/* Runs sql with parameters described by types, one letter each:
 *   'i' int64_t   's' const char * (NULL = NULL)
 *   'I' int64_t, NULL when <= 0 (ids)   'N' int64_t, NULL when < 0
 *   'b' const void *, size_t (bytea)
 * Returns the result (the caller PQclear()s it) or NULL with err filled:
 * what names the table or step in the message. */
PGresult *pg_q(struct store *s, struct store_err *err, const char *what, const char *sql, const char *types, ...);
/* The same for a statement whose rows nobody reads: 0 or the error;
 * *n (may be NULL) gets the number of rows it touched. */
int pg_x(struct store *s, struct store_err *err, int64_t *n, const char *what, const char *sql, const char *types,
	 ...);
/* err from a failed result (NULL: the connection's own message). */
int pg_err(struct store *s, const PGresult *r, struct store_err *err, const char *what);

/* A call's transaction (BEGIN, or a savepoint inside store_txn_begin()). */
int pg_begin(struct store *s, struct store_err *err);
int pg_commit(struct store *s, struct store_err *err);
void pg_rollback(struct store *s);
/* COMMIT when rc is 0, else ROLLBACK; returns the final code. */
int pg_end(struct store *s, int rc, struct store_err *err);

/* Column helpers: a text result's field as int64, a string (NULL for
 * NULL), a JSON value by the column's type, a bytea copy (malloc, the
 * caller wipes and frees it; NUL-terminated). */
int64_t pg_i64(const PGresult *r, int row, int col);
const char *pg_str(const PGresult *r, int row, int col);
json_t *pg_json(const PGresult *r, int row, int col);
/* Row 0's column col into dst ("" for NULL), cut to n - 1 bytes. */
void pg_copy_str(char *dst, size_t n, const PGresult *r, int col);
int pg_bytea(const PGresult *r, int row, int col, uint8_t **out, size_t *len, struct store_err *err);

/* Product id by name (STORE_ENOTFOUND), and the product itself. */
int pg_product_id(struct store *s, const char *name, int64_t *id, struct store_err *err);
int pg_product_load(struct store *s, int64_t id, struct store_product **out, struct store_err *err);
/* The seal key check against meta (see store_seal_check()). */
int pg_seal_check(struct store *s, int need, struct store_err *err);
int pg_db_sealed(struct store *s, int *sealed, struct store_err *err);
/* An audit row inside the caller's transaction. */
int pg_audit_insert(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
		    struct store_err *err);
/* store_delivery_seen() on PostgreSQL (store_pg_delivery.c). */
int pg_delivery_seen(struct store *s, const struct store_audit_entry *a, const char *event, const char *result,
		     struct store_err *err);

/* The public calls (store_backend.h), by file. store_pg.c: */
void pg_close(struct store *s);
/* Brings the schema to this program's version (store_pg_migrate.c). */
int pg_migrate(struct store *s, struct store_err *err);
int pg_txn_begin(struct store *s, struct store_err *err);
int pg_txn_commit(struct store *s, struct store_err *err);
void pg_txn_rollback(struct store *s);
/* store_pg_audit.c */
int pg_audit_append(struct store *s, const struct store_audit_entry *a, struct store_err *err);
int pg_uplink_cursor(struct store *s, const char *name, int64_t *last, struct store_err *err);
int pg_uplink_advance(struct store *s, const char *name, int64_t last, struct store_err *err);
int pg_uplink_pending(struct store *s, int64_t after, int64_t *count, struct store_err *err);
int pg_check(struct store *s, struct store_err *err);
/* store_pg_claim.c */
int pg_claim(struct store *s, const struct store_claim_req *req, struct store_record **out, struct store_err *err);
int pg_mark_sent(struct store *s, int64_t job_id, struct store_err *err);
int pg_mark_verified(struct store *s, int64_t job_id, const struct store_audit_entry *audit, struct store_err *err);
int pg_release(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	       struct store_err *err);
int pg_fail(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	    struct store_err *err);
int pg_retire(struct store *s, const char *product, const char *record_id, const char *reason,
	      struct store_err *err);
int pg_recover(struct store *s, const char *station, struct store_recovery *rep, struct store_err *err);
/* store_pg_lease.c; pg_lease_pick is the claim's pick of a new record (the
 * station's own leased one first, then one leased to nobody): rows (id,
 * record_id, sealed), none or one, locked; the caller PQclear()s it. */
int pg_lease_fill(struct store *s, const char *station, const char *product, int64_t n, int64_t *held,
		  struct store_err *err);
int pg_lease_release(struct store *s, const char *station, const char *reason, int64_t *released,
		     struct store_err *err);
int pg_lease_available(struct store *s, const char *station, const char *product, int64_t *n, struct store_err *err);
PGresult *pg_lease_pick(struct store *s, int64_t product_id, const char *station, struct store_err *err);
int pg_lease_check(struct store *s, struct store_err *err);
/* store_pg_batch.c: a batch's places (its room) and per-station counters.
 * A place of batch (count devices) for the new job; STORE_EBATCH when the
 * batch is not active or full, unless overflow (a re-claim of a known
 * device, never refused for room): it then gets one above count. */
int pg_place_take(struct store *s, int64_t batch, int64_t count, int64_t job, int overflow, struct store_err *err);
/* old's place in batch goes to job (a re-claim superseding old): *moved = 1. */
int pg_place_move(struct store *s, int64_t old, int64_t job, int64_t batch, int *moved, struct store_err *err);
/* The job ended unverified: its place is free (or handed to an overflow job). */
int pg_place_free(struct store *s, int64_t job, struct store_err *err);
/* A result of station in batch (0: none), verified or failed. */
int pg_batch_count(struct store *s, int64_t batch, const char *station, int verified, struct store_err *err);
/* After a COMMIT (store_pg.c): marks done the batches whose committed total
 * reached count; forget drops the list (a rollback). */
void pg_batch_done_checks(struct store *s);
void pg_batch_done_forget(struct store *s);
/* Every open batch whose total reached count is marked done (recovery). */
int pg_batch_done_all(struct store *s, struct store_err *err);
/* store_pg_product.c */
int pg_product_add(struct store *s, const struct store_product_spec *spec, struct store_err *err);
int pg_product_get(struct store *s, const char *name, struct store_product **out, struct store_err *err);
int pg_product_firmware(struct store *s, int64_t product_id, struct fwimg_set **out, struct store_err *err);
int pg_product_query(struct store *s, const char *name, json_t **out, struct store_err *err);
/* store_pg_import.c */
int pg_import_csv(struct store *s, const struct store_import_opts *o, const char *csv, size_t len, size_t *n_out,
		  struct store_err *err);
/* store_pg_query.c */
int pg_batch_add(struct store *s, const char *product, int64_t count, const char *const *ports, size_t n_ports,
		 int64_t *id_out, struct store_err *err);
int pg_batch_set(struct store *s, int64_t id, enum store_batch_op op, struct store_err *err);
int pg_batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err);
int pg_batch_active(struct store *s, json_t **out, struct store_err *err);
int pg_query_records(struct store *s, const struct store_record_filter *f, json_t **out, struct store_err *err);
int pg_query_stats(struct store *s, const char *product, json_t **out, struct store_err *err);
int pg_query_audit(struct store *s, const struct store_audit_filter *f, json_t **out, struct store_err *err);
/* store_pg_cert.c (identities, espfab/store_cert.h) */
int pg_identity_set(struct store *s, const char *product, const char *profile_json, const char *part_label,
		    struct store_err *err);
int pg_identity_get(struct store *s, int64_t product_id, struct store_identity **out, struct store_err *err);
int pg_cert_live(struct store *s, int64_t product_id, const char *mac, struct store_cert **out, struct store_err *err);
int pg_cert_add(struct store *s, const struct store_cert_new *c, struct store_err *err);
int pg_cert_delivered(struct store *s, int64_t product_id, const char *mac, const char *station, const char *port,
		      int64_t job_id, struct store_err *err);
int pg_cert_query(struct store *s, const struct store_cert_filter *f, json_t **out, struct store_err *err);
/* store_pg_hmac.c (HMAC NVS encryption, espfab/store_hmac.h) */
int pg_hmac_product_set(struct store *s, const char *product, const struct store_hmac_product *hp,
			struct store_err *err);
int pg_hmac_product_get(struct store *s, int64_t product_id, struct store_hmac_product *out, struct store_err *err);
int pg_hmac_annotate(struct store *s, json_t *reply, struct store_err *err);
int pg_hmac_device_get(struct store *s, const char *mac, unsigned key_block, struct store_hmac_device *out,
		       struct store_err *err);
int pg_hmac_set(struct store *s, const struct store_hmac_event *e, enum store_hmac_state to, const uint8_t *key,
		struct store_err *err);
/* Serialises the calls about one device (a MAC) of one kind until the
 * transaction ends (store_pg_cert.c), as SQLite's write lock would: the
 * record bound to the MAC in the product (if any) first, the order of a
 * claim and a job transition (record, then job), then a transaction-scoped
 * advisory lock of (kind, MAC), which also covers a MAC with no record. */
int pg_device_lock(struct store *s, int kind, int64_t product_id, const char *mac, struct store_err *err);
#define PG_LOCK_CERT 0x63657274 /* "cert" */
#define PG_LOCK_HMAC 0x686d6163 /* "hmac" */

#endif
