-- Authentication audit trail. Never a password or a token in here.

CREATE TABLE audit_events (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    user_id    UUID,
    username   TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_tenant_at_idx ON audit_events (tenant_id, at);
CREATE INDEX audit_events_user_idx ON audit_events (tenant_id, user_id, at);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
