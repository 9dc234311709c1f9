//! Server configuration from the environment (and `.env`). Every variable is listed in
//! `.env.example` and docs/configuration.md.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use erp_core::{Error, Result, sql::DatabaseConfig};
use erp_legacy::LegacyMapping;

/// Where the embedded development database lives when `DATABASE_URL` is unset.
pub const DEFAULT_SQLITE_PATH: &str = "data/erp-dev.sqlite";
/// The embedded sample legacy database used when no `MSSQL_SERVER` is set.
pub const DEFAULT_LEGACY_SQLITE_PATH: &str = "data/legacy-dev.sqlite";
/// Development-only secrets: fine on a laptop, refused in production.
const DEV_JWT_SECRET: &str = "development-only-jwt-secret-change-me!!";
const DEV_SESSION_KEY: &str = "development-only-session-key-change-me!";

/// Deployment environment (`ERP_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: embedded defaults allowed.
    Development,
    /// Production: every required setting must be given explicitly.
    Production,
}

/// `AUTH_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Entra ID and local tokens verified here.
    Local,
    /// Every bearer token checked with the IAM service.
    IamService,
}

/// `REVOCATION_FEED`: how this instance learns of revocations made by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationFeed {
    /// PostgreSQL `LISTEN` (the default without `REDIS_URL`; none on SQLite).
    Postgres,
    /// Redis pub/sub alone: for connections that cannot `LISTEN` (PgBouncer in
    /// transaction mode). Needs `REDIS_URL`.
    Redis,
    /// Both, the cache trusted while either is fresh (the default with `REDIS_URL`).
    Both,
}

impl RevocationFeed {
    /// Whether the PostgreSQL `LISTEN` feed is followed.
    pub fn postgres(self) -> bool {
        matches!(self, Self::Postgres | Self::Both)
    }

    /// Whether the Redis bus is followed (and published on).
    pub fn redis(self) -> bool {
        matches!(self, Self::Redis | Self::Both)
    }
}

/// `REVOCATION_FEED`: `postgres`, `redis` or `both`; unset, `both` with Redis and
/// `postgres` without. Naming Redis without `REDIS_URL` is a configuration error.
fn revocation_feed(value: Option<String>, redis: bool) -> Result<RevocationFeed> {
    const VAR: &str = "REVOCATION_FEED";
    let feed = match value.as_deref().map(str::trim) {
        None | Some("") if redis => RevocationFeed::Both,
        None | Some("") | Some("postgres") => RevocationFeed::Postgres,
        Some("redis") => RevocationFeed::Redis,
        Some("both") => RevocationFeed::Both,
        Some(other) => {
            return Err(Error::config(
                VAR,
                format!("{other:?} is none of postgres, redis, both"),
            ));
        }
    };
    if feed.redis() && !redis {
        return Err(Error::config(VAR, "the Redis feed needs REDIS_URL"));
    }
    Ok(feed)
}

/// `LEGACY_SCHEMA_CHECK`: what a legacy database lacking mapped tables or columns does
/// at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaCheck {
    /// Refuse to start, naming what is missing (the default).
    Strict,
    /// Start; `/health` shows the legacy database down with the missing names and the
    /// legacy routes answer 503 `LEGACY_DB_UNAVAILABLE`.
    Warn,
}

/// Entra ID settings (present when `AZURE_CLIENT_ID` and `AZURE_TENANT_ID` are set).
/// `Debug` never shows the client secret.
#[derive(Clone)]
pub struct AzureSettings {
    /// `AZURE_CLIENT_ID`.
    pub client_id: String,
    /// `AZURE_TENANT_ID`.
    pub tenant_id: String,
    /// `AZURE_ALLOWED_TENANTS`.
    pub allowed_tenants: Vec<String>,
    /// `AZURE_AUTHORITY_HOST`.
    pub authority_host: String,
    /// `AZURE_AUTO_PROVISION`.
    pub auto_provision: bool,
    /// `AZURE_DEFAULT_ROLE`.
    pub default_role: Option<String>,
    /// `AZURE_ROLE_MAP`.
    pub role_map: String,
    /// `JWKS_CACHE_TTL`.
    pub jwks_cache_ttl: Duration,
    /// `JWKS_MIN_REFRESH_INTERVAL`.
    pub jwks_min_refresh_interval: Duration,
    /// `JWKS_MAX_STALE`.
    pub jwks_max_stale: Duration,
    /// `AZURE_REQUIRED_SCOPES` (space-separated): delegated tokens need one of them.
    pub required_scopes: Vec<String>,
    /// `AZURE_VERIFIED_DOMAINS`: (directory id, domain) pairs verified by that
    /// directory's administrators; e-mail linking trusts addresses in them.
    pub verified_domains: Vec<(String, String)>,
    /// `AZURE_CLIENT_SECRET`: the app's client credentials, for group-overage lookups
    /// in Microsoft Graph. Never printed.
    pub client_secret: Option<String>,
    /// `AZURE_GRAPH_HOST` (default: the cloud's Graph, e.g. `https://graph.microsoft.com`).
    pub graph_host: Option<String>,
    /// `AZURE_GROUPS_CACHE_TTL` (default 15 min).
    pub groups_cache_ttl: Duration,
}

impl std::fmt::Debug for AzureSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureSettings")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("allowed_tenants", &self.allowed_tenants)
            .field("authority_host", &self.authority_host)
            .field("required_scopes", &self.required_scopes)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("graph_host", &self.graph_host)
            .finish_non_exhaustive()
    }
}

/// `AZURE_VERIFIED_DOMAINS`: `directory-id=domain` pairs separated by commas; a bare
/// `domain` belongs to `AZURE_TENANT_ID` (when that is a directory id).
fn parse_verified_domains(value: &str, home: &str) -> Result<Vec<(String, String)>> {
    const VAR: &str = "AZURE_VERIFIED_DOMAINS";
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (directory, domain) = match item.split_once('=') {
            Some((d, domain)) => (d.trim(), domain.trim()),
            None => (home, item),
        };
        if uuid::Uuid::parse_str(directory).is_err() {
            return Err(Error::config(
                VAR,
                format!("{item:?}: give the domain as directory-id=domain"),
            ));
        }
        let domain = domain.trim_start_matches('@').to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') || domain.contains(['@', '/', ' ']) {
            return Err(Error::config(VAR, format!("{item:?} is not a domain")));
        }
        out.push((directory.to_ascii_lowercase(), domain));
    }
    Ok(out)
}

/// Redis, shared by the instances (present when `REDIS_URL` is set).
#[derive(Clone)]
pub struct RedisSettings {
    /// `REDIS_URL` (may carry a password: never printed).
    pub url: String,
    /// `REDIS_KEY_PREFIX` (default `erp:`): every key starts with it.
    pub key_prefix: String,
    /// `REDIS_TIMEOUT` (default 2 s): bound on each command and connection attempt.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// External auth API settings (present when `USE_EXTERNAL_AUTH=true`).
#[derive(Debug, Clone)]
pub struct ExternalSettings {
    /// `EXTERNAL_AUTH_API_URL`.
    pub url: String,
    /// `EXTERNAL_AUTH_ENDPOINT`.
    pub endpoint: String,
    /// `EXTERNAL_AUTH_TIMEOUT`.
    pub timeout: Duration,
}

/// The legacy SQL Server (present when `MSSQL_SERVER` is set).
#[derive(Clone)]
pub struct MssqlSettings {
    /// `MSSQL_SERVER`, `MSSQL_PORT`, `MSSQL_DATABASE`, `MSSQL_USER`, `MSSQL_PASSWORD`,
    /// `MSSQL_TRUST_CERT`, `MSSQL_CONNECT_TIMEOUT`.
    pub config: erp_legacy::mssql::MssqlConfig,
}

impl std::fmt::Debug for MssqlSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssqlSettings")
            .field("server", &self.config.server())
            .finish_non_exhaustive()
    }
}

/// The server's settings.
#[derive(Clone)]
pub struct ServerConfig {
    /// `ERP_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `ERP_ENV`, default development.
    pub environment: Environment,
    /// From `DATABASE_URL`, or the embedded SQLite file.
    pub database: DatabaseConfig,
    /// True when no `DATABASE_URL` was given and the embedded file is used.
    pub embedded_database: bool,
    /// `JWT_SECRET_KEY` (HS256, >= 32 bytes).
    pub jwt_secret: String,
    /// `SESSION_SIGN_KEY` (cookie signing, >= 32 bytes).
    pub session_sign_key: String,
    /// `SESSION_COOKIE_SECURE` (default true).
    pub session_cookie_secure: bool,
    /// `TOKEN_REFRESH_BUFFER` (default 60 s).
    pub token_refresh_buffer: Duration,
    /// `REFRESH_TOKEN_REUSE_INTERVAL` (default 10 s; `0` = strict): how long a just-rotated
    /// refresh token may be presented again (two tabs, a retry) without counting as theft.
    pub refresh_token_reuse_interval: Duration,
    /// `REVOCATION_MAX_STALENESS` (default 5 s): while the revocation feed (LISTEN) is
    /// down, cached session answers are trusted at most this long.
    pub revocation_max_staleness: Duration,
    /// `REDIS_URL` and friends: login rate limits in Redis instead of the database, and
    /// the revocation bus.
    pub redis: Option<RedisSettings>,
    /// `REVOCATION_FEED` (default `both` with `REDIS_URL`, else `postgres`).
    pub revocation_feed: RevocationFeed,
    /// `AUTH_MODE`.
    pub auth_mode: AuthMode,
    /// `IAM_SERVICE_URL` (required with `AUTH_MODE=iam_service`).
    pub iam_service_url: Option<String>,
    /// Entra ID, if configured.
    pub azure: Option<AzureSettings>,
    /// External auth API, if enabled.
    pub external: Option<ExternalSettings>,
    /// `EXTERNAL_AUTH_LOCAL_FALLBACK`: local password when the external API is down.
    pub external_fallback: bool,
    /// Legacy SQL Server, if configured.
    pub mssql: Option<MssqlSettings>,
    /// The legacy table and column names: `LEGACY_MAPPING_FILE` (TOML), else the
    /// defaults. A file that cannot be read or parsed is a configuration error.
    pub legacy_mapping: LegacyMapping,
    /// `LEGACY_SCHEMA_CHECK` (default strict).
    pub legacy_schema_check: SchemaCheck,
    /// `LEGACY_SYNC_INTERVAL`: the legacy sync runs inside the server this often (one
    /// instance of a cluster at a time); unset or `off`: only when asked.
    pub legacy_sync_interval: Option<Duration>,
    /// `TRUSTED_PROXIES`: the load balancers whose `X-Forwarded-For` / `Forwarded` /
    /// `X-Forwarded-Proto` are believed; unset or empty: none.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
    /// `ALLOWED_ORIGINS` (CORS), comma-separated.
    pub allowed_origins: Vec<String>,
    /// The sample legacy database (SQLite) used without `MSSQL_SERVER`, in development.
    pub legacy_sqlite_path: Option<PathBuf>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("ServerConfig")
            .field("bind", &self.bind)
            .field("environment", &self.environment)
            .field("database", &self.database.backend())
            .field("auth_mode", &self.auth_mode)
            .field("azure", &self.azure.is_some())
            .field("external", &self.external.is_some())
            .field("redis", &self.redis)
            .field("revocation_feed", &self.revocation_feed)
            .field("mssql", &self.mssql)
            .field("legacy_schema_check", &self.legacy_schema_check)
            .finish_non_exhaustive()
    }
}

/// `LEGACY_SYNC_INTERVAL`: a duration of at least a second, or `off`.
fn legacy_sync_interval(value: Option<String>) -> Result<Option<Duration>> {
    const VAR: &str = "LEGACY_SYNC_INTERVAL";
    match value.as_deref().map(str::trim) {
        None | Some("off") => Ok(None),
        Some(v) => {
            let every = parse_duration(VAR, v)?;
            if every < Duration::from_secs(1) {
                return Err(Error::config(VAR, "at least 1s (or off)"));
            }
            Ok(Some(every))
        }
    }
}

/// Parses `30s`, `5m`, `1h`, `2d`, `250ms` or plain seconds.
pub fn parse_duration(var: &str, value: &str) -> Result<Duration> {
    let v = value.trim();
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, "s"), |i| (&v[..i], &v[i..]));
    let n: u64 = num.parse().map_err(|_| {
        Error::config(
            var,
            format!("{value:?} is not a duration like 30s, 5m or 1h"),
        )
    })?;
    let secs = |m: u64| Duration::from_secs(n.saturating_mul(m));
    Ok(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" | "" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => {
            return Err(Error::config(
                var,
                format!("{value:?} has an unknown unit (ms, s, m, h, d)"),
            ));
        }
    })
}

/// `ERP_BIND`, default `127.0.0.1:8080`.
fn parse_bind(value: Option<String>) -> Result<SocketAddr> {
    match value {
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
        Some(v) => v.trim().parse().map_err(|_| {
            Error::config(
                "ERP_BIND",
                format!("{v:?} is not an address like 127.0.0.1:8080"),
            )
        }),
    }
}

fn parse_bool(var: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(Error::config(
            var,
            format!("{other:?} is not true or false"),
        )),
    }
}

impl ServerConfig {
    /// Reads the configuration through `var` (the process environment in `main`).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let flag =
            |name: &str, default: bool| get(name).map_or(Ok(default), |v| parse_bool(name, &v));
        let duration = |name: &str, default: Duration| {
            get(name).map_or(Ok(default), |v| parse_duration(name, &v))
        };
        let environment = match get("ERP_ENV").as_deref().map(str::trim) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(Error::config(
                    "ERP_ENV",
                    format!("{other:?} is neither development nor production"),
                ));
            }
        };
        let production = environment == Environment::Production;
        let bind = parse_bind(get("ERP_BIND"))?;
        let (database, embedded_database) = match get("DATABASE_URL") {
            Some(url) => (DatabaseConfig::from_env_value("DATABASE_URL", &url)?, false),
            None if production => {
                return Err(Error::config(
                    "DATABASE_URL",
                    "is required when ERP_ENV=production (the embedded SQLite file is for development)",
                ));
            }
            None => (
                DatabaseConfig::from_url(&format!("sqlite://{DEFAULT_SQLITE_PATH}"))?,
                true,
            ),
        };
        let secret = |name: &str, dev: &str| -> Result<String> {
            match get(name) {
                Some(v) if production && v == dev => {
                    Err(Error::config(name, "is the development default"))
                }
                Some(v) if v.len() < 32 => Err(Error::config(name, "is shorter than 32 bytes")),
                Some(v) => Ok(v),
                None if production => {
                    Err(Error::config(name, "is required when ERP_ENV=production"))
                }
                None => Ok(dev.to_owned()),
            }
        };
        let jwt_secret = secret("JWT_SECRET_KEY", DEV_JWT_SECRET)?;
        let session_sign_key = secret("SESSION_SIGN_KEY", DEV_SESSION_KEY)?;
        let auth_mode = match get("AUTH_MODE").as_deref().map(str::trim) {
            None | Some("local") => AuthMode::Local,
            Some("iam_service") => AuthMode::IamService,
            Some(other) => {
                return Err(Error::config(
                    "AUTH_MODE",
                    format!("{other:?} is neither local nor iam_service"),
                ));
            }
        };
        let iam_service_url = get("IAM_SERVICE_URL");
        if auth_mode == AuthMode::IamService && iam_service_url.is_none() {
            return Err(Error::config(
                "IAM_SERVICE_URL",
                "is required when AUTH_MODE=iam_service",
            ));
        }
        let azure = match (get("AZURE_CLIENT_ID"), get("AZURE_TENANT_ID")) {
            (Some(client_id), Some(tenant_id)) => Some(AzureSettings {
                tenant_id: tenant_id.clone(),
                client_id,
                allowed_tenants: get("AZURE_ALLOWED_TENANTS")
                    .map(|v| {
                        v.split(',')
                            .map(|t| t.trim().to_owned())
                            .filter(|t| !t.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                authority_host: get("AZURE_AUTHORITY_HOST")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into()),
                auto_provision: flag("AZURE_AUTO_PROVISION", false)?,
                default_role: get("AZURE_DEFAULT_ROLE"),
                role_map: get("AZURE_ROLE_MAP").unwrap_or_default(),
                jwks_cache_ttl: duration("JWKS_CACHE_TTL", Duration::from_secs(3600))?,
                jwks_min_refresh_interval: duration(
                    "JWKS_MIN_REFRESH_INTERVAL",
                    Duration::from_secs(30),
                )?,
                jwks_max_stale: duration("JWKS_MAX_STALE", Duration::from_secs(24 * 3600))?,
                required_scopes: get("AZURE_REQUIRED_SCOPES")
                    .map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                verified_domains: parse_verified_domains(
                    &get("AZURE_VERIFIED_DOMAINS").unwrap_or_default(),
                    &tenant_id,
                )?,
                client_secret: get("AZURE_CLIENT_SECRET"),
                graph_host: get("AZURE_GRAPH_HOST"),
                groups_cache_ttl: duration("AZURE_GROUPS_CACHE_TTL", Duration::from_secs(900))?,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(Error::config(
                    "AZURE_TENANT_ID",
                    "is required with AZURE_CLIENT_ID",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "AZURE_CLIENT_ID",
                    "is required with AZURE_TENANT_ID",
                ));
            }
        };
        let external = if flag("USE_EXTERNAL_AUTH", false)? {
            Some(ExternalSettings {
                url: get("EXTERNAL_AUTH_API_URL").ok_or_else(|| {
                    Error::config(
                        "EXTERNAL_AUTH_API_URL",
                        "is required with USE_EXTERNAL_AUTH=true",
                    )
                })?,
                endpoint: get("EXTERNAL_AUTH_ENDPOINT").unwrap_or_else(|| "/api/auth/login".into()),
                timeout: duration("EXTERNAL_AUTH_TIMEOUT", Duration::from_secs(10))?,
            })
        } else {
            None
        };
        let mssql = if get("MSSQL_SERVER").is_some() {
            let mut config = erp_legacy::mssql::MssqlConfig::from_env_lookup(|name| get(name))
                .map_err(|e| Error::config("MSSQL_*", e.to_string()))?;
            // Unset: the library's default (10 s).
            if let Some(v) = get("MSSQL_CONNECT_TIMEOUT") {
                let timeout = parse_duration("MSSQL_CONNECT_TIMEOUT", &v)?;
                if timeout.is_zero() {
                    return Err(Error::config("MSSQL_CONNECT_TIMEOUT", "must be above zero"));
                }
                config = config.with_connect_timeout(timeout);
            }
            Some(MssqlSettings { config })
        } else {
            None
        };
        let legacy_mapping = match get("LEGACY_MAPPING_FILE") {
            Some(path) => LegacyMapping::from_file(std::path::Path::new(path.trim()))
                .map_err(|e| Error::config("LEGACY_MAPPING_FILE", e.to_string()))?,
            None => LegacyMapping::default(),
        };
        let legacy_schema_check = match get("LEGACY_SCHEMA_CHECK").as_deref().map(str::trim) {
            None | Some("strict") => SchemaCheck::Strict,
            Some("warn") => SchemaCheck::Warn,
            Some(other) => {
                return Err(Error::config(
                    "LEGACY_SCHEMA_CHECK",
                    format!("{other:?} is neither strict nor warn"),
                ));
            }
        };
        let legacy_sync_interval = legacy_sync_interval(get("LEGACY_SYNC_INTERVAL"))?;
        let redis = match get("REDIS_URL") {
            Some(url) => Some(RedisSettings {
                url: url.trim().to_owned(),
                key_prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "erp:".into()),
                timeout: duration("REDIS_TIMEOUT", Duration::from_secs(2))?,
            }),
            None => None,
        };
        let revocation_feed = revocation_feed(get("REVOCATION_FEED"), redis.is_some())?;
        Ok(Self {
            bind,
            environment,
            database,
            embedded_database,
            jwt_secret,
            session_sign_key,
            session_cookie_secure: flag("SESSION_COOKIE_SECURE", true)?,
            token_refresh_buffer: duration("TOKEN_REFRESH_BUFFER", Duration::from_secs(60))?,
            refresh_token_reuse_interval: duration(
                "REFRESH_TOKEN_REUSE_INTERVAL",
                Duration::from_secs(10),
            )?,
            revocation_max_staleness: match duration(
                "REVOCATION_MAX_STALENESS",
                Duration::from_secs(5),
            )? {
                d if d < Duration::from_millis(200) => {
                    return Err(Error::config(
                        "REVOCATION_MAX_STALENESS",
                        "must be at least 200ms (the feed's heartbeat runs at a quarter of it)",
                    ));
                }
                d => d,
            },
            redis,
            revocation_feed,
            auth_mode,
            iam_service_url,
            azure,
            external,
            external_fallback: flag("EXTERNAL_AUTH_LOCAL_FALLBACK", false)?,
            mssql,
            legacy_mapping,
            legacy_schema_check,
            legacy_sync_interval,
            trusted_proxies: crate::client_ip::TrustedProxies::parse(
                &get("TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| Error::config("TRUSTED_PROXIES", e.to_string()))?,
            allowed_origins: get("ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            legacy_sqlite_path: (!production).then(|| PathBuf::from(DEFAULT_LEGACY_SQLITE_PATH)),
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Only the address the server binds (`ERP_BIND`), as [`from_lookup`](Self::from_lookup)
    /// reads it: for `erp-server healthcheck`, which must not need the secrets and
    /// databases of a full configuration.
    pub fn bind_from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<SocketAddr> {
        parse_bind(var("ERP_BIND").filter(|v| !v.trim().is_empty()))
    }

    /// [`bind_from_lookup`](Self::bind_from_lookup) over the process environment.
    pub fn bind_from_env() -> Result<SocketAddr> {
        Self::bind_from_lookup(|name| std::env::var(name).ok())
    }

    /// `ERP_LOG_FORMAT=json` (any case): one JSON object per log line. Read on its own,
    /// before the full configuration, so that a configuration error is logged in the
    /// format asked for.
    pub fn log_json_from_lookup(var: impl Fn(&str) -> Option<String>) -> bool {
        var("ERP_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"))
    }

    /// [`log_json_from_lookup`](Self::log_json_from_lookup) over the process environment.
    pub fn log_json_from_env() -> bool {
        Self::log_json_from_lookup(|name| std::env::var(name).ok())
    }

    /// The embedded database file, when that is what runs.
    pub fn embedded_path(&self) -> Option<PathBuf> {
        self.embedded_database
            .then(|| PathBuf::from(DEFAULT_SQLITE_PATH))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use erp_core::Backend;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<ServerConfig> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ServerConfig::from_lookup(|k| env.get(k).cloned())
    }

    const GOOD: &str = "a-production-secret-of-at-least-32-bytes";

    #[test]
    fn defaults_to_embedded_sqlite_in_development() {
        let cfg = load(&[]).unwrap();
        assert!(cfg.embedded_database);
        assert_eq!(cfg.database.backend(), Backend::Sqlite);
        assert_eq!(cfg.bind.to_string(), "127.0.0.1:8080");
        assert!(cfg.session_cookie_secure);
        assert_eq!(cfg.auth_mode, AuthMode::Local);
    }

    #[test]
    fn trusted_proxies_default_to_none_and_a_bad_entry_is_named() {
        assert!(load(&[]).unwrap().trusted_proxies.is_empty());
        let cfg = load(&[("TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8")]).unwrap();
        assert!(cfg.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        assert!(cfg.trusted_proxies.trusts("fd00::9".parse().unwrap()));
        let err = load(&[("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/40")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("TRUSTED_PROXIES") && err.contains("10.0.0.0/40"),
            "{err}"
        );
    }

    #[test]
    fn production_refuses_missing_short_or_default_secrets() {
        let base = [
            ("ERP_ENV", "production"),
            ("DATABASE_URL", "postgres://erp@db/erp"),
        ];
        let err = load(&base).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET_KEY"), "{err}");
        let err = load(&[
            base[0],
            base[1],
            ("JWT_SECRET_KEY", "short"),
            ("SESSION_SIGN_KEY", GOOD),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        let err = load(&[
            base[0],
            base[1],
            ("JWT_SECRET_KEY", DEV_JWT_SECRET),
            ("SESSION_SIGN_KEY", GOOD),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("development default"), "{err}");
        assert!(
            load(&[
                base[0],
                base[1],
                ("JWT_SECRET_KEY", GOOD),
                ("SESSION_SIGN_KEY", GOOD)
            ])
            .is_ok()
        );
        let err = load(&[
            ("ERP_ENV", "production"),
            ("JWT_SECRET_KEY", GOOD),
            ("SESSION_SIGN_KEY", GOOD),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_passwords() {
        let err = load(&[("DATABASE_URL", "postgres://erp:hunter2@db:xx/erp")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("DATABASE_URL") && !text.contains("hunter2"),
            "{text}"
        );
        for (name, value) in [
            ("ERP_BIND", "nowhere"),
            ("ERP_ENV", "staging"),
            ("AUTH_MODE", "magic"),
            ("JWKS_CACHE_TTL", "soon"),
            ("USE_EXTERNAL_AUTH", "maybe"),
        ] {
            let mut pairs = vec![(name, value)];
            if name == "JWKS_CACHE_TTL" {
                pairs.extend([("AZURE_CLIENT_ID", "c"), ("AZURE_TENANT_ID", "t")]);
            }
            let err = load(&pairs).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
        assert!(
            load(&[("AUTH_MODE", "iam_service")])
                .unwrap_err()
                .to_string()
                .contains("IAM_SERVICE_URL")
        );
        assert!(
            load(&[("USE_EXTERNAL_AUTH", "true")])
                .unwrap_err()
                .to_string()
                .contains("EXTERNAL_AUTH_API_URL")
        );
        assert!(
            load(&[("AZURE_CLIENT_ID", "c")])
                .unwrap_err()
                .to_string()
                .contains("AZURE_TENANT_ID")
        );
    }

    #[test]
    fn entra_settings() {
        let home = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let other = "5d2c7b7e-6a4f-4c1e-9b0e-1f2a3b4c5d6e";
        let domains = format!("contoso.com, {other}=fabrikam.com");
        let cfg = load(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", home),
            ("AZURE_REQUIRED_SCOPES", "access_as_user  Books.Read"),
            ("AZURE_VERIFIED_DOMAINS", &domains),
            ("AZURE_CLIENT_SECRET", "very-secret-value"),
            ("AZURE_GROUPS_CACHE_TTL", "5m"),
        ])
        .unwrap();
        let az = cfg.azure.as_ref().unwrap();
        assert_eq!(az.required_scopes, ["access_as_user", "Books.Read"]);
        assert_eq!(
            az.verified_domains,
            [
                (home.to_owned(), "contoso.com".to_owned()),
                (other.to_owned(), "fabrikam.com".to_owned())
            ]
        );
        assert_eq!(az.groups_cache_ttl, Duration::from_secs(300));
        assert!(!format!("{cfg:?} {az:?}").contains("very-secret-value"));
        // A bare domain needs a directory id to belong to.
        let err = load(&[
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_TENANT_ID", "organizations"),
            ("AZURE_VERIFIED_DOMAINS", "contoso.com"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("AZURE_VERIFIED_DOMAINS"), "{err}");
    }

    #[test]
    fn legacy_settings() {
        let cfg = load(&[]).unwrap();
        assert_eq!(cfg.legacy_schema_check, SchemaCheck::Strict);
        assert_eq!(cfg.legacy_mapping, LegacyMapping::default());
        assert_eq!(
            load(&[("LEGACY_SCHEMA_CHECK", "warn")])
                .unwrap()
                .legacy_schema_check,
            SchemaCheck::Warn
        );
        let err = load(&[("LEGACY_SCHEMA_CHECK", "lenient")]).unwrap_err();
        assert!(err.to_string().contains("LEGACY_SCHEMA_CHECK"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mapping.toml");
        std::fs::write(&file, "[clients]\ntable = \"tblCustomer\"\n").unwrap();
        let path = file.to_str().unwrap();
        let cfg = load(&[("LEGACY_MAPPING_FILE", path)]).unwrap();
        assert_eq!(cfg.legacy_mapping.clients.table, "tblCustomer");
        // A bad file is an error naming the variable, not a silent default.
        std::fs::write(&file, "[clients]\ntabel = \"x\"\n").unwrap();
        let err = load(&[("LEGACY_MAPPING_FILE", path)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LEGACY_MAPPING_FILE") && err.contains("tabel"),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        let err = load(&[("LEGACY_MAPPING_FILE", missing.to_str().unwrap())])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LEGACY_MAPPING_FILE") && err.contains("missing.toml"),
            "{err}"
        );
    }

    #[test]
    fn mssql_connect_timeout() {
        let base = [
            ("MSSQL_SERVER", "db.local"),
            ("MSSQL_DATABASE", "legacy"),
            ("MSSQL_USER", "erp"),
            ("MSSQL_PASSWORD", "Hunter2!xyz"),
        ];
        let cfg = load(&base).unwrap();
        let mssql = cfg.mssql.unwrap().config;
        assert_eq!(mssql.connect_timeout(), Duration::from_secs(10), "default");
        let mut pairs = base.to_vec();
        pairs.push(("MSSQL_CONNECT_TIMEOUT", "1500ms"));
        let mssql = load(&pairs).unwrap().mssql.unwrap().config;
        assert_eq!(mssql.connect_timeout(), Duration::from_millis(1500));
        for bad in ["0s", "soon"] {
            pairs.pop();
            pairs.push(("MSSQL_CONNECT_TIMEOUT", bad));
            let err = load(&pairs).unwrap_err().to_string();
            assert!(err.contains("MSSQL_CONNECT_TIMEOUT"), "{bad}: {err}");
        }
    }

    #[test]
    fn legacy_sync_intervals() {
        assert_eq!(legacy_sync_interval(None).unwrap(), None);
        assert_eq!(legacy_sync_interval(Some("off".into())).unwrap(), None);
        assert_eq!(
            legacy_sync_interval(Some("5m".into())).unwrap(),
            Some(Duration::from_secs(300))
        );
        assert!(legacy_sync_interval(Some("250ms".into())).is_err());
        assert!(legacy_sync_interval(Some("often".into())).is_err());
    }

    #[test]
    fn refresh_token_reuse_interval() {
        assert_eq!(
            load(&[]).unwrap().refresh_token_reuse_interval,
            Duration::from_secs(10),
            "default"
        );
        let strict = load(&[("REFRESH_TOKEN_REUSE_INTERVAL", "0")]).unwrap();
        assert_eq!(strict.refresh_token_reuse_interval, Duration::ZERO);
        let err = load(&[("REFRESH_TOKEN_REUSE_INTERVAL", "a while")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("REFRESH_TOKEN_REUSE_INTERVAL"), "{err}");
    }

    #[test]
    fn redis_settings_hide_the_url() {
        assert!(load(&[]).unwrap().redis.is_none());
        let config = load(&[("REDIS_URL", "redis://:s3cret@cache:6379/0")]).unwrap();
        let redis = config.redis.as_ref().unwrap();
        assert_eq!(redis.key_prefix, "erp:");
        assert_eq!(redis.timeout, Duration::from_secs(2));
        assert!(!format!("{config:?}").contains("s3cret"));
        let err = load(&[("REDIS_URL", "redis://x"), ("REDIS_TIMEOUT", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("REDIS_TIMEOUT"), "{err}");
    }

    #[test]
    fn revocation_feed_defaults_to_both_with_redis_and_needs_it() {
        assert_eq!(load(&[]).unwrap().revocation_feed, RevocationFeed::Postgres);
        let redis = ("REDIS_URL", "redis://cache:6379");
        assert_eq!(
            load(&[redis]).unwrap().revocation_feed,
            RevocationFeed::Both
        );
        for (value, feed) in [
            ("postgres", RevocationFeed::Postgres),
            ("redis", RevocationFeed::Redis),
            ("both", RevocationFeed::Both),
        ] {
            let c = load(&[redis, ("REVOCATION_FEED", value)]).unwrap();
            assert_eq!(c.revocation_feed, feed, "{value}");
        }
        for value in ["redis", "both"] {
            let err = load(&[("REVOCATION_FEED", value)]).unwrap_err().to_string();
            assert!(
                err.contains("REVOCATION_FEED") && err.contains("REDIS_URL"),
                "{err}"
            );
        }
        let err = load(&[redis, ("REVOCATION_FEED", "kafka")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("REVOCATION_FEED"), "{err}");
    }

    #[test]
    fn revocation_max_staleness() {
        assert_eq!(
            load(&[]).unwrap().revocation_max_staleness,
            Duration::from_secs(5)
        );
        let c = load(&[("REVOCATION_MAX_STALENESS", "2s")]).unwrap();
        assert_eq!(c.revocation_max_staleness, Duration::from_secs(2));
        for bad in ["0", "50ms", "later"] {
            let err = load(&[("REVOCATION_MAX_STALENESS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("REVOCATION_MAX_STALENESS"), "{bad}: {err}");
        }
    }

    #[test]
    fn log_format_is_read_through_the_config() {
        let format = |v: &'static str| move |k: &str| (k == "ERP_LOG_FORMAT").then(|| v.to_owned());
        assert!(ServerConfig::log_json_from_lookup(format("JSON")));
        assert!(!ServerConfig::log_json_from_lookup(format("text")));
        assert!(!ServerConfig::log_json_from_lookup(|_| None));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("X", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse_duration("X", "1h").unwrap(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            parse_duration("X", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("X", "45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("X", "1y").is_err());
    }
}
