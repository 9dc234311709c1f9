//! The state the handlers share, assembled from a [`ServerConfig`] by the steps of
//! [`crate::assemble`].

use std::sync::Arc;

use erp_auth::{
    Authenticator,
    login::LoginService,
    redis::RedisClient,
    session::{SessionCookies, SessionGuard},
};
use erp_core::sql::Database;
use metrics_exporter_prometheus::PrometheusHandle;

pub use crate::assemble::audit::AuditTrail;
use crate::{
    assemble::{self, BoxError},
    config::ServerConfig,
    legacy_db::Legacy,
    revocation_feeds::RevocationFeeds,
    seed,
};

/// Everything the handlers share, and nothing else.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ERP database (`/health`, the legacy sync's target).
    pub db: Database,
    /// Verifies every request.
    pub authenticator: Authenticator,
    /// Logins, refresh, logout.
    pub login: LoginService,
    /// Revokes (here at once, elsewhere through the feed) and, through its store, lists
    /// sessions; the authenticator checks requests against the same guard.
    pub guard: SessionGuard,
    /// Browser session cookies.
    pub cookies: SessionCookies,
    /// The legacy database, when one is configured (whether or not it answers).
    pub legacy: Option<Legacy>,
    /// The configuration (secrets are not printed by its `Debug`).
    pub config: Arc<ServerConfig>,
    /// Prometheus rendering.
    pub metrics: PrometheusHandle,
    /// Redis, when `REDIS_URL` is set (login rate limits, revocation bus).
    pub redis: Option<RedisClient>,
    /// The revocation feeds followed (`REVOCATION_FEED`); holding them keeps them alive.
    pub feeds: RevocationFeeds,
    /// Where the audit trail goes (the log and `audit_events`): also the legacy writes.
    pub audit: AuditTrail,
    /// The legacy sync, exclusive in the cluster, scheduled by `LEGACY_SYNC_INTERVAL`
    /// (present whenever a legacy database is).
    pub legacy_sync: Option<Arc<crate::legacy_sync::SyncRunner>>,
}

/// The process-wide Prometheus recorder, installed once (handlers may be built many
/// times, e.g. in tests); see [`crate::observe::exposition::recorder`].
pub fn metrics_handle() -> PrometheusHandle {
    crate::observe::exposition::recorder()
}

impl AppState {
    /// Runs the assembly steps in order: connects and migrates, seeds (embedded
    /// database only), and wires the auth stack and the legacy side.
    pub async fn build(config: ServerConfig) -> Result<Self, BoxError> {
        let metrics = metrics_handle();
        let db = assemble::database::open(&config).await?;
        let redis = assemble::rate_limits::redis(&config)?;
        // Before the stores: their revocations are also published on the Redis bus.
        let feeds = RevocationFeeds::start(&config, &db, redis.as_ref());
        let stores = assemble::database::Stores::with_publisher(&db, feeds.publisher.as_ref());
        let default_tenant = assemble::tenant::default_tenant(&*stores.tenants).await?;
        if config.embedded_database {
            seed::dev_users(&*stores.users, default_tenant).await?;
        }
        let revocation = assemble::revocation::start(&db, stores.sessions.clone(), feeds, &config);
        let rate_limits = assemble::rate_limits::open(&db, redis);
        let local = assemble::keys::local_jwt(&config)?;
        let cookies = assemble::keys::cookies(&config)?;
        let audit = assemble::audit::AuditTrail::new(&db);
        let authenticator = assemble::authenticator::build(
            &config,
            assemble::authenticator::Parts {
                stores: &stores,
                default_tenant,
                revocation: &revocation,
                local: local.clone(),
                cookies: cookies.clone(),
                audit: &audit,
            },
        )
        .await?;
        let login = assemble::login::build(
            &config,
            assemble::login::Parts {
                stores: &stores,
                default_tenant,
                revocation: &revocation,
                rate_limits: &rate_limits,
                local,
                audit: &audit,
            },
        )?;
        let legacy = assemble::legacy::start(&config, &db).await?;
        Ok(Self {
            db,
            authenticator,
            login,
            guard: revocation.guard,
            cookies,
            legacy: legacy.legacy,
            config: Arc::new(config),
            metrics,
            redis: rate_limits.redis,
            feeds: revocation.feeds,
            audit,
            legacy_sync: legacy.sync,
        })
    }
}
