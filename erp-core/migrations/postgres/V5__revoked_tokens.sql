-- Access tokens issued by an identity provider (Entra ID), revoked here before their
-- expiry by their token id (`uti`): sign-out refuses the token the browser used. Rows
-- are kept until the token expires, then purged.

CREATE TABLE revoked_tokens (
    tenant_id  UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_id   TEXT NOT NULL,
    user_id    UUID NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, token_id)
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (tenant_id, expires_at);

ALTER TABLE revoked_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE revoked_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON revoked_tokens
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
