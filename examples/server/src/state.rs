//! Assembling the toolkit from a [`ServerConfig`].

use std::{sync::Arc, time::Duration};

use erp_auth::{
    Authenticator,
    azure::{AzureAdConfig, AzureAdVerifier, GraphConfig, GraphGroups},
    iam::{IamConfig, IamVerifier},
    local::{KeyRing, LocalJwtConfig, LocalJwtVerifier, LocalTokenIssuer},
    login::{ExternalAuthClient, ExternalAuthConfig, LoginService, spawn_rate_limit_purger},
    redis::{RedisClient, RedisRateLimitStore},
    resolve::{RoleMapper, UserResolver},
    session::{
        CookieConfig, SessionCookies, SessionGuard, TokenRevocationGuard, spawn_purger,
        spawn_token_purger,
    },
    token_cache::TokenCacheConfig,
};
use erp_core::{
    FanoutAuditSink, NewTenant, RateLimitStore, TenantId, TenantRepository, TracingAuditSink,
    sql::{
        Database, DatabaseConfig, SqlAuditSink, SqlRateLimitStore, SqlSessionStore,
        SqlTenantRepository, SqlTokenRevocations, SqlUserRepository, SqliteConfig,
    },
};
use erp_legacy::sync::migrate_target;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::{
    config::{AuthMode, ServerConfig},
    legacy_db::Legacy,
    revocation_feeds::RevocationFeeds,
    seed,
};

/// Everything the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ERP database.
    pub db: Database,
    /// Tenants.
    pub tenants: Arc<SqlTenantRepository>,
    /// Users.
    pub users: Arc<SqlUserRepository>,
    /// Sessions.
    pub sessions: Arc<SqlSessionStore>,
    /// Verifies every request.
    pub authenticator: Authenticator,
    /// Logins, refresh, logout.
    pub login: LoginService,
    /// Revocations.
    pub guard: SessionGuard,
    /// Browser session cookies.
    pub cookies: SessionCookies,
    /// The legacy database, when one is configured (whether or not it answers).
    pub legacy: Option<Legacy>,
    /// The tenant of logins that name none.
    pub default_tenant: TenantId,
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

/// The audit sink of the server, shared by the login service and the legacy writes.
#[derive(Clone)]
pub struct AuditTrail(pub Arc<dyn erp_core::AuditSink>);

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditTrail")
    }
}

impl AuditTrail {
    /// Records one event in every sink.
    pub async fn record(&self, event: &erp_core::AuthEvent) -> erp_core::Result<()> {
        self.0.record(event).await
    }
}

/// The process-wide Prometheus recorder, installed once (handlers may be built many
/// times, e.g. in tests); see [`crate::observe::exposition::recorder`].
pub fn metrics_handle() -> PrometheusHandle {
    crate::observe::exposition::recorder()
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl AppState {
    /// Connects, migrates, seeds (embedded database only) and wires the auth stack.
    pub async fn build(config: ServerConfig) -> Result<Self, BoxError> {
        let metrics = metrics_handle();
        let db = Database::connect(config.database.clone()).await?;
        db.migrate().await?;
        migrate_target(&db).await?;
        let tenants = Arc::new(SqlTenantRepository::new(db.clone()));
        let users = Arc::new(SqlUserRepository::new(db.clone()));
        let redis = match &config.redis {
            Some(r) => Some(RedisClient::new(&r.url, &r.key_prefix, r.timeout)?),
            None => None,
        };
        let feeds = RevocationFeeds::start(&config, &db, redis.as_ref());
        let mut sessions = SqlSessionStore::new(db.clone());
        let mut revoked_tokens = SqlTokenRevocations::new(db.clone());
        if let Some(publisher) = &feeds.publisher {
            sessions = sessions.with_publisher(publisher.clone());
            revoked_tokens = revoked_tokens.with_publisher(publisher.clone());
        }
        let sessions = Arc::new(sessions);
        let default_tenant = match tenants.by_slug("default").await? {
            Some(t) => t.id,
            None => match tenants.create(NewTenant::new("default", "Default")).await {
                Ok(t) => t.id,
                // Another instance created it first.
                Err(e) if e.is_conflict() => {
                    tenants
                        .by_slug("default")
                        .await?
                        .ok_or("default tenant vanished")?
                        .id
                }
                Err(e) => return Err(e.into()),
            },
        };
        if config.embedded_database {
            seed::dev_users(&*users, default_tenant).await?;
        }

        let guard = feeds.bound(
            SessionGuard::new(sessions.clone()),
            config.revocation_max_staleness,
        );
        spawn_purger(sessions.clone(), Duration::from_secs(600));
        // Entra ID tokens signed out before their expiry (no session of ours to revoke).
        let revoked_tokens = Arc::new(revoked_tokens);
        spawn_token_purger(revoked_tokens.clone(), Duration::from_secs(600));
        // Login budgets in Redis or in the database: every instance on it shares them.
        let rate_limits: Arc<dyn RateLimitStore> = match &redis {
            Some(client) => Arc::new(RedisRateLimitStore::new(client.clone())),
            None => {
                let store = Arc::new(SqlRateLimitStore::new(db.clone()));
                spawn_rate_limit_purger(store.clone(), Duration::from_secs(600));
                store
            }
        };

        let keys = KeyRing::new("k1", config.jwt_secret.as_bytes())?;
        let local = LocalJwtConfig::new(keys);
        let cookies = SessionCookies::new(
            CookieConfig::new("s1", config.session_sign_key.as_bytes())?
                .with_secure(config.session_cookie_secure),
        );
        let mut resolver = UserResolver::new(users.clone(), tenants.clone())
            .with_default_tenant(Some(default_tenant));
        let mut builder_azure = None;
        if let Some(az) = &config.azure {
            // The default tenant belongs to AZURE_TENANT_ID's directory alone; any other
            // allowed directory must be bound to an ERP tenant (`tenant create
            // --azure-tenant-id`), so each ERP tenant holds one directory's users. A
            // multi-tenant app (`organizations`) has no home: every directory is bound.
            let home = match uuid::Uuid::parse_str(&az.tenant_id) {
                Ok(id) => id.to_string(),
                Err(_) => String::from("-"),
            };
            resolver = resolver
                .with_auto_provision(az.auto_provision)
                .with_default_role(az.default_role.as_deref().map(str::parse).transpose()?)
                .with_role_mapper(RoleMapper::parse(&az.role_map)?)
                .with_default_directory(Some(home));
            for (directory, domain) in &az.verified_domains {
                resolver = resolver.with_verified_domains(directory, [domain.as_str()]);
            }
            let mut cfg = AzureAdConfig::new(&az.tenant_id, &az.client_id)
                .with_authority_host(&az.authority_host)
                .with_jwks_cache_ttl(az.jwks_cache_ttl)
                .with_min_refresh_interval(az.jwks_min_refresh_interval)
                .with_max_stale(az.jwks_max_stale)
                .with_required_scopes(az.required_scopes.clone());
            if !az.allowed_tenants.is_empty() {
                cfg = cfg.with_allowed_tenants(az.allowed_tenants.clone());
            }
            if cfg.accepts_any_tenant() {
                tracing::warn!(
                    "AZURE_ALLOWED_TENANTS=*: tokens of every Entra ID directory are accepted; \
                     only ERP tenant bindings, roles and scopes keep strangers out"
                );
            }
            match &az.client_secret {
                Some(secret) => {
                    let graph_host = az
                        .graph_host
                        .clone()
                        .unwrap_or_else(|| cfg.cloud().graph_host().to_owned());
                    let graph = GraphGroups::new(
                        GraphConfig::new(&az.client_id, secret)
                            .with_authority_host(&az.authority_host)
                            .with_graph_host(graph_host)
                            .with_cache_ttl(az.groups_cache_ttl),
                    )?;
                    resolver = resolver.with_group_overage(Some(graph));
                }
                None if !az.role_map.trim().is_empty() => tracing::info!(
                    "AZURE_CLIENT_SECRET unset: users with a group overage get only their app roles' ERP roles"
                ),
                None => {}
            }
            builder_azure = Some(AzureAdVerifier::start(cfg).await?);
        }
        let audit = FanoutAuditSink::new()
            .with(Arc::new(TracingAuditSink))
            .with(Arc::new(SqlAuditSink::new(db.clone())));
        let audit = Arc::new(audit);
        let audit_trail = AuditTrail(audit.clone());
        let mut auth = Authenticator::builder(resolver)
            .with_audit(audit.clone())
            .with_local(LocalJwtVerifier::new(local.clone()))
            .with_sessions(guard.clone())
            .with_token_revocations(TokenRevocationGuard::new(revoked_tokens))
            .with_cookies(cookies.clone())
            .with_token_cache(TokenCacheConfig::default());
        if let Some(azure) = builder_azure {
            auth = auth.with_azure(azure);
        }
        if config.auth_mode == AuthMode::IamService {
            let url = config
                .iam_service_url
                .as_deref()
                .ok_or("IAM_SERVICE_URL missing")?;
            auth = auth.with_iam(IamVerifier::new(IamConfig::new(url)?)?);
        }
        let authenticator = auth.build()?;
        feeds.follow(&authenticator);

        let mut login = LoginService::builder(
            users.clone(),
            tenants.clone(),
            sessions.clone(),
            sessions.clone(),
            LocalTokenIssuer::new(local),
        )
        .with_audit(audit)
        .with_session_guard(guard.clone())
        .with_default_tenant(Some(default_tenant))
        .with_refresh_buffer(config.token_refresh_buffer)
        .with_refresh_reuse_interval(config.refresh_token_reuse_interval)
        .with_rate_limit_store(rate_limits);
        if let Some(ext) = &config.external {
            let client = ExternalAuthClient::new(
                ExternalAuthConfig::new(&ext.url, &ext.endpoint)?.with_timeout(ext.timeout),
            )?;
            login = login.with_external(client, config.external_fallback);
        }

        let legacy = Legacy::start(&config).await?;
        let legacy_sync = legacy.as_ref().map(|l| {
            let runner = crate::legacy_sync::SyncRunner::new(
                l.clone(),
                db.clone(),
                config.legacy_sync_interval,
            );
            runner.spawn();
            runner
        });
        Ok(Self {
            db,
            tenants,
            users,
            sessions,
            authenticator,
            login: login.build(),
            guard,
            cookies,
            legacy,
            default_tenant,
            config: Arc::new(config),
            metrics,
            redis,
            feeds,
            audit: audit_trail,
            legacy_sync,
        })
    }
}

/// Opens (creating and filling on first use) an SQLite legacy database at `path`.
pub(crate) async fn open_sample_legacy(path: &std::path::Path) -> Result<Database, BoxError> {
    Ok(Database::connect(DatabaseConfig::Sqlite(SqliteConfig::file(path))).await?)
}
