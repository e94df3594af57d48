-- espfab store, schema version 4: per-device identities (issue 13).
-- A product may carry an identity profile: each device it provisions gets a
-- key pair generated at the station and a certificate signed by the
-- profile's CA, written to the product's esp_secure_cert partition next to
-- the NVS image. One live certificate per (product, MAC): a device that
-- comes back gets the same certificate.

-- The profile (canonical JSON, espfab/seccert_issue.h) and where the
-- esp_secure_cert partition is in the product's table. Fixed once set: a
-- device provisioned today gets what one provisioned yesterday got.
CREATE TABLE product_identity (
	product_id INTEGER PRIMARY KEY REFERENCES products(id),
	profile TEXT NOT NULL,
	part_offset INTEGER NOT NULL CHECK (part_offset >= 0 AND part_offset % 4096 = 0),
	part_size INTEGER NOT NULL CHECK (part_size > 0),
	created TEXT NOT NULL
) STRICT;
CREATE TRIGGER product_identity_no_update BEFORE UPDATE ON product_identity
BEGIN
	SELECT RAISE(ABORT, 'a product''s identity profile never changes');
END;
CREATE TRIGGER product_identity_no_delete BEFORE DELETE ON product_identity
BEGIN
	SELECT RAISE(ABORT, 'a product''s identity profile never changes');
END;

-- Every certificate issued. 'issued': signed and handed to a device's pass,
-- not yet verified on it; 'delivered': verified on the device (what the
-- plant registers with its cloud); 'superseded': an 'issued' one replaced
-- by a new one before it was ever delivered (its key was only in memory).
-- key_sealed holds the private key only when the profile keeps keys,
-- sealed with the store's seal key.
CREATE TABLE device_certs (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	mac TEXT NOT NULL CHECK (length(mac) = 17),
	record_id TEXT,
	ca_sha256 TEXT NOT NULL CHECK (length(ca_sha256) = 64),
	serial TEXT NOT NULL,
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	subject TEXT NOT NULL,
	not_after TEXT NOT NULL,
	cert BLOB NOT NULL,
	key_sealed BLOB,
	state TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'superseded')),
	station TEXT,
	issued_at TEXT NOT NULL,
	delivered_at TEXT,
	UNIQUE (ca_sha256, serial)
) STRICT;
CREATE UNIQUE INDEX device_certs_live ON device_certs (product_id, mac) WHERE state != 'superseded';
CREATE UNIQUE INDEX device_certs_sha256 ON device_certs (sha256);
-- A certificate's bytes never change; its state only moves forward.
CREATE TRIGGER device_certs_fixed BEFORE UPDATE OF product_id, mac, ca_sha256, serial, sha256, subject, not_after,
	cert, issued_at ON device_certs
BEGIN
	SELECT RAISE(ABORT, 'an issued certificate never changes');
END;
CREATE TRIGGER device_certs_state BEFORE UPDATE OF state ON device_certs
WHEN NOT ((OLD.state = 'issued' AND NEW.state IN ('delivered', 'superseded')) OR OLD.state = NEW.state)
BEGIN
	SELECT RAISE(ABORT, 'a certificate''s state only moves from issued to delivered or superseded');
END;
CREATE TRIGGER device_certs_no_delete BEFORE DELETE ON device_certs
BEGIN
	SELECT RAISE(ABORT, 'issued certificates are never deleted');
END;

-- The audit trail names a certificate by its serial (and its SHA-256
-- fingerprint in image_sha256) on 'certificate' rows.
ALTER TABLE audit ADD COLUMN cert_serial TEXT;
