-- Sessions, revocation watermarks and refresh tokens, all tenant-owned.

CREATE TABLE sessions (
    tenant_id    UUID NOT NULL,
    id           TEXT NOT NULL,
    user_id      UUID NOT NULL,
    auth_method  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    ip           TEXT,
    user_agent   TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);
CREATE INDEX sessions_expires_idx ON sessions (tenant_id, expires_at);

CREATE TABLE user_revocations (
    tenant_id  UUID NOT NULL,
    user_id    UUID NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE tenant_revocations (
    tenant_id  UUID PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    not_before TIMESTAMPTZ NOT NULL
);

CREATE TABLE refresh_tokens (
    tenant_id  UUID NOT NULL,
    token_hash TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (tenant_id, family_id);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
ALTER TABLE user_revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_revocations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_revocations
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
ALTER TABLE tenant_revocations ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_revocations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_revocations
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
