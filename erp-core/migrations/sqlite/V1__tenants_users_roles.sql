-- Tenants, users and roles. UUIDs and timestamps are TEXT (fixed-width RFC 3339 in UTC,
-- so text order is time order), booleans INTEGER 0/1.

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY NOT NULL,
    slug            TEXT NOT NULL,
    name            TEXT NOT NULL,
    azure_tenant_id TEXT,
    is_active       INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CONSTRAINT tenants_slug_uq UNIQUE (slug),
    CONSTRAINT tenants_azure_tenant_id_uq UNIQUE (azure_tenant_id)
);

CREATE TABLE users (
    id                 TEXT PRIMARY KEY NOT NULL,
    tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    username           TEXT NOT NULL,
    username_key       TEXT NOT NULL,
    email              TEXT,
    email_key          TEXT,
    password_hash      TEXT,
    azure_oid          TEXT,
    external_user_id   TEXT,
    display_name       TEXT,
    azure_email        TEXT,
    last_token_refresh TEXT,
    is_active          INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CONSTRAINT users_tenant_id_uq UNIQUE (tenant_id, id),
    CONSTRAINT users_username_uq UNIQUE (tenant_id, username_key)
);
CREATE UNIQUE INDEX users_email_uq ON users (tenant_id, email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX users_azure_oid_uq ON users (tenant_id, azure_oid) WHERE azure_oid IS NOT NULL;
CREATE UNIQUE INDEX users_external_user_id_uq ON users (tenant_id, external_user_id)
    WHERE external_user_id IS NOT NULL;

CREATE TABLE roles (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE user_roles (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role) REFERENCES roles (tenant_id, name) ON DELETE CASCADE
);
