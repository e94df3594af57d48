-- espfab on PostgreSQL: least-privilege roles. Not a migration (store_open
-- never runs it): a DBA runs it with psql once the schema exists, and again
-- after an espfab upgrade that brings a new schemas/pg migration, e.g.
--   psql "postgresql://dba@db.plant/espfab" -v ON_ERROR_STOP=1 -f roles.sql
-- It is idempotent. Three group roles (NOLOGIN); give each login role one:
--   espfab_owner    owns the tables, applies migrations: the first
--                   `espfab --db URI product list` run as it creates the
--                   schema. Never used by a station.
--   espfab_admin    products (with their identity profile and NVS
--                   encryption), imports, batches, retire, reading
--                   everything: what `espfab product|records|batch|certs ...`
--                   need.
--   espfab_station  what espfabd needs on the line: read products and
--                   records, claim, mark sent/verified/failed, append audit
--                   rows, move uplink cursors, fill and release its lease,
--                   issue and deliver device certificates, record HMAC key
--                   burns. It cannot import, define products or their
--                   identity or encryption, retire, delete anything or
--                   rewrite the audit.
-- The triggers of the schema (append-only audit, bound records, fixed
-- values) hold for every role, the owner included; these grants keep a
-- station from even trying.
--   CREATE ROLE line1 LOGIN PASSWORD '...' IN ROLE espfab_station;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'espfab_owner') THEN
		CREATE ROLE espfab_owner NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'espfab_admin') THEN
		CREATE ROLE espfab_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'espfab_station') THEN
		CREATE ROLE espfab_station NOLOGIN;
	END IF;
END $$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM espfab_admin, espfab_station;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM espfab_admin, espfab_station;
GRANT USAGE ON SCHEMA public TO espfab_admin, espfab_station;

-- Both read everything (the values only as stored: sealed when sealed).
GRANT SELECT ON ALL TABLES IN SCHEMA public TO espfab_admin, espfab_station;

-- Admin: define products, import, batches, retire, the seal key check.
GRANT INSERT ON products, product_fields, product_images, imports, records, record_values, unique_values,
	batches, audit TO espfab_admin;
GRANT UPDATE (rows) ON imports TO espfab_admin;
GRANT UPDATE (state, retired_reason) ON records TO espfab_admin;
GRANT UPDATE (state, finished) ON batches TO espfab_admin;
GRANT INSERT ON meta TO espfab_admin;
-- A product's identity profile and NVS encryption, set once with the product.
GRANT INSERT ON product_identity, product_nvs_encryption TO espfab_admin;
GRANT INSERT, UPDATE ON uplink TO espfab_admin;
-- An import locks its product row (FOR NO KEY UPDATE needs an UPDATE grant).
GRANT UPDATE (name) ON products TO espfab_admin;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO espfab_admin;

-- Station: the lifecycle and the audit, nothing else.
GRANT INSERT, UPDATE (state, error, sent_at, finished) ON jobs TO espfab_station;
GRANT UPDATE (state, mac, station, port, job_id, bound, bound_at, verified_at) ON records TO espfab_station;
-- Its lease (schema 002): take and give back records. The trigger records
-- which role took a lease and lets only that role (or an admin) release it.
GRANT UPDATE (lease_station) ON records TO espfab_station;
GRANT UPDATE (state, finished) ON batches TO espfab_station;
-- A batch's per-station counters and its places (006_batch_counts.sql).
GRANT INSERT, UPDATE ON batch_counts, batch_places TO espfab_station;
GRANT INSERT ON audit TO espfab_station;
GRANT INSERT, UPDATE ON uplink TO espfab_station;
-- Certificates: issue (a new row), supersede an issued one (dropping its
-- kept key), deliver it; their bytes, serial and MAC stay the owner's.
GRANT INSERT, UPDATE (state, key_sealed, delivered_at) ON device_certs TO espfab_station;
-- HMAC key burns: the first burn inserts the row, later steps move it (a
-- re-burn of a block found free rewrites product, purpose and protection).
GRANT INSERT, UPDATE (product_id, purpose, protect, state, key_sealed, job_id, station, updated)
	ON device_hmac_keys TO espfab_station;
GRANT USAGE ON SEQUENCE jobs_id_seq, audit_id_seq, device_certs_id_seq, device_hmac_keys_id_seq TO espfab_station;

-- The admin may also do what a station does (a bench station, recovery).
GRANT espfab_station TO espfab_admin;
