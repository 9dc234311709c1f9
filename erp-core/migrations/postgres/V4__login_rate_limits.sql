-- Login attempt counters shared by every instance: one row per key and fixed window.
-- Not tenant-owned (a client address spans tenants; usernames carry their tenant in the
-- key), so no row-level security; nothing here is secret beyond the key itself.

CREATE TABLE login_rate_limits (
    key          TEXT NOT NULL,
    window_start BIGINT NOT NULL, -- epoch milliseconds
    count        BIGINT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX login_rate_limits_expires_idx ON login_rate_limits (expires_at);
