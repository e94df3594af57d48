-- espfab store on PostgreSQL: NVS encryption with the HMAC eFuse scheme
-- (issue 12, docs/efuse.md), the SQLite schema's version 5
-- (schemas/005_hmac.sql) with the same tables, constraints and rules, as
-- triggers that hold for every role (see 004_identity.sql).

-- The product's choice, fixed once set. protect: bit 0 read-protect, bit 1
-- write-protect the key block. seal_key: each device's key is kept sealed.
CREATE TABLE product_nvs_encryption (
	product_id BIGINT PRIMARY KEY REFERENCES products(id),
	scheme TEXT NOT NULL CHECK (scheme IN ('hmac')),
	key_block INTEGER NOT NULL CHECK (key_block BETWEEN 0 AND 5),
	protect INTEGER NOT NULL CHECK (protect BETWEEN 0 AND 3),
	seal_key INTEGER NOT NULL CHECK (seal_key IN (0, 1)),
	created TEXT NOT NULL
);
CREATE TRIGGER product_nvs_encryption_fixed BEFORE UPDATE OR DELETE ON product_nvs_encryption
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('a product''s NVS encryption never changes');
CREATE TRIGGER product_nvs_encryption_no_truncate BEFORE TRUNCATE ON product_nvs_encryption
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('a product''s NVS encryption never changes');

-- One row per device (MAC) and key block: where its HMAC key burn got to
-- (key-burning, key-burnt, done, rework, refused: schemas/005_hmac.sql).
-- key_sealed: the key sealed with the store's seal key, only when the
-- product asks for it; never the key in clear.
CREATE TABLE device_hmac_keys (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	mac TEXT NOT NULL CHECK (length(mac) = 17),
	key_block INTEGER NOT NULL CHECK (key_block BETWEEN 0 AND 5),
	purpose INTEGER NOT NULL,
	protect INTEGER NOT NULL CHECK (protect BETWEEN 0 AND 3),
	state TEXT NOT NULL CHECK (state IN ('key-burning', 'key-burnt', 'done', 'rework', 'refused')),
	key_sealed BYTEA,
	job_id BIGINT,
	station TEXT,
	updated TEXT NOT NULL,
	UNIQUE (mac, key_block)
);

-- The state moves only along the lines of docs/efuse.md; a burnt key's
-- sealed copy never changes (only a re-burn of a block found free does).
CREATE FUNCTION espfab_device_hmac_keys_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT ((OLD.state IN ('key-burning', 'refused')
		 AND NEW.state IN ('key-burning', 'key-burnt', 'rework', 'refused'))
		OR (OLD.state = 'key-burnt' AND NEW.state IN ('key-burnt', 'done', 'rework'))
		OR (OLD.state = 'done' AND NEW.state = 'done')
		OR (OLD.state = 'rework' AND NEW.state = 'rework')) THEN
		RAISE EXCEPTION 'device HMAC key: state change not allowed';
	END IF;
	IF OLD.state NOT IN ('key-burning', 'refused') AND OLD.key_sealed IS DISTINCT FROM NEW.key_sealed THEN
		RAISE EXCEPTION 'device HMAC key: a burnt key never changes';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER device_hmac_keys_rules BEFORE UPDATE ON device_hmac_keys
	FOR EACH ROW EXECUTE FUNCTION espfab_device_hmac_keys_rules();
CREATE TRIGGER device_hmac_keys_no_delete BEFORE DELETE ON device_hmac_keys
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('device HMAC key rows are never deleted');
CREATE TRIGGER device_hmac_keys_no_truncate BEFORE TRUNCATE ON device_hmac_keys
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('device HMAC key rows are never deleted');

-- The audit names the key block, purpose and protection of a burn (never
-- the key): "BLOCK_KEY1 HMAC_UP read,write".
ALTER TABLE audit ADD COLUMN efuse TEXT;
