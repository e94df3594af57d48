-- espfab store, schema version 6: a station's lease of records (issue 11,
-- docs/postgresql.md "Leases"). lease_station names the station an
-- available record is set aside for: no other station's claim takes it
-- until the lease is released (store_lease_release). A lease covers a
-- record while it is in the pool (available, or reserved by its station's
-- claim, so a released claim gives it back to the same lease) and ends
-- when the record leaves the pool: bound, retired, or claimed by another
-- station for the MAC it was reserved for.
ALTER TABLE records ADD COLUMN lease_station TEXT CHECK (lease_station IS NULL OR length(lease_station) BETWEEN 1 AND 128);

-- The claim's pick for a station: first its own leased records ...
CREATE INDEX records_leased ON records (lease_station, product_id, id) WHERE lease_station IS NOT NULL;
-- ... then the records nobody holds, without stepping over the leased ones
-- (the leases take the lowest ids, so records_avail would scan them all).
CREATE INDEX records_free ON records (product_id, id) WHERE state = 'available' AND lease_station IS NULL;

-- Only a record in the pool is leased, and to one station at a time: a
-- lease moves to another station only by being released first.
CREATE TRIGGER records_lease_take BEFORE UPDATE OF lease_station ON records
WHEN NEW.lease_station IS NOT NULL AND (OLD.state <> 'available' OR NEW.state <> 'available' OR OLD.bound = 1
					OR (OLD.lease_station IS NOT NULL AND OLD.lease_station IS NOT NEW.lease_station))
BEGIN
	SELECT RAISE(ABORT, 'only an available record not leased to another station can be leased');
END;
-- The end of a lease, whichever statement moved the record out of the pool
-- (the lifecycle code need not know about leases). An AFTER trigger: a
-- BEFORE trigger cannot change NEW in SQLite.
CREATE TRIGGER records_lease_end AFTER UPDATE OF state, bound, station ON records
WHEN NEW.lease_station IS NOT NULL AND (NEW.bound = 1 OR NEW.state NOT IN ('available', 'reserved')
					OR (NEW.state = 'reserved' AND NEW.station IS NOT NEW.lease_station))
BEGIN
	UPDATE records SET lease_station = NULL WHERE id = NEW.id;
END;
