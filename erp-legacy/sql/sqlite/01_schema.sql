-- Sample legacy schema (SQLite flavour, for the conformance suite and demos).
CREATE TABLE clients (
    client_code     TEXT PRIMARY KEY NOT NULL,
    client_name     TEXT NOT NULL,
    business_reg_no TEXT,
    contact_name    TEXT,
    contact_phone   TEXT,
    contact_email   TEXT,
    address         TEXT,
    currency        TEXT NOT NULL,
    is_active       INTEGER NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE clearance_records (
    clearance_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    clearance_no     TEXT NOT NULL UNIQUE,
    client_code      TEXT NOT NULL REFERENCES clients (client_code),
    declaration_date TEXT NOT NULL,
    hs_code          TEXT NOT NULL,
    customs_value    TEXT NOT NULL,
    currency         TEXT NOT NULL,
    duty_amount      TEXT NOT NULL,
    status           TEXT NOT NULL,
    notes            TEXT,
    updated_at       TEXT NOT NULL,
    updated_by       TEXT
);
CREATE TABLE shipments (
    shipment_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bl_no            TEXT NOT NULL UNIQUE,
    client_code      TEXT NOT NULL REFERENCES clients (client_code),
    container_no     TEXT,
    origin_port      TEXT NOT NULL,
    destination_port TEXT NOT NULL,
    etd              TEXT,
    eta              TEXT,
    status           TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    created_by       TEXT,
    updated_by       TEXT
);
