-- Login attempt counters shared by every instance: one row per key and fixed window.

CREATE TABLE login_rate_limits (
    key          TEXT NOT NULL,
    window_start INTEGER NOT NULL, -- epoch milliseconds
    count        INTEGER NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX login_rate_limits_expires_idx ON login_rate_limits (expires_at);
