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
    is_active       BOOLEAN NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    synced_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE legacy_clearance_records (
    clearance_id     BIGINT PRIMARY KEY NOT NULL,
    clearance_no     TEXT NOT NULL,
    client_code      TEXT NOT NULL,
    declaration_date DATE NOT NULL,
    hs_code          TEXT NOT NULL,
    customs_value    NUMERIC(19,4) NOT NULL,
    currency         TEXT NOT NULL,
    duty_amount      NUMERIC(19,4) NOT NULL,
    status           TEXT NOT NULL,
    notes            TEXT,
    updated_at       TIMESTAMPTZ NOT NULL,
    synced_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE legacy_shipments (
    shipment_id      BIGINT PRIMARY KEY NOT NULL,
    bl_no            TEXT NOT NULL,
    client_code      TEXT NOT NULL,
    container_no     TEXT,
    origin_port      TEXT NOT NULL,
    destination_port TEXT NOT NULL,
    etd              DATE,
    eta              DATE,
    status           TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    synced_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE legacy_sync_checkpoints (
    table_name  TEXT PRIMARY KEY NOT NULL,
    watermark   TIMESTAMPTZ NOT NULL,
    last_key    TEXT NOT NULL,
    rows_synced BIGINT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
