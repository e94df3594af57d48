/* The records store: products, per-device records, batches, device jobs and
 * the append-only audit trail, in one SQLite database.
 *
 * THE INVARIANT. A record goes
 *     available -> reserved(station, port, MAC) -> sent -> verified
 * and never reaches two devices:
 *   - store_claim() reserves an available record for a MAC (or hands back the
 *     record that MAC already holds: idempotent re-provisioning, across
 *     batches of the same product too; jobs that MAC still had open are
 *     superseded: reserved -> released, sent -> interrupted).
 *   - store_mark_sent() MUST succeed before the first byte of the record's
 *     image is written. From then on the record is bound to that MAC forever
 *     (a trigger in the schema refuses any change of a bound record's MAC).
 *     If it fails (the job was recovered, released, ...), write nothing.
 *   - store_release() (failure before any byte was written) returns a
 *     reserved record to available; on a bound record it only closes the job.
 *   - store_fail() closes a job after bytes were sent: the record stays bound.
 *   - store_retire() takes a record out of service for good (audited); it
 *     keeps its MAC, so the device can never get another record of the
 *     product either: claim answers STORE_ERETIRED.
 * Every transition is one BEGIN IMMEDIATE transaction, durable (WAL synced
 * to the disk) before the function returns, so a crash or power loss leaves
 * either the old or the new state and never loses an acknowledged change.
 * DURABILITY: by default (and with STORE_OPEN_SYNC_FULL) the store commits
 * in WAL mode with synchronous=FULL: SQLite syncs the WAL inside COMMIT,
 * before any other connection can see the change, so what anyone sees is on
 * the disk and a commit whose sync fails is reported failed and never seen.
 * STORE_OPEN_GROUP_COMMIT opts into synchronous=NORMAL plus a WAL sync shared
 * by the process's concurrent callers before each call returns: faster with
 * many threads, still durable before returning, but a change is visible to
 * other connections before it is on the disk, and after a failed sync every
 * later commit of the file in this process fails (STORE_EIO) until all its
 * handles are closed. store_open.c explains why FULL is the default.
 *
 * RECOVERY (store_recover(), called by the daemon at startup, never by the
 * CLI: another process may be mid-job): every open job of the station
 *   - 'reserved' (never marked sent) -> job 'released', record 'available'
 *     again (or left as it is if it was already bound by an earlier job);
 *   - 'sent' (bytes may have reached the device, not verified) -> job
 *     'interrupted', record stays bound to the MAC ('sent' or 'verified');
 * each with an audit row, result "interrupted".
 *
 * THREADS. A struct store is one SQLite connection: use it from one thread
 * at a time. Threads and processes each open their own; SQLite's locking
 * plus busy_timeout serialise the writers.
 *
 * ERRORS. Functions return 0 or a negative enum store_error and fill the
 * caller's struct store_err (may be NULL) with a one-line message that never
 * contains a field value. Out-pointers are set to NULL on entry.
 */
#ifndef ESPFAB_STORE_H
#define ESPFAB_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/fwimg.h"

#define STORE_SCHEMA_VERSION 7
#define STORE_SEAL_KEY_LEN 32 /* AES-256-GCM */
#define STORE_MAC_LEN 17      /* "aa:bb:cc:dd:ee:ff" */
#define STORE_DELIVERY_LEN 32 /* a delivery id: 32 lower-case hex digits */

enum store_error {
	STORE_OK = 0,
	STORE_EINPUT = -1,    /* bad argument, CSV, config (msg has file:line) */
	STORE_ENOTFOUND = -2, /* no such product, record, job, batch */
	STORE_EEXIST = -3,    /* product name taken */
	STORE_EEMPTY = -4,    /* no available record left for the product */
	STORE_ESTATE = -5,    /* transition not allowed from the current state */
	STORE_ERETIRED = -6,  /* the MAC's record was retired */
	STORE_EBATCH = -7,    /* batch not active, of another product, or full */
	STORE_EDB = -8,       /* SQLite failed (msg has its message) */
	STORE_ESEAL = -9,     /* seal key missing, wrong, or crypto failure */
	STORE_ENOMEM = -10,
	STORE_EIO = -11,      /* file I/O: a write or sync of the disk failed */
	STORE_ESCHEMA = -12,  /* database is newer than this program */
	STORE_EBUSY = -13,    /* database locked longer than the busy timeout */
	STORE_EOFFLINE = -14, /* database server unreachable (PostgreSQL): the change is not
			       * stored, or, when the link broke during COMMIT, unknown */
};

struct store_err {
	int code;      /* an enum store_error */
	unsigned line; /* input line when an import failed, else 0 */
	char msg[256];
};

struct store;

/* ---- open / close (store_open.c) ---- */

enum store_open_flags {
	STORE_OPEN_CREATE = 1 << 0,   /* create the file (mode 0600) if missing */
	STORE_OPEN_READONLY = 1 << 1, /* queries only */
	STORE_OPEN_SYNC_FULL = 1 << 2, /* synchronous=FULL (the default; kept for callers) */
	STORE_OPEN_GROUP_COMMIT = 1 << 3, /* opt-in group commit (see DURABILITY); SYNC_FULL wins */
};

/* path is a file (SQLite) or a PostgreSQL database: "postgresql://...",
 * "postgres://..." (libpq URIs) or "service=NAME" (pg_service.conf); see
 * docs/postgresql.md. The same calls work on both; on PostgreSQL,
 * STORE_OPEN_CREATE, SYNC_FULL and GROUP_COMMIT change nothing (every
 * COMMIT waits for the server's WAL flush; synchronous_commit is forced
 * on), and a lost connection is re-established by the next call.
 * Opens (or creates) the database, applies pending migrations in order,
 * sets WAL, foreign_keys, synchronous=FULL, busy_timeout. seal_key is NULL
 * or STORE_SEAL_KEY_LEN bytes (copied; wiped on close). On success *out is
 * the caller's; free it with store_close(). */
int store_open(struct store **out, const char *path, unsigned flags, const uint8_t *seal_key,
	       struct store_err *err);
void store_close(struct store *s); /* NULL is fine */
/* GROUP COMMIT ON ONE CONNECTION. Between store_txn_begin() and
 * store_txn_commit() every store call's transaction becomes a savepoint of
 * one outer BEGIN IMMEDIATE transaction: each call still succeeds or fails
 * as a whole, but nothing is durable (or visible to other connections)
 * until store_txn_commit() returns 0, which syncs once for all of them.
 * The caller must not act on any of those calls (send a claimed image,
 * acknowledge a transition) before that. A failed store_txn_commit(), or
 * store_txn_rollback(), undoes every call made since store_txn_begin(). The
 * write lock is held meanwhile: keep the span short. Not nestable. */
int store_txn_begin(struct store *s, struct store_err *err);
int store_txn_commit(struct store *s, struct store_err *err);
void store_txn_rollback(struct store *s); /* no-op outside a transaction */

/* Reads a seal key file: exactly 32 raw bytes, or 64 hex digits (+ newline).
 * key must hold STORE_SEAL_KEY_LEN bytes; the caller wipes it. */
int store_seal_key_read(const char *path, uint8_t *key, struct store_err *err);

/* ---- products (store_product.c) ---- */

struct store_product_spec {
	const char *name;
	const char *config_csv;     /* mfg_gen config text: key,type,encoding[,REPEAT] */
	size_t config_len;
	const char *config_source;  /* file name for messages ("config.csv") */
	const uint8_t *part_table;  /* binary partition table (caller resolves CSV) */
	size_t part_table_len;
	const char *part_label;     /* the NVS partition ... */
	uint32_t part_offset;       /* ... its offset and size in flash */
	uint32_t part_size;
	int nvs_version;            /* 1 or 2 */
	const char *const *unique;  /* fields whose values never repeat; may be NULL */
	size_t n_unique;
	/* Firmware images written before the record (fwimg.h); NULL = none.
	 * Checked again here (fwimg_check_product against this table and NVS
	 * partition) and stored in the same transaction; fixed from then on. */
	const struct fwimg_set *firmware;
	const char *firmware_source; /* "build/flasher_args.json", for messages */
	uint32_t table_offset;       /* where the table lives; 0 = 0x8000 */
};

int store_product_add(struct store *s, const struct store_product_spec *spec, struct store_err *err);

/* One row of the product's NVS template, as nvs_gen_add_row() takes it. */
struct store_field {
	char *namespace_; /* the namespace this row is in */
	char *key;
	char *type;       /* "namespace", "data" or "file" */
	char *encoding;   /* "" for namespace rows */
	int is_repeat;
	int is_unique;
};

struct store_product {
	int64_t id;
	char *name;
	int nvs_version;
	char *part_label;
	uint32_t part_offset;
	uint32_t part_size;
	uint8_t *part_table;
	size_t part_table_len;
	struct store_field *fields; /* the NVS row template, config order */
	size_t n_fields;
	char *chip;                 /* the firmware's chip ("esp32s3"), "" without images */
	size_t n_images;            /* firmware images: store_product_firmware() */
};

/* *out is the caller's: store_product_free(). */
int store_product_get(struct store *s, const char *name, struct store_product **out, struct store_err *err);
void store_product_free(struct store_product *p);
/* The product's firmware images with their bytes (store_product_get leaves
 * them out: a claim needs none of them). *out is NULL when the product has
 * none, else the caller's reference (fwimg_set_unref). */
int store_product_firmware(struct store *s, int64_t product_id, struct fwimg_set **out, struct store_err *err);
/* {"products":[{"name","nvs_version","partition":{label,offset,size},"fields":[...],
 *  "records":{state:count},"firmware":null|{"chip","images":[{"offset","name","file",
 *  "size","sha256"}]}}]}; name NULL = all. *out is the caller's (json_decref). */
int store_product_query(struct store *s, const char *name, json_t **out, struct store_err *err);

/* ---- import (store_import.c) ---- */

struct store_import_opts {
	const char *product;
	const char *source;    /* file name used in messages and the audit */
	const char *base_dir;  /* where "file" fields' paths are resolved; NULL = "." */
	const char *id_column; /* record id column; NULL = the first column */
};

/* Imports a values CSV (mfg_gen's master values format) all-or-nothing: on
 * any bad row nothing is stored and err has "source:line: reason" (never a
 * value). Values that are sealed when the store has a seal key. *n_out (may
 * be NULL) gets the number of records added. */
int store_import_csv(struct store *s, const struct store_import_opts *o, const char *csv, size_t len,
		     size_t *n_out, struct store_err *err);

/* ---- the lifecycle (store_claim.c) ---- */

struct store_claim_req {
	const char *product;
	int64_t batch_id; /* 0: not part of a batch */
	const char *station;
	const char *port;
	const char *mac;  /* any case, ':' or '-' separated; stored lower case with ':' */
	const char *chip; /* may be NULL */
};

struct store_value {
	const struct store_field *field; /* points into record->product */
	uint8_t *data;                   /* the value (NUL-terminated for convenience) */
	size_t len;
};

struct store_record {
	int64_t job_id;           /* the job this claim opened */
	int64_t rowid;
	char *record_id;          /* the record's id within its product */
	char mac[STORE_MAC_LEN + 1];
	int reused;               /* 1: the MAC already held this record */
	struct store_product *product;
	struct store_value *values; /* one per data/file field, template order */
	size_t n_values;
};

/* Claims a record for req->mac in one transaction and opens a job. *out
 * holds the unsealed values in memory: the caller frees it with
 * store_record_free(), which wipes them. Errors: STORE_EEMPTY, STORE_ERETIRED,
 * STORE_EBATCH (batch not active, of another product, full, or req->port not
 * in its port filter), STORE_ENOTFOUND, STORE_ESEAL. */
int store_claim(struct store *s, const struct store_claim_req *req, struct store_record **out,
		struct store_err *err);
void store_record_free(struct store_record *r); /* wipes values; NULL is fine */

/* The record's NVS partition image, as mfg_gen lays it out for the same
 * config and values row (the config's rows in order, namespaces included):
 * buf holds at least r->product->part_size bytes; xts_key is NULL (plain) or
 * NVS_XTS_KEY_LEN bytes. The image holds the secrets: the caller wipes buf. */
int store_record_image(const struct store_record *r, const uint8_t *xts_key, uint8_t *buf, size_t cap,
		       size_t *out_len, struct store_err *err);

/* What the daemon knows about an attempt, appended to the audit trail in
 * the same transaction as the state change. Strings may be NULL. */
struct store_audit_entry {
	const char *event;        /* NULL: derived from the call */
	const char *station, *port, *chip, *mac;
	const char *product, *record_id;
	int64_t batch_id, job_id; /* 0 = none */
	const char *image_sha256; /* hex */
	const char *flash_md5;    /* hex */
	int64_t baud, retries, duration_ms; /* -1 = unknown */
	const char *result;       /* NULL: derived from the call */
	const char *error;        /* one line, never a secret */
	/* EXACTLY ONCE. The delivery id espfabd gave this device result
	 * (STORE_DELIVERY_LEN hex digits), or NULL (not a held result: an
	 * operator action, a test). It is kept with the audit row, in the same
	 * transaction as the state change. A call whose id the trail already
	 * holds for the same result (job, MAC, event, result and error alike:
	 * a repeat after a crash lost espfabd's "delivered" mark) returns 0
	 * and writes nothing: no second row, no state change, no second count
	 * in the batch. The id on a different result: STORE_EINPUT. */
	const char *delivery;
};

/* Call BEFORE writing the first byte. Fails with STORE_ESTATE when the job is
 * no longer 'reserved' (then write nothing). */
int store_mark_sent(struct store *s, int64_t job_id, struct store_err *err);
/* sent -> verified; counts the job in its batch (done when the count is
 * reached). audit may be NULL. */
int store_mark_verified(struct store *s, int64_t job_id, const struct store_audit_entry *audit,
			struct store_err *err);
/* Failed before any byte was sent: reserved -> released, record available
 * again unless it was already bound. */
int store_release(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
		  struct store_err *err);
/* Failed after bytes were sent: job failed, record stays bound. */
int store_fail(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
	       struct store_err *err);
/* Operator: record (product, record_id) out of service for good. */
int store_retire(struct store *s, const char *product, const char *record_id, const char *reason,
		 struct store_err *err);

struct store_recovery {
	unsigned released;    /* reserved jobs whose record went back to available */
	unsigned interrupted; /* sent jobs left bound */
};
/* Startup recovery for one station (NULL: every station); see the top. */
int store_recover(struct store *s, const char *station, struct store_recovery *rep, struct store_err *err);

/* Checks the whole database against the invariant (tests, `records check`):
 * 0, or STORE_ESTATE with the first violation in err. */
int store_check(struct store *s, struct store_err *err);

/* ---- batches (store_batch.c) ---- */

/* ports: NULL/0 = every port. *id_out gets the new batch id. */
int store_batch_add(struct store *s, const char *product, int64_t count, const char *const *ports,
		    size_t n_ports, int64_t *id_out, struct store_err *err);
enum store_batch_op { STORE_BATCH_PAUSE, STORE_BATCH_RESUME, STORE_BATCH_CANCEL };
int store_batch_set(struct store *s, int64_t id, enum store_batch_op op, struct store_err *err);
/* {"batches":[{"id","product","count","ports","state","verified","failed",
 *  "in_flight","remaining","created","finished"}]}; id 0 = all. */
int store_batch_query(struct store *s, int64_t id, json_t **out, struct store_err *err);
/* The same for the active batches only (what a station looks at per device,
 * however long the history). */
int store_batch_active(struct store *s, json_t **out, struct store_err *err);

/* ---- audit (store_audit.c) ---- */

/* Appends one row in its own transaction. */
int store_audit_append(struct store *s, const struct store_audit_entry *a, struct store_err *err);

/* ---- queries (store_query.c): results are the caller's (json_decref) ---- */

struct store_record_filter {
	const char *product; /* NULL = all */
	const char *state;   /* NULL = all; available|reserved|sent|verified|retired */
	int reveal;          /* include field values (needs the seal key if sealed) */
	int64_t limit;       /* 0 = no limit */
};
/* {"records":[{"product","id","state","mac","station","port","bound_at",
 *  "verified_at","retired_reason","sealed"[,"values":{key:value}]}]} */
int store_query_records(struct store *s, const struct store_record_filter *f, json_t **out,
			struct store_err *err);
/* {"stats":[{"product","total","available","reserved","sent","verified","retired"}]} */
int store_query_stats(struct store *s, const char *product, json_t **out, struct store_err *err);

struct store_audit_filter {
	const char *since; /* ISO 8601 UTC prefix-comparable, NULL = all */
	const char *mac;   /* NULL = all */
	const char *product;
	int64_t limit;     /* 0 = no limit */
	int64_t after_id;  /* only rows with a greater id (0 = all) */
	int64_t batch;     /* only rows of this batch (0 = all) */
};
/* {"audit":[{"id","time","event","station",...,"result","error"}]} */
int store_query_audit(struct store *s, const struct store_audit_filter *f, json_t **out,
		      struct store_err *err);

/* ---- uplink cursors (store_uplink.c) ----
 * Where delivery of the audit trail to an upstream system (named by the
 * caller, e.g. its URL) got to: the id of the last audit row it
 * acknowledged. The trail is append-only with growing ids, so "every row
 * after the cursor" is exactly what is still owed. */
int store_uplink_cursor(struct store *s, const char *name, int64_t *last, struct store_err *err);
/* Durably moves the cursor forward to last (never back: a smaller value is
 * ignored). */
int store_uplink_advance(struct store *s, const char *name, int64_t last, struct store_err *err);
/* Audit rows after the cursor, not yet delivered. */
int store_uplink_pending(struct store *s, int64_t after, int64_t *count, struct store_err *err);

/* ---- leases (store_lease.c; docs/postgresql.md "Leases") ----
 * A station's lease: available records of a product set aside for it, so
 * that no other station's claim takes them (store_claim by that station
 * takes its own leased records first). A lease lasts while the record is
 * in the pool (available, or reserved by the station's claim) and ends by
 * itself when the record is bound or retired; otherwise only
 * store_lease_release gives the records back. Each record leased or
 * released is an audit row (event "lease", the station named). */
#define STORE_LEASE_MAX 1000
/* Tops the station's lease of product up to n available records (0..
 * STORE_LEASE_MAX; a lease larger than n is left as it is). *held (may be
 * NULL) gets the number of available records leased to it afterwards,
 * which is below n when the product has no more free records. */
int store_lease_fill(struct store *s, const char *station, const char *product, int64_t n, int64_t *held,
		     struct store_err *err);
/* Gives back every record leased to the station, of every product (to
 * available; a bound record is never leased). reason goes into the audit.
 * *released (may be NULL) gets their number. On PostgreSQL only the role
 * that took a lease, or an espfab_admin, may release it. */
int store_lease_release(struct store *s, const char *station, const char *reason, int64_t *released,
			struct store_err *err);

/* The available records of product that station's claims may take: those
 * leased to nobody and its own (another station's leased ones are not). */
int store_lease_available(struct store *s, const char *station, const char *product, int64_t *n,
			  struct store_err *err);

/* ---- requests (store_request.c) ---- */

/* Runs one query request against the store and builds the reply, so the
 * daemon's socket and the CLI's direct path give identical results.
 * Request: {"cmd": "records.list"|"records.stats"|"records.retire"|
 *   "product.list"|"product.show"|"audit"|"batch.list"|"batch.show", ...args}
 * Reply: the query's object. *out is the caller's. */
int store_request(struct store *s, json_t *req, json_t **out, struct store_err *err);

/* ---- helpers ---- */

/* 1 when a database setting names a PostgreSQL database (postgresql://,
 * postgres://, service=) rather than a file. */
int store_db_is_server(const char *db);
/* Normalises a MAC to "aa:bb:cc:dd:ee:ff"; out holds STORE_MAC_LEN + 1. */
int store_mac_normalise(const char *in, char *out);
/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ"; buf holds 25 bytes. */
void store_now(char *buf, size_t len);

#endif
