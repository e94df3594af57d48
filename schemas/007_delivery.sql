-- espfab store: exactly-once delivery of held results (issue 11). espfabd
-- gives every device result a delivery id (32 hex digits, 128 random bits)
-- when it first reaches the store or its outbox journal, and hands it in
-- again when a crash lost the journal's "delivered" mark and the result is
-- sent a second time. The audit row of the result keeps the id, written in
-- the same transaction as the job's state change; a call that finds its id
-- here stores nothing again (store_delivery.c). NULL: not from espfabd's
-- results (operator actions, imports, recovery). The column is written by
-- INSERT only: the audit triggers of 001 refuse every UPDATE and DELETE.
ALTER TABLE audit ADD COLUMN delivery TEXT
	CHECK (delivery IS NULL OR (length(delivery) = 32 AND delivery NOT GLOB '*[^0-9a-f]*'));
CREATE UNIQUE INDEX audit_delivery ON audit (delivery) WHERE delivery IS NOT NULL;
-- A new unique key can carry a REPLACE (see 002): INSERT OR REPLACE with a
-- stored delivery id would delete that row. Refuse the colliding insert.
CREATE TRIGGER audit_delivery_no_replace BEFORE INSERT ON audit
WHEN NEW.delivery IS NOT NULL AND EXISTS (SELECT 1 FROM audit WHERE delivery = NEW.delivery)
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only: this delivery is stored already');
END;
