-- espfab store, schema version 5: NVS encryption with the HMAC eFuse scheme
-- (issue 12, docs/efuse.md). A product may ask for its NVS images to be
-- encrypted with XTS keys derived from a per-device HMAC key, which the
-- station generates and burns into an eFuse key block (purpose HMAC_UP).

-- The product's choice, fixed once set (a device provisioned today gets
-- what one provisioned yesterday got). protect: bit 0 read-protect, bit 1
-- write-protect the key block (efuse.h EFUSE_PROTECT_*). seal_key: the
-- per-device key is kept sealed in device_hmac_keys for support/recovery.
CREATE TABLE product_nvs_encryption (
	product_id INTEGER PRIMARY KEY REFERENCES products(id),
	scheme TEXT NOT NULL CHECK (scheme IN ('hmac')),
	key_block INTEGER NOT NULL CHECK (key_block BETWEEN 0 AND 5),
	protect INTEGER NOT NULL CHECK (protect BETWEEN 0 AND 3),
	seal_key INTEGER NOT NULL CHECK (seal_key IN (0, 1)),
	created TEXT NOT NULL
) STRICT;
CREATE TRIGGER product_nvs_encryption_no_update BEFORE UPDATE ON product_nvs_encryption
BEGIN
	SELECT RAISE(ABORT, 'a product''s NVS encryption never changes');
END;
CREATE TRIGGER product_nvs_encryption_no_delete BEFORE DELETE ON product_nvs_encryption
BEGIN
	SELECT RAISE(ABORT, 'a product''s NVS encryption never changes');
END;

-- One row per device (MAC) and key block: where its HMAC key burn got to.
--   key-burning: durable before the burn starts (block, no key unless the
--                product seals it); a crash leaves it so;
--   key-burnt:   the burn was verified (purpose, protection read back);
--   done:        the encrypted NVS image is written and verified;
--   rework:      a key is (or may be) on the chip and the station cannot
--                finish the device: set it aside;
--   refused:     the burn was refused with nothing burnt.
-- key_sealed: the HMAC key sealed with the store's seal key, only when the
-- product asks for it; never the key in clear.
CREATE TABLE device_hmac_keys (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	mac TEXT NOT NULL CHECK (length(mac) = 17),
	key_block INTEGER NOT NULL CHECK (key_block BETWEEN 0 AND 5),
	purpose INTEGER NOT NULL,
	protect INTEGER NOT NULL CHECK (protect BETWEEN 0 AND 3),
	state TEXT NOT NULL CHECK (state IN ('key-burning', 'key-burnt', 'done', 'rework', 'refused')),
	key_sealed BLOB,
	job_id INTEGER,
	station TEXT,
	updated TEXT NOT NULL,
	UNIQUE (mac, key_block)
) STRICT;
-- The state moves only along the lines of docs/efuse.md; a burnt key's
-- sealed copy never changes (only a re-burn of a block found free does).
CREATE TRIGGER device_hmac_keys_state BEFORE UPDATE OF state ON device_hmac_keys
WHEN NOT ((OLD.state IN ('key-burning', 'refused') AND NEW.state IN ('key-burning', 'key-burnt', 'rework', 'refused'))
	OR (OLD.state = 'key-burnt' AND NEW.state IN ('key-burnt', 'done', 'rework'))
	OR (OLD.state = 'done' AND NEW.state = 'done')
	OR (OLD.state = 'rework' AND NEW.state = 'rework'))
BEGIN
	SELECT RAISE(ABORT, 'device HMAC key: state change not allowed');
END;
CREATE TRIGGER device_hmac_keys_sealed BEFORE UPDATE OF key_sealed ON device_hmac_keys
WHEN OLD.state NOT IN ('key-burning', 'refused') AND OLD.key_sealed IS NOT NEW.key_sealed
BEGIN
	SELECT RAISE(ABORT, 'device HMAC key: a burnt key never changes');
END;
CREATE TRIGGER device_hmac_keys_no_delete BEFORE DELETE ON device_hmac_keys
BEGIN
	SELECT RAISE(ABORT, 'device HMAC key rows are never deleted');
END;

-- The audit names the key block, purpose and protection of a burn (never
-- the key): "BLOCK_KEY1 HMAC_UP read,write".
ALTER TABLE audit ADD COLUMN efuse TEXT;
