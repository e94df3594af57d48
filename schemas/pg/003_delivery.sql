-- espfab on PostgreSQL: exactly-once delivery of held results (issue 11),
-- the twin of schemas/007_delivery.sql. espfabd gives every device result a
-- delivery id (32 hex digits, 128 random bits) and hands it in again when a
-- crash lost its outbox journal's "delivered" mark; the result's audit row
-- keeps the id, written in the same transaction as the job's state change,
-- and a call that finds its id stores nothing again (store_pg_delivery.c).
-- NULL: not from espfabd's results. INSERT only: audit_no_update refuses
-- every UPDATE (ON CONFLICT DO UPDATE included) and DELETE. The station
-- role's INSERT grant on audit (roles.sql) covers the new column.
ALTER TABLE audit ADD COLUMN delivery TEXT CHECK (delivery IS NULL OR delivery ~ '^[0-9a-f]{32}$');
CREATE UNIQUE INDEX audit_delivery ON audit (delivery) WHERE delivery IS NOT NULL;
