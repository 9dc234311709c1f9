-- Sessions, revocation watermarks and refresh tokens, all tenant-owned.

CREATE TABLE sessions (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    auth_method  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at   TEXT,
    ip           TEXT,
    user_agent   TEXT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);
CREATE INDEX sessions_expires_idx ON sessions (tenant_id, expires_at);

CREATE TABLE user_revocations (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    not_before TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE tenant_revocations (
    tenant_id  TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    not_before TEXT NOT NULL
);

CREATE TABLE refresh_tokens (
    tenant_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (tenant_id, family_id);
