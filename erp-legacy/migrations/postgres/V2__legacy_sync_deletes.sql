-- Deletes in the legacy database: a copied row whose legacy row is gone is marked
-- (deleted_at) or removed, per table in the mapping, by a reconciliation pass in key
-- order. A pass killed midway resumes from its last committed batch, kept here.

ALTER TABLE legacy_clients ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE legacy_clearance_records ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE legacy_shipments ADD COLUMN deleted_at TIMESTAMPTZ;

CREATE TABLE legacy_sync_reconcile (
    table_name   TEXT PRIMARY KEY NOT NULL,
    last_key     TEXT NOT NULL,
    rows_deleted BIGINT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
