//! In-memory implementations of the repository and store traits, for unit tests of
//! other crates. They follow the same rules as the SQL repositories (the conformance
//! suite runs against them too) but keep nothing: the server never uses them unless
//! asked to explicitly.

mod audit;
mod ratelimit;
mod refresh;
mod sessions;
mod tokens;
mod users;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

pub use audit::MemoryAuditSink;

use crate::{RevocationWatermarks, Session, SessionId, Tenant, TenantId, User, UserId};

/// One in-memory store implementing [`TenantRepository`](crate::TenantRepository),
/// [`UserRepository`](crate::UserRepository), [`SessionStore`](crate::SessionStore) and
/// [`RefreshTokenStore`](crate::RefreshTokenStore) and
/// [`TokenRevocationStore`](crate::TokenRevocationStore).
///
/// Clones share the data.
///
/// ```
/// use erp_core::{memory::MemoryStore, NewTenant, NewUser, TenantRepository, UserRepository};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let tenant = TenantRepository::create(&store, NewTenant::new("acme", "Acme")).await?;
/// let user = UserRepository::create(&store, tenant.id, NewUser::new("ymirliu 劉念萱")).await?;
/// assert_eq!(store.by_username(tenant.id, "YMIRLIU 劉念萱").await?.unwrap().id, user.id);
/// # Ok::<(), erp_core::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tenants: HashMap<TenantId, Tenant>,
    users: HashMap<UserId, User>,
    sessions: HashMap<(TenantId, SessionId), Session>,
    user_marks: HashMap<(TenantId, UserId), chrono::DateTime<chrono::Utc>>,
    refresh: HashMap<String, RefreshRow>,
    tenant_marks: HashMap<TenantId, chrono::DateTime<chrono::Utc>>,
    /// Revoked provider tokens and their expiry.
    revoked_tokens: HashMap<(TenantId, String), chrono::DateTime<chrono::Utc>>,
    /// Login attempt counters: (key, window start) -> (count, expires at).
    rate_limits: HashMap<(String, i64), (u64, chrono::DateTime<chrono::Utc>)>,
}

/// A stored refresh token (keyed by its hash).
#[derive(Debug, Clone)]
struct RefreshRow {
    tenant: TenantId,
    family: String,
    session: SessionId,
    user: UserId,
    expires_at: chrono::DateTime<chrono::Utc>,
    used_at: Option<chrono::DateTime<chrono::Utc>>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl State {
    fn watermarks(&self, tenant: TenantId, user: UserId) -> RevocationWatermarks {
        RevocationWatermarks {
            user_not_before: self.user_marks.get(&(tenant, user)).copied(),
            tenant_not_before: self.tenant_marks.get(&tenant).copied(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another test thread must not cascade into every later call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
