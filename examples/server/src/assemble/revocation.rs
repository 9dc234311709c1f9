//! Step 3: revocation on the request path: the session guard, the feed that carries
//! other instances' revocations (PostgreSQL `LISTEN`), the Entra ID token revocations,
//! and the purgers of expired rows.

use std::{sync::Arc, time::Duration};

use erp_auth::session::{
    SessionGuard, SessionGuardConfig, TokenRevocationGuard, spawn_purger, spawn_token_purger,
};
use erp_core::sql::{Database, RevocationListener, SqlSessionStore, SqlTokenRevocations};

use crate::config::ServerConfig;

/// How often expired sessions and token revocations are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// What the step built.
#[derive(Debug)]
pub struct Revocation {
    /// Checks sessions, users and tenants against their revocations.
    pub guard: SessionGuard,
    /// Entra ID tokens signed out before their expiry (no session of ours to revoke).
    pub tokens: TokenRevocationGuard,
    /// The revocation feed (PostgreSQL only): its task stops when this is dropped.
    pub listener: Option<Arc<RevocationListener>>,
}

/// Builds the guards over `sessions` and `db`, starts the feed and the purgers.
pub fn start(db: &Database, sessions: Arc<SqlSessionStore>, config: &ServerConfig) -> Revocation {
    let staleness = config.revocation_max_staleness;
    let listener = match db {
        // A heartbeat at a quarter of the bound: a silently dead feed is noticed (and
        // replaced) well within it.
        Database::Postgres(pg) => Some(Arc::new(RevocationListener::start_with_heartbeat(
            pg.config(),
            staleness / 4,
        ))),
        _ => None,
    };
    let mut guard_config = SessionGuardConfig::default();
    if let Some(l) = &listener {
        guard_config = guard_config.with_revocation_feed(l.status(), staleness);
    }
    let guard = SessionGuard::with_config(sessions.clone(), guard_config);
    spawn_purger(sessions, PURGE_INTERVAL);
    let revoked_tokens = Arc::new(SqlTokenRevocations::new(db.clone()));
    spawn_token_purger(revoked_tokens.clone(), PURGE_INTERVAL);
    Revocation {
        guard,
        tokens: TokenRevocationGuard::new(revoked_tokens),
        listener,
    }
}
