-- espfab store on PostgreSQL: per-device identities (issue 13), the SQLite
-- schema's version 4 (schemas/004_identity.sql) with the same tables,
-- constraints and rules. A product may carry an identity profile: each
-- device it provisions gets a key pair generated at the station and a
-- certificate signed by the profile's CA. One live certificate per
-- (product, MAC): a device that comes back gets the same certificate.
-- As in 001_initial.sql, the rules are triggers that hold for every role,
-- the owner included; roles.sql's grants come on top. SQLite's
-- "BEFORE UPDATE OF col" fires when col is named in the SET list; the
-- triggers here compare the values instead, which refuses every real
-- change just the same.

-- The profile (canonical JSON, espfab/seccert_issue.h) and where the
-- esp_secure_cert partition is in the product's table. Fixed once set.
CREATE TABLE product_identity (
	product_id BIGINT PRIMARY KEY REFERENCES products(id),
	profile TEXT NOT NULL,
	part_offset BIGINT NOT NULL CHECK (part_offset >= 0 AND part_offset % 4096 = 0),
	part_size BIGINT NOT NULL CHECK (part_size > 0),
	created TEXT NOT NULL
);
CREATE TRIGGER product_identity_fixed BEFORE UPDATE OR DELETE ON product_identity
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('a product''s identity profile never changes');
CREATE TRIGGER product_identity_no_truncate BEFORE TRUNCATE ON product_identity
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('a product''s identity profile never changes');

-- Every certificate issued: 'issued' (handed to a device's pass, not yet
-- verified on it), 'delivered' (verified on the device), 'superseded' (an
-- issued one replaced before it was delivered). key_sealed holds the
-- private key only when the profile keeps keys, sealed with the seal key.
CREATE TABLE device_certs (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	mac TEXT NOT NULL CHECK (length(mac) = 17),
	record_id TEXT,
	ca_sha256 TEXT NOT NULL CHECK (length(ca_sha256) = 64),
	serial TEXT NOT NULL,
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	subject TEXT NOT NULL,
	not_after TEXT NOT NULL,
	cert BYTEA NOT NULL,
	key_sealed BYTEA,
	state TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'superseded')),
	station TEXT,
	issued_at TEXT NOT NULL,
	delivered_at TEXT,
	CONSTRAINT device_certs_serial UNIQUE (ca_sha256, serial)
);
CREATE UNIQUE INDEX device_certs_live ON device_certs (product_id, mac) WHERE state <> 'superseded';
CREATE UNIQUE INDEX device_certs_sha256 ON device_certs (sha256);

-- A certificate's bytes never change; its state only moves forward.
CREATE FUNCTION espfab_device_certs_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id <> OLD.id OR NEW.product_id <> OLD.product_id OR NEW.mac <> OLD.mac
	   OR NEW.ca_sha256 <> OLD.ca_sha256 OR NEW.serial <> OLD.serial OR NEW.sha256 <> OLD.sha256
	   OR NEW.subject <> OLD.subject OR NEW.not_after <> OLD.not_after OR NEW.cert <> OLD.cert
	   OR NEW.issued_at <> OLD.issued_at THEN
		RAISE EXCEPTION 'an issued certificate never changes';
	END IF;
	IF NOT ((OLD.state = 'issued' AND NEW.state IN ('delivered', 'superseded')) OR OLD.state = NEW.state) THEN
		RAISE EXCEPTION 'a certificate''s state only moves from issued to delivered or superseded';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER device_certs_rules BEFORE UPDATE ON device_certs
	FOR EACH ROW EXECUTE FUNCTION espfab_device_certs_rules();
CREATE TRIGGER device_certs_no_delete BEFORE DELETE ON device_certs
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('issued certificates are never deleted');
CREATE TRIGGER device_certs_no_truncate BEFORE TRUNCATE ON device_certs
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('issued certificates are never deleted');

-- The audit trail names a certificate by its serial (and its SHA-256
-- fingerprint in image_sha256) on 'certificate' rows.
ALTER TABLE audit ADD COLUMN cert_serial TEXT;
