-- espfab store on PostgreSQL, schema version 2: a station's lease of
-- records (issue 11; the SQLite store's version 6 has the same rules).
-- lease_station names the station an available record is set aside for:
-- no other station's claim takes it until the lease is released. A lease
-- covers a record while it is in the pool (available, or reserved by its
-- station's claim, so a released claim gives it back to the same lease)
-- and ends when the record leaves the pool: bound, retired, or claimed by
-- another station for the MAC it was reserved for. lease_role is the
-- database role that took the lease (set here, never by a client): only
-- that role or an espfab_admin releases it, so one station's login cannot
-- empty another's lease.
ALTER TABLE records ADD COLUMN lease_station TEXT
	CHECK (lease_station IS NULL OR length(lease_station) BETWEEN 1 AND 128);
ALTER TABLE records ADD COLUMN lease_role TEXT;
ALTER TABLE records ADD CONSTRAINT records_lease_pool
	CHECK (lease_station IS NULL OR (bound = 0 AND state IN ('available', 'reserved')));

-- The claim's pick for a station: first its own leased records, then the
-- records nobody holds, without stepping over the leased ones (the leases
-- take the lowest ids, so records_avail would scan them all).
CREATE INDEX records_leased ON records (lease_station, product_id, id) WHERE lease_station IS NOT NULL;
CREATE INDEX records_free ON records (product_id, id) WHERE state = 'available' AND lease_station IS NULL;

CREATE FUNCTION espfab_lease_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	admin BOOLEAN;
BEGIN
	-- Out of the pool: the lease ends, whoever moved the record.
	IF NEW.lease_station IS NOT NULL AND (NEW.bound = 1 OR NEW.state NOT IN ('available', 'reserved')
					      OR (NEW.state = 'reserved' AND NEW.station IS DISTINCT FROM NEW.lease_station)) THEN
		NEW.lease_station := NULL;
		NEW.lease_role := NULL;
		RETURN NEW;
	END IF;
	IF NEW.lease_station IS NOT DISTINCT FROM OLD.lease_station THEN
		NEW.lease_role := OLD.lease_role;
		RETURN NEW;
	END IF;
	IF NEW.lease_station IS NOT NULL THEN
		IF OLD.lease_station IS NOT NULL OR OLD.state <> 'available' OR NEW.state <> 'available' THEN
			RAISE EXCEPTION 'only an available record not leased to another station can be leased';
		END IF;
		NEW.lease_role := session_user;
		RETURN NEW;
	END IF;
	-- A release.
	IF OLD.lease_role IS DISTINCT FROM session_user THEN
		SELECT rolsuper INTO admin FROM pg_roles WHERE rolname = session_user;
		IF NOT coalesce(admin, false) AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'espfab_admin') THEN
			admin := pg_has_role(session_user, 'espfab_admin', 'MEMBER');
		END IF;
		IF NOT coalesce(admin, false) THEN
			RAISE EXCEPTION 'the lease of station % is released by the role that took it or an espfab_admin',
				OLD.lease_station;
		END IF;
	END IF;
	NEW.lease_role := NULL;
	RETURN NEW;
END $$;
CREATE TRIGGER records_lease BEFORE UPDATE ON records
	FOR EACH ROW EXECUTE FUNCTION espfab_lease_rules();
