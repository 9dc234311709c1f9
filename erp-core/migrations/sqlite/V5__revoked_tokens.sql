-- Access tokens issued by an identity provider (Entra ID), revoked here before their
-- expiry by their token id (`uti`): sign-out refuses the token the browser used. Rows
-- are kept until the token expires, then purged.

CREATE TABLE revoked_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, token_id)
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (tenant_id, expires_at);
