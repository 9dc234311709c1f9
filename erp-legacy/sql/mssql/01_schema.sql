-- Sample legacy schema on SQL Server 2016+ (and Babelfish). Keys are NVARCHAR because
-- tiberius sends every string parameter as NVARCHAR: a VARCHAR key would be converted
-- and scanned instead of sought.
CREATE TABLE dbo.clients (
    client_code     NVARCHAR(20) NOT NULL PRIMARY KEY,
    client_name     NVARCHAR(200) NOT NULL,
    business_reg_no NVARCHAR(40) NULL,
    contact_name    NVARCHAR(100) NULL,
    contact_phone   NVARCHAR(40) NULL,
    contact_email   NVARCHAR(254) NULL,
    address         NVARCHAR(400) NULL,
    currency        NCHAR(3) NOT NULL,
    is_active       BIT NOT NULL,
    updated_at      DATETIME2(6) NOT NULL
);
CREATE TABLE dbo.clearance_records (
    clearance_id     INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    clearance_no     NVARCHAR(30) NOT NULL UNIQUE,
    client_code      NVARCHAR(20) NOT NULL REFERENCES dbo.clients (client_code),
    declaration_date DATE NOT NULL,
    hs_code          NVARCHAR(12) NOT NULL,
    customs_value    DECIMAL(19,4) NOT NULL,
    currency         NCHAR(3) NOT NULL,
    duty_amount      DECIMAL(19,4) NOT NULL,
    status           NVARCHAR(20) NOT NULL,
    notes            NVARCHAR(2000) NULL,
    updated_at       DATETIME2(6) NOT NULL,
    updated_by       NVARCHAR(128) NULL
);
CREATE TABLE dbo.shipments (
    shipment_id      INT IDENTITY(1,1) NOT NULL PRIMARY KEY,
    bl_no            NVARCHAR(40) NOT NULL UNIQUE,
    client_code      NVARCHAR(20) NOT NULL REFERENCES dbo.clients (client_code),
    container_no     NVARCHAR(20) NULL,
    origin_port      NVARCHAR(80) NOT NULL,
    destination_port NVARCHAR(80) NOT NULL,
    etd              DATE NULL,
    eta              DATE NULL,
    status           NVARCHAR(20) NOT NULL,
    updated_at       DATETIME2(6) NOT NULL,
    created_by       NVARCHAR(128) NULL,
    updated_by       NVARCHAR(128) NULL
);
CREATE INDEX clearance_records_updated_idx ON dbo.clearance_records (updated_at, clearance_id);
CREATE INDEX shipments_updated_idx ON dbo.shipments (updated_at, shipment_id);
CREATE INDEX clients_updated_idx ON dbo.clients (updated_at, client_code);
