//! Step 3: revocation on the request path: the session guard bounded by the feeds that
//! carry other instances' revocations (PostgreSQL `LISTEN`, the Redis bus: see
//! [`RevocationFeeds`]), the Entra ID token revocations, and the purgers of expired rows.

use std::{sync::Arc, time::Duration};

use erp_auth::session::{
    SessionGuard, SessionGuardConfig, TokenRevocationGuard, spawn_purger, spawn_token_purger,
};
use erp_core::sql::{Database, SqlSessionStore, SqlTokenRevocations};

use crate::{config::ServerConfig, revocation_feeds::RevocationFeeds};

/// How often expired sessions and token revocations are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// What the step built.
#[derive(Debug)]
pub struct Revocation {
    /// Checks sessions, users and tenants against their revocations.
    pub guard: SessionGuard,
    /// Entra ID tokens signed out before their expiry (no session of ours to revoke).
    pub tokens: TokenRevocationGuard,
    /// The feeds followed (`REVOCATION_FEED`): their tasks stop when the last clone is
    /// dropped.
    pub feeds: RevocationFeeds,
}

/// Builds the guards over `sessions` and `db`, bounded by the started `feeds`, and
/// starts the purgers.
pub fn start(
    db: &Database,
    sessions: Arc<SqlSessionStore>,
    feeds: RevocationFeeds,
    config: &ServerConfig,
) -> Revocation {
    let mut guard_config = SessionGuardConfig::default();
    for (_, status) in feeds.statuses() {
        guard_config = guard_config.with_revocation_feed(status, config.revocation_max_staleness);
    }
    let guard = SessionGuard::with_config(sessions.clone(), guard_config);
    spawn_purger(sessions, PURGE_INTERVAL);
    let mut revoked_tokens = SqlTokenRevocations::new(db.clone());
    if let Some(publisher) = &feeds.publisher {
        revoked_tokens = revoked_tokens.with_publisher(publisher.clone());
    }
    let revoked_tokens = Arc::new(revoked_tokens);
    spawn_token_purger(revoked_tokens.clone(), PURGE_INTERVAL);
    Revocation {
        guard,
        tokens: TokenRevocationGuard::new(revoked_tokens),
        feeds,
    }
}
