-- Copies of the legacy tables in the ERP database, kept by the legacy sync, and its
-- checkpoints. Company-wide reference data: not tenant-owned.

CREATE TABLE legacy_clients (
    client_code     TEXT PRIMARY KEY NOT NULL,
    client_name     TEXT NOT NULL,
    business_reg_no TEXT,
    contact_name    TEXT,
    contact_phone   TEXT,
    contact_email   TEXT,
    address         TEXT,
    currency        TEXT NOT NULL,
    is_active       INTEGER NOT NULL,
    updated_at      TEXT NOT NULL,
    synced_at       TEXT NOT NULL
);

CREATE TABLE legacy_clearance_records (
    clearance_id     INTEGER PRIMARY KEY NOT NULL,
    clearance_no     TEXT NOT NULL,
    client_code      TEXT NOT NULL,
    declaration_date TEXT NOT NULL,
    hs_code          TEXT NOT NULL,
    customs_value    TEXT NOT NULL,
    currency         TEXT NOT NULL,
    duty_amount      TEXT NOT NULL,
    status           TEXT NOT NULL,
    notes            TEXT,
    updated_at       TEXT NOT NULL,
    synced_at        TEXT NOT NULL
);

CREATE TABLE legacy_shipments (
    shipment_id      INTEGER PRIMARY KEY NOT NULL,
    bl_no            TEXT NOT NULL,
    client_code      TEXT NOT NULL,
    container_no     TEXT,
    origin_port      TEXT NOT NULL,
    destination_port TEXT NOT NULL,
    etd              TEXT,
    eta              TEXT,
    status           TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    synced_at        TEXT NOT NULL
);

CREATE TABLE legacy_sync_checkpoints (
    table_name  TEXT PRIMARY KEY NOT NULL,
    watermark   TEXT NOT NULL,
    last_key    TEXT NOT NULL,
    rows_synced INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
