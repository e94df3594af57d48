-- espfab store, schema version 1.
-- Applied by store_open() inside one transaction, then PRAGMA user_version = 1.
-- Times are UTC text, ISO 8601 with milliseconds ("2026-11-21T06:30:00.123Z").

-- Key/value facts about the database itself (seal key check value, ...).
CREATE TABLE meta (
	name TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

-- A product: what each field becomes in NVS (an mfg_gen config) and where the
-- NVS partition lives on the device.
CREATE TABLE products (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
	nvs_version INTEGER NOT NULL CHECK (nvs_version IN (1, 2)),
	part_table BLOB NOT NULL,           -- the firmware's partition table, binary form
	part_label TEXT NOT NULL,
	part_offset INTEGER NOT NULL CHECK (part_offset >= 0),
	part_size INTEGER NOT NULL CHECK (part_size > 0 AND part_size % 4096 = 0),
	config_csv TEXT NOT NULL,           -- the config file as given, for reference
	created TEXT NOT NULL
) STRICT;

-- The config's rows in file order. Namespace rows carry no value; data and
-- file rows take the record's value for their key.
CREATE TABLE product_fields (
	product_id INTEGER NOT NULL REFERENCES products(id),
	pos INTEGER NOT NULL CHECK (pos >= 0),
	namespace TEXT NOT NULL,
	key TEXT NOT NULL,
	type TEXT NOT NULL CHECK (type IN ('namespace', 'data', 'file')),
	encoding TEXT NOT NULL,
	is_repeat INTEGER NOT NULL DEFAULT 0 CHECK (is_repeat IN (0, 1)),
	is_unique INTEGER NOT NULL DEFAULT 0 CHECK (is_unique IN (0, 1)),
	PRIMARY KEY (product_id, pos)
) STRICT, WITHOUT ROWID;

-- One imported values file.
CREATE TABLE imports (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	source TEXT NOT NULL,
	sha256 TEXT NOT NULL,
	rows INTEGER NOT NULL,
	created TEXT NOT NULL
) STRICT;

-- One row per device-to-be. state and mac follow the lifecycle in store.h:
-- available rows have no mac; every other state has one, and a record that
-- reached 'sent' keeps its mac forever (no statement here ever clears it:
-- see the trigger below).
CREATE TABLE records (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	record_id TEXT NOT NULL CHECK (length(record_id) BETWEEN 1 AND 128),
	import_id INTEGER NOT NULL REFERENCES imports(id),
	state TEXT NOT NULL DEFAULT 'available'
		CHECK (state IN ('available', 'reserved', 'sent', 'verified', 'retired')),
	mac TEXT CHECK (mac IS NULL OR length(mac) = 17),
	station TEXT,
	port TEXT,
	job_id INTEGER,                     -- the job holding a reservation
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
) STRICT;
-- A device (MAC) holds at most one record of a product, ever.
CREATE UNIQUE INDEX records_mac ON records (product_id, mac) WHERE mac IS NOT NULL;
CREATE INDEX records_avail ON records (product_id, state, id);

-- Binding is forever: a bound record never loses or changes its MAC and never
-- becomes available or reserved again.
CREATE TRIGGER records_bound_forever BEFORE UPDATE ON records
WHEN OLD.bound = 1 AND (NEW.bound <> 1 OR NEW.mac IS NOT OLD.mac
			OR NEW.state IN ('available', 'reserved'))
BEGIN
	SELECT RAISE(ABORT, 'record is bound to its MAC forever');
END;
-- Retiring is final.
CREATE TRIGGER records_retired_final BEFORE UPDATE ON records
WHEN OLD.state = 'retired' AND NEW.state <> 'retired'
BEGIN
	SELECT RAISE(ABORT, 'a retired record stays retired');
END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
BEGIN
	SELECT RAISE(ABORT, 'records are never deleted');
END;

-- Field values: plaintext, or (when sealed) nonce || ciphertext || tag.
CREATE TABLE record_values (
	record_id INTEGER NOT NULL REFERENCES records(id),
	pos INTEGER NOT NULL,
	value BLOB NOT NULL,
	PRIMARY KEY (record_id, pos)
) STRICT, WITHOUT ROWID;

-- Values of --unique fields, as keyed hashes, so a repeat is found without
-- decrypting anything (and without keeping a plaintext copy when sealed).
CREATE TABLE unique_values (
	product_id INTEGER NOT NULL REFERENCES products(id),
	pos INTEGER NOT NULL,
	digest BLOB NOT NULL,
	record_id INTEGER NOT NULL REFERENCES records(id),
	PRIMARY KEY (product_id, pos, digest)
) STRICT, WITHOUT ROWID;

CREATE TABLE batches (
	id INTEGER PRIMARY KEY,
	product_id INTEGER NOT NULL REFERENCES products(id),
	count INTEGER NOT NULL CHECK (count > 0),
	ports TEXT,                         -- JSON array of port names, NULL = every port
	state TEXT NOT NULL DEFAULT 'active'
		CHECK (state IN ('active', 'paused', 'cancelled', 'done')),
	n_verified INTEGER NOT NULL DEFAULT 0,
	n_failed INTEGER NOT NULL DEFAULT 0,
	created TEXT NOT NULL,
	finished TEXT
) STRICT;

-- One attempt to provision one device.
CREATE TABLE jobs (
	id INTEGER PRIMARY KEY,
	batch_id INTEGER REFERENCES batches(id),
	record_id INTEGER NOT NULL REFERENCES records(id),
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
) STRICT;
CREATE INDEX jobs_open ON jobs (state) WHERE state IN ('reserved', 'sent');
CREATE INDEX jobs_record ON jobs (record_id);

-- The audit trail: append-only. Never holds a field value.
CREATE TABLE audit (
	id INTEGER PRIMARY KEY,
	time TEXT NOT NULL,
	event TEXT NOT NULL,                -- provision, release, interrupted, retire, import, product
	station TEXT,
	port TEXT,
	chip TEXT,
	mac TEXT,
	product TEXT,
	record_id TEXT,
	batch_id INTEGER,
	job_id INTEGER,
	image_sha256 TEXT,
	flash_md5 TEXT,
	baud INTEGER,
	retries INTEGER,
	duration_ms INTEGER,
	result TEXT NOT NULL,               -- ok, failed, released, interrupted, ...
	error TEXT
) STRICT;
CREATE INDEX audit_time ON audit (time);
CREATE INDEX audit_mac ON audit (mac);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
