-- REPLACE is a DELETE in disguise, and SQLite fires no DELETE trigger for
-- the rows a REPLACE removes unless recursive_triggers is on (lang_conflict:
-- "delete triggers fire if and only if recursive triggers are enabled").
-- So INSERT OR REPLACE could overwrite an audit row or swap a bound record
-- for a fresh 'available' one with the same id, under the very triggers of
-- 001 that forbid it. These refuse an INSERT that would collide instead.
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit WHERE id = NEW.id)
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

-- Any unique key of records can carry a REPLACE: the id, the record id,
-- and the MAC (records_mac). The UPDATE form matters too: UPDATE OR REPLACE
-- giving an available record a bound record's MAC would delete the bound one.
CREATE TRIGGER records_no_replace BEFORE INSERT ON records
WHEN EXISTS (SELECT 1 FROM records WHERE id = NEW.id
		OR (product_id = NEW.product_id AND record_id = NEW.record_id)
		OR (NEW.mac IS NOT NULL AND product_id = NEW.product_id AND mac = NEW.mac))
BEGIN
	SELECT RAISE(ABORT, 'records are never replaced');
END;
CREATE TRIGGER records_no_replace_update BEFORE UPDATE ON records
WHEN EXISTS (SELECT 1 FROM records WHERE id <> OLD.id AND (id = NEW.id
		OR (product_id = NEW.product_id AND record_id = NEW.record_id)
		OR (NEW.mac IS NOT NULL AND product_id = NEW.product_id AND mac = NEW.mac)))
BEGIN
	SELECT RAISE(ABORT, 'records are never replaced');
END;

-- A record's values are what its device received: fixed once imported.
CREATE TRIGGER record_values_no_replace BEFORE INSERT ON record_values
WHEN EXISTS (SELECT 1 FROM record_values WHERE record_id = NEW.record_id AND pos = NEW.pos)
BEGIN
	SELECT RAISE(ABORT, 'record values never change');
END;
CREATE TRIGGER record_values_no_update BEFORE UPDATE ON record_values
BEGIN
	SELECT RAISE(ABORT, 'record values never change');
END;
CREATE TRIGGER record_values_no_delete BEFORE DELETE ON record_values
BEGIN
	SELECT RAISE(ABORT, 'record values never change');
END;

-- The digests that keep --unique values unique: the importer's INSERT OR
-- IGNORE must still see a repeat as "no change", so a colliding insert is
-- ignored (never replaced); nothing may update or delete one.
CREATE TRIGGER unique_values_no_replace BEFORE INSERT ON unique_values
WHEN EXISTS (SELECT 1 FROM unique_values WHERE product_id = NEW.product_id AND pos = NEW.pos
		AND digest = NEW.digest)
BEGIN
	SELECT RAISE(IGNORE);
END;
CREATE TRIGGER unique_values_no_update BEFORE UPDATE ON unique_values
BEGIN
	SELECT RAISE(ABORT, 'unique value digests never change');
END;
CREATE TRIGGER unique_values_no_delete BEFORE DELETE ON unique_values
BEGIN
	SELECT RAISE(ABORT, 'unique value digests never change');
END;
