-- Tables without an updated-at column: a hash of each copied row's values, compared by
-- the hash pass ([change_detection] "hash"), and the cursor of the modes other than
-- the updated-at watermark: the highest rowversion copied ("rowversion:<column>"), or
-- the last key of an open hash pass.

ALTER TABLE legacy_clients ADD COLUMN row_hash BIGINT;
ALTER TABLE legacy_clearance_records ADD COLUMN row_hash BIGINT;
ALTER TABLE legacy_shipments ADD COLUMN row_hash BIGINT;

CREATE TABLE legacy_sync_cursors (
    table_name  TEXT PRIMARY KEY NOT NULL,
    mode        TEXT NOT NULL,
    row_version BIGINT,
    last_key    TEXT NOT NULL,
    rows_synced BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
