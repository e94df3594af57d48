-- A batch's counters per station and its room as places, so stations of
-- one batch no longer take turns on the batch row (issue 11: one shared
-- batch stayed at ~360 devices/s whatever the number of stations, because
-- every claim locked the batch row to count its room and every result
-- updated n_verified/n_failed under that lock, each through a WAL flush).
-- The rules (store_pg_batch.c has the reasons):
--   batch_counts  one row per (batch, station): that station's verified
--                 and failed results. A result updates only its own
--                 station's row. The batch's totals are the sums.
--   batch_places  the batch's room: places 1..count, made in chunks as
--                 claims need them. A claim takes a free place with
--                 FOR UPDATE SKIP LOCKED, as it takes its record; a job
--                 that ends without being verified gives its place back;
--                 a verified job keeps it. So a batch never holds more
--                 devices than its count, and no claim waits for another.
--                 Places above count hold re-claims of known devices that
--                 came when the batch was full (they are never refused,
--                 as before); a place given back hands them a place below.

CREATE TABLE batch_counts (
	batch_id BIGINT NOT NULL REFERENCES batches(id),
	station TEXT NOT NULL,
	n_verified BIGINT NOT NULL DEFAULT 0 CHECK (n_verified >= 0),
	n_failed BIGINT NOT NULL DEFAULT 0 CHECK (n_failed >= 0),
	PRIMARY KEY (batch_id, station)
);

-- job_id without a foreign key on purpose: a key check would share-lock
-- the job row, which the job's own transition holds FOR UPDATE, and a
-- place handed over while that job's transition gives back another place
-- would deadlock. 0 marks a place used by a device verified before this
-- migration (its job is not known to the old counters).
CREATE TABLE batch_places (
	batch_id BIGINT NOT NULL REFERENCES batches(id),
	place BIGINT NOT NULL CHECK (place >= 1),
	job_id BIGINT,
	PRIMARY KEY (batch_id, place)
);
-- A claim's pick: the lowest free place of a batch.
CREATE INDEX batch_places_free ON batch_places (batch_id, place) WHERE job_id IS NULL;
-- A job's end finds its place.
CREATE INDEX batch_places_job ON batch_places (job_id) WHERE job_id IS NOT NULL;

-- The old counters move whole into a row of station '' (never a station:
-- a claim needs a non-empty one), so every total stays what it was.
INSERT INTO batch_counts (batch_id, station, n_verified, n_failed)
SELECT id, '', n_verified, n_failed FROM batches WHERE n_verified <> 0 OR n_failed <> 0;

-- Places of the batches that can still claim: first the open jobs (in job
-- order), then the devices verified so far; numbers above count are the
-- overflow the old rule let in (a re-claim is never refused).
INSERT INTO batch_places (batch_id, place, job_id)
SELECT j.batch_id, row_number() OVER (PARTITION BY j.batch_id ORDER BY j.id), j.id
FROM jobs j JOIN batches b ON b.id = j.batch_id
WHERE j.state IN ('reserved', 'sent') AND b.state IN ('active', 'paused');
INSERT INTO batch_places (batch_id, place, job_id)
SELECT b.id, coalesce((SELECT count(*) FROM jobs j WHERE j.batch_id = b.id AND j.state IN ('reserved', 'sent')), 0) + g, 0
FROM batches b, generate_series(1, b.n_verified) g
WHERE b.state IN ('active', 'paused') AND b.n_verified > 0;

ALTER TABLE batches DROP COLUMN n_verified, DROP COLUMN n_failed;
