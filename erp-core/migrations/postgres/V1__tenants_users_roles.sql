-- Tenants, users and roles. Tenant-owned tables carry tenant_id and a row-level
-- security policy keyed by app.current_tenant_id (set per transaction by the executor).

CREATE TABLE tenants (
    id              UUID PRIMARY KEY,
    slug            TEXT NOT NULL,
    name            TEXT NOT NULL,
    azure_tenant_id TEXT,
    is_active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT tenants_slug_uq UNIQUE (slug),
    CONSTRAINT tenants_azure_tenant_id_uq UNIQUE (azure_tenant_id)
);

CREATE TABLE users (
    id                 UUID PRIMARY KEY,
    tenant_id          UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    username           TEXT NOT NULL,
    username_key       TEXT NOT NULL,
    email              TEXT,
    email_key          TEXT,
    password_hash      TEXT,
    azure_oid          TEXT,
    external_user_id   TEXT,
    display_name       TEXT,
    azure_email        TEXT,
    last_token_refresh TIMESTAMPTZ,
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_tenant_id_uq UNIQUE (tenant_id, id),
    CONSTRAINT users_username_uq UNIQUE (tenant_id, username_key)
);
CREATE UNIQUE INDEX users_email_uq ON users (tenant_id, email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX users_azure_oid_uq ON users (tenant_id, azure_oid) WHERE azure_oid IS NOT NULL;
CREATE UNIQUE INDEX users_external_user_id_uq ON users (tenant_id, external_user_id)
    WHERE external_user_id IS NOT NULL;

CREATE TABLE roles (
    tenant_id  UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE user_roles (
    tenant_id UUID NOT NULL,
    user_id   UUID NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role),
    -- Composite keys: a row can only join a user and a role of its own tenant.
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role) REFERENCES roles (tenant_id, name) ON DELETE CASCADE
);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON roles
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);

ALTER TABLE user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_roles
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
