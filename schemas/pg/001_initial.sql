-- espfab store on PostgreSQL, schema version 1: the SQLite schema's
-- versions 1 to 3 (tables, lifecycle checks, firmware images) in one.
-- Applied by store_open() in one transaction under an advisory lock, with
-- the row in espfab_schema, so stations starting together migrate once.
-- Times are UTC text, ISO 8601 with milliseconds, as in the SQLite store.
-- Every rule the SQLite triggers enforce is a trigger here too: they hold
-- for every role, the owner included; the role grants (docs/postgresql.md)
-- come on top.

CREATE TABLE meta (
	name TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);

-- Uplink cursors (store_uplink_*): how far each upstream system got in the
-- audit trail. Their own table, not meta as on SQLite, so a station's role
-- may move them without being able to touch the seal key check in meta.
CREATE TABLE uplink (
	name TEXT PRIMARY KEY,
	last_id BIGINT NOT NULL CHECK (last_id >= 0)
);

CREATE TABLE products (
	id BIGSERIAL PRIMARY KEY,
	name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
	nvs_version INTEGER NOT NULL CHECK (nvs_version IN (1, 2)),
	part_table BYTEA NOT NULL,
	part_label TEXT NOT NULL,
	part_offset BIGINT NOT NULL CHECK (part_offset >= 0),
	part_size BIGINT NOT NULL CHECK (part_size > 0 AND part_size % 4096 = 0),
	config_csv TEXT NOT NULL,
	created TEXT NOT NULL,
	chip TEXT NOT NULL DEFAULT '',
	n_images INTEGER NOT NULL DEFAULT 0 CHECK (n_images >= 0)
);

CREATE TABLE product_fields (
	product_id BIGINT NOT NULL REFERENCES products(id),
	pos INTEGER NOT NULL CHECK (pos >= 0),
	namespace TEXT NOT NULL,
	key TEXT NOT NULL,
	type TEXT NOT NULL CHECK (type IN ('namespace', 'data', 'file')),
	encoding TEXT NOT NULL,
	is_repeat INTEGER NOT NULL DEFAULT 0 CHECK (is_repeat IN (0, 1)),
	is_unique INTEGER NOT NULL DEFAULT 0 CHECK (is_unique IN (0, 1)),
	PRIMARY KEY (product_id, pos)
);

CREATE TABLE product_images (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	flash_offset BIGINT NOT NULL CHECK (flash_offset >= 0 AND flash_offset % 4096 = 0),
	name TEXT NOT NULL,
	file TEXT NOT NULL,
	size BIGINT NOT NULL CHECK (size > 0),
	sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
	data BYTEA NOT NULL CHECK (length(data) = size),
	UNIQUE (product_id, flash_offset)
);

CREATE TABLE imports (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	source TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	rows BIGINT NOT NULL,
	created TEXT NOT NULL
);

CREATE TABLE records (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	record_id TEXT NOT NULL CHECK (length(record_id) BETWEEN 1 AND 128),
	import_id BIGINT NOT NULL REFERENCES imports(id),
	state TEXT NOT NULL DEFAULT 'available'
		CHECK (state IN ('available', 'reserved', 'sent', 'verified', 'retired')),
	mac TEXT CHECK (mac IS NULL OR length(mac) = 17),
	station TEXT,
	port TEXT,
	job_id BIGINT,
	bound INTEGER NOT NULL DEFAULT 0 CHECK (bound IN (0, 1)),
	sealed INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1)),
	bound_at TEXT,
	verified_at TEXT,
	retired_reason TEXT,
	UNIQUE (product_id, record_id),
	CHECK ((state = 'available') = (mac IS NULL) OR state = 'retired'),
	CHECK (state <> 'reserved' OR job_id IS NOT NULL),
	CHECK (bound = 0 OR mac IS NOT NULL),
	CHECK (state NOT IN ('sent', 'verified') OR bound = 1)
);
-- A device (MAC) holds at most one record of a product, ever.
CREATE UNIQUE INDEX records_mac ON records (product_id, mac) WHERE mac IS NOT NULL;
-- The claim's pick: the lowest available id of a product.
CREATE INDEX records_avail ON records (product_id, id) WHERE state = 'available';

CREATE TABLE record_values (
	record_id BIGINT NOT NULL REFERENCES records(id),
	pos INTEGER NOT NULL,
	value BYTEA NOT NULL,
	PRIMARY KEY (record_id, pos)
);

CREATE TABLE unique_values (
	product_id BIGINT NOT NULL REFERENCES products(id),
	pos INTEGER NOT NULL,
	digest BYTEA NOT NULL,
	record_id BIGINT NOT NULL REFERENCES records(id),
	PRIMARY KEY (product_id, pos, digest)
);

CREATE TABLE batches (
	id BIGSERIAL PRIMARY KEY,
	product_id BIGINT NOT NULL REFERENCES products(id),
	count BIGINT NOT NULL CHECK (count > 0),
	ports TEXT,
	state TEXT NOT NULL DEFAULT 'active'
		CHECK (state IN ('active', 'paused', 'cancelled', 'done')),
	n_verified BIGINT NOT NULL DEFAULT 0,
	n_failed BIGINT NOT NULL DEFAULT 0,
	created TEXT NOT NULL,
	finished TEXT
);

CREATE TABLE jobs (
	id BIGSERIAL PRIMARY KEY,
	batch_id BIGINT REFERENCES batches(id),
	record_id BIGINT NOT NULL REFERENCES records(id),
	station TEXT NOT NULL,
	port TEXT NOT NULL,
	mac TEXT NOT NULL CHECK (length(mac) = 17),
	chip TEXT,
	state TEXT NOT NULL DEFAULT 'reserved'
		CHECK (state IN ('reserved', 'sent', 'verified', 'released', 'failed', 'interrupted')),
	error TEXT,
	created TEXT NOT NULL,
	sent_at TEXT,
	finished TEXT
);
CREATE INDEX jobs_open ON jobs (station, state) WHERE state IN ('reserved', 'sent');
CREATE INDEX jobs_record ON jobs (record_id);
CREATE INDEX jobs_batch_open ON jobs (batch_id) WHERE state IN ('reserved', 'sent');

-- The audit trail: append-only. Never holds a field value. db_user names
-- the database role that wrote the row (station rows also carry station).
CREATE TABLE audit (
	id BIGSERIAL PRIMARY KEY,
	time TEXT NOT NULL,
	event TEXT NOT NULL,
	station TEXT,
	port TEXT,
	chip TEXT,
	mac TEXT,
	product TEXT,
	record_id TEXT,
	batch_id BIGINT,
	job_id BIGINT,
	image_sha256 TEXT,
	flash_md5 TEXT,
	baud BIGINT,
	retries BIGINT,
	duration_ms BIGINT,
	result TEXT NOT NULL,
	error TEXT,
	db_user TEXT NOT NULL DEFAULT session_user
);
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_mac ON audit (mac);

-- ---- the rules, as triggers ----

CREATE FUNCTION espfab_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'P0001';
END $$;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('the audit trail is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('the audit trail is append-only');

CREATE FUNCTION espfab_records_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.bound = 1 AND (NEW.bound <> 1 OR NEW.mac IS DISTINCT FROM OLD.mac
			      OR NEW.state IN ('available', 'reserved')) THEN
		RAISE EXCEPTION 'record is bound to its MAC forever';
	END IF;
	IF OLD.state = 'retired' AND NEW.state <> 'retired' THEN
		RAISE EXCEPTION 'a retired record stays retired';
	END IF;
	IF NEW.id <> OLD.id OR NEW.product_id <> OLD.product_id OR NEW.record_id <> OLD.record_id
	   OR NEW.sealed <> OLD.sealed OR NEW.import_id <> OLD.import_id THEN
		RAISE EXCEPTION 'a record''s identity never changes';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER records_rules BEFORE UPDATE ON records
	FOR EACH ROW EXECUTE FUNCTION espfab_records_rules();
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('records are never deleted');
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON records
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('records are never deleted');

CREATE TRIGGER record_values_fixed BEFORE UPDATE OR DELETE ON record_values
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('record values never change');
CREATE TRIGGER record_values_no_truncate BEFORE TRUNCATE ON record_values
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('record values never change');
CREATE TRIGGER unique_values_fixed BEFORE UPDATE OR DELETE ON unique_values
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('unique value digests never change');
CREATE TRIGGER unique_values_no_truncate BEFORE TRUNCATE ON unique_values
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('unique value digests never change');

-- A product's images are fixed with the product: exactly n_images rows.
CREATE FUNCTION espfab_images_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT count(*) FROM product_images WHERE product_id = NEW.product_id)
	   >= coalesce((SELECT n_images FROM products WHERE id = NEW.product_id), 0) THEN
		RAISE EXCEPTION 'a product''s firmware images never change';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER product_images_fixed BEFORE INSERT ON product_images
	FOR EACH ROW EXECUTE FUNCTION espfab_images_fixed();
CREATE TRIGGER product_images_no_change BEFORE UPDATE OR DELETE ON product_images
	FOR EACH ROW EXECUTE FUNCTION espfab_refuse('a product''s firmware images never change');
CREATE TRIGGER product_images_no_truncate BEFORE TRUNCATE ON product_images
	FOR EACH STATEMENT EXECUTE FUNCTION espfab_refuse('a product''s firmware images never change');

CREATE FUNCTION espfab_products_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.chip IS DISTINCT FROM OLD.chip OR NEW.n_images IS DISTINCT FROM OLD.n_images
	   OR NEW.id <> OLD.id THEN
		RAISE EXCEPTION 'a product''s firmware images never change';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER products_firmware_fixed BEFORE UPDATE ON products
	FOR EACH ROW EXECUTE FUNCTION espfab_products_rules();
