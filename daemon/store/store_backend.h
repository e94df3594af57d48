/* The backend seam. store_open() picks the backend from the database
 * setting: a file path is the SQLite store (the embedded default, the code
 * in the other store_*.c files); "postgresql://...", "postgres://..." or
 * "service=NAME" is the shared inventory on PostgreSQL (store_pg*.c). A
 * backend other than SQLite fills a table of the public calls with the
 * same signatures; each public function starts with STORE_VIA_BACKEND, so
 * callers (daemon, CLI, tests) see one API whatever the backend. */
#ifndef ESPFAB_STORE_BACKEND_H
#define ESPFAB_STORE_BACKEND_H

#include "espfab/store_cert.h"
#include "espfab/store_hmac.h"
#include "store_int.h"

struct store_backend {
	const char *name; /* "postgresql", for messages */
	void (*close)(struct store *s);
	int (*txn_begin)(struct store *s, struct store_err *err);
	int (*txn_commit)(struct store *s, struct store_err *err);
	void (*txn_rollback)(struct store *s);
	int (*product_add)(struct store *s, const struct store_product_spec *spec, struct store_err *err);
	int (*product_get)(struct store *s, const char *name, struct store_product **out, struct store_err *err);
	int (*product_firmware)(struct store *s, int64_t product_id, struct fwimg_set **out, struct store_err *err);
	int (*product_query)(struct store *s, const char *name, json_t **out, struct store_err *err);
	int (*import_csv)(struct store *s, const struct store_import_opts *o, const char *csv, size_t len,
			  size_t *n_out, struct store_err *err);
	int (*claim)(struct store *s, const struct store_claim_req *req, struct store_record **out,
		     struct store_err *err);
	int (*mark_sent)(struct store *s, int64_t job_id, struct store_err *err);
	int (*mark_verified)(struct store *s, int64_t job_id, const struct store_audit_entry *audit,
			     struct store_err *err);
	int (*release)(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
		       struct store_err *err);
	int (*fail)(struct store *s, int64_t job_id, const char *reason, const struct store_audit_entry *audit,
		    struct store_err *err);
	int (*retire)(struct store *s, const char *product, const char *record_id, const char *reason,
		      struct store_err *err);
	int (*recover)(struct store *s, const char *station, struct store_recovery *rep, struct store_err *err);
	int (*check)(struct store *s, struct store_err *err);
	int (*batch_add)(struct store *s, const char *product, int64_t count, const char *const *ports,
			 size_t n_ports, int64_t *id_out, struct store_err *err);
	int (*batch_set)(struct store *s, int64_t id, enum store_batch_op op, struct store_err *err);
	int (*batch_query)(struct store *s, int64_t id, json_t **out, struct store_err *err);
	int (*batch_active)(struct store *s, json_t **out, struct store_err *err);
	int (*audit_append)(struct store *s, const struct store_audit_entry *a, struct store_err *err);
	int (*query_records)(struct store *s, const struct store_record_filter *f, json_t **out,
			     struct store_err *err);
	int (*query_stats)(struct store *s, const char *product, json_t **out, struct store_err *err);
	int (*query_audit)(struct store *s, const struct store_audit_filter *f, json_t **out, struct store_err *err);
	int (*uplink_cursor)(struct store *s, const char *name, int64_t *last, struct store_err *err);
	int (*uplink_advance)(struct store *s, const char *name, int64_t last, struct store_err *err);
	int (*uplink_pending)(struct store *s, int64_t after, int64_t *count, struct store_err *err);
	int (*lease_fill)(struct store *s, const char *station, const char *product, int64_t n, int64_t *held,
			  struct store_err *err);
	int (*lease_release)(struct store *s, const char *station, const char *reason, int64_t *released,
			     struct store_err *err);
	int (*lease_available)(struct store *s, const char *station, const char *product, int64_t *n,
			       struct store_err *err);
	/* identities (espfab/store_cert.h) and HMAC NVS encryption (espfab/store_hmac.h) */
	int (*identity_set)(struct store *s, const char *product, const char *profile_json, const char *part_label,
			    struct store_err *err);
	int (*identity_get)(struct store *s, int64_t product_id, struct store_identity **out, struct store_err *err);
	int (*cert_live)(struct store *s, int64_t product_id, const char *mac, struct store_cert **out,
			 struct store_err *err);
	int (*cert_add)(struct store *s, const struct store_cert_new *c, struct store_err *err);
	int (*cert_delivered)(struct store *s, int64_t product_id, const char *mac, const char *station,
			      const char *port, int64_t job_id, struct store_err *err);
	int (*cert_query)(struct store *s, const struct store_cert_filter *f, json_t **out, struct store_err *err);
	int (*hmac_product_set)(struct store *s, const char *product, const struct store_hmac_product *hp,
				struct store_err *err);
	int (*hmac_product_get)(struct store *s, int64_t product_id, struct store_hmac_product *out,
				struct store_err *err);
	int (*hmac_annotate)(struct store *s, json_t *reply, struct store_err *err);
	int (*hmac_device_get)(struct store *s, const char *mac, unsigned key_block, struct store_hmac_device *out,
			       struct store_err *err);
	int (*hmac_set)(struct store *s, const struct store_hmac_event *e, enum store_hmac_state to, const uint8_t *key,
			struct store_err *err);
};

/* 1 when the database setting names a PostgreSQL database, not a file. */
int store_pg_is_uri(const char *db);
/* store_open() for such a setting (store_pg.c). */
int store_pg_open(struct store **out, const char *uri, unsigned flags, const uint8_t *seal_key,
		  struct store_err *err);

/* First statement of a public call: hands it to the backend when there is
 * one. call is the table entry, args its arguments in parentheses. */
#define STORE_VIA_BACKEND(s, call, args)                                                                  \
	do {                                                                                                \
		if ((s) && (s)->be)                                                                         \
			return (s)->be->call args;                                                          \
	} while (0)

#endif
