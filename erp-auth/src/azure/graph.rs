//! Group overage: when a token says its groups were left out (`_claim_names.groups`,
//! `hasgroups`), the user's transitive group ids come from Microsoft Graph, asked with
//! the app's own client credentials.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::Deserialize;
use tokio::time::Instant;

use super::AzureCloud;
use crate::AuthError;

/// Most group pages followed for one user (999 ids a page): a bound on a hostile or
/// broken Graph, far above real directories.
const MAX_PAGES: usize = 50;
/// How long a failed lookup is remembered, so an outage costs one Graph call per user
/// per this interval rather than one per request.
const FAILURE_TTL: Duration = Duration::from_secs(30);

/// Settings of the Graph group lookups (`AZURE_CLIENT_SECRET`, `AZURE_GRAPH_HOST`,
/// `AZURE_GROUPS_CACHE_TTL`). The secret never reaches `Debug` or a log line.
#[derive(Clone)]
pub struct GraphConfig {
    pub(crate) authority_host: String,
    pub(crate) graph_host: String,
    pub(crate) client_id: String,
    client_secret: Arc<str>,
    pub(crate) cache_ttl: Duration,
    pub(crate) max_entries: usize,
    pub(crate) http_timeout: Duration,
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("authority_host", &self.authority_host)
            .field("graph_host", &self.graph_host)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("cache_ttl", &self.cache_ttl)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl GraphConfig {
    /// Client credentials of the API's app registration (`AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`); tokens from `{authority}/{tid}/oauth2/v2.0/token`, Graph at
    /// the global cloud's host.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            authority_host: AzureCloud::GLOBAL.issuer_host().to_owned(),
            graph_host: AzureCloud::GLOBAL.graph_host().to_owned(),
            client_id: client_id.into().trim().to_owned(),
            client_secret: client_secret.into().into(),
            cache_ttl: Duration::from_secs(15 * 60),
            max_entries: 100_000,
            http_timeout: Duration::from_secs(5),
        }
    }

    /// The login host tokens are asked of (`AZURE_AUTHORITY_HOST`).
    pub fn with_authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into().trim_end_matches('/').to_owned();
        self
    }

    /// Microsoft Graph (`AZURE_GRAPH_HOST`; national clouds have their own, tests a fake).
    pub fn with_graph_host(mut self, host: impl Into<String>) -> Self {
        self.graph_host = host.into().trim_end_matches('/').to_owned();
        self
    }

    /// How long a user's groups are reused (default 15 min, `AZURE_GROUPS_CACHE_TTL`): a
    /// group removed in Entra ID stops granting its role after at most this long.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Most users cached (default 100 000); when full, expired entries go, then all.
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// Timeout of one token or Graph request (default 5 s).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    fn validate(&self) -> Result<(), AuthError> {
        if self.client_id.is_empty() || self.client_secret.trim().is_empty() {
            return Err(AuthError::Config(
                "group overage lookups need AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into(),
            ));
        }
        for (name, host) in [
            ("AZURE_AUTHORITY_HOST", &self.authority_host),
            ("AZURE_GRAPH_HOST", &self.graph_host),
        ] {
            if !(host.starts_with("https://")
                || host.starts_with("http://127.0.0.1")
                || host.starts_with("http://localhost"))
            {
                return Err(AuthError::Config(format!(
                    "{name} must be https:// (plain http only for a local fake)"
                )));
            }
        }
        Ok(())
    }
}

/// Why the groups of a user could not be read, kept in the cache for a short while;
/// callers see it as [`AuthError::UpstreamUnavailable`] (service `microsoft_graph`).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum GraphError {
    /// Graph or the token endpoint could not be reached or answered an error.
    #[error("Microsoft Graph unavailable: {0}")]
    Unavailable(String),
    /// Graph said 429; no call is made before the time it gave.
    #[error("Microsoft Graph throttled this app; retrying after {0:?}")]
    Throttled(Duration),
    /// The answer broke the contract (not JSON, a foreign next link, too many pages).
    #[error("Microsoft Graph answered nonsense: {0}")]
    Malformed(String),
}

/// Counters of the group lookups.
#[derive(Debug, Default)]
pub struct GraphMetrics {
    /// Answers from the cache.
    pub hits: AtomicU64,
    /// Users whose groups were fetched.
    pub fetches: AtomicU64,
    /// Failed lookups (the user got no group roles).
    pub failures: AtomicU64,
    /// Graph HTTP requests (pages).
    pub graph_requests: AtomicU64,
    /// Token endpoint requests.
    pub token_requests: AtomicU64,
}

type Key = (String, String);

struct Cached {
    groups: Result<Arc<[String]>, GraphError>,
    until: Instant,
}

struct Inner {
    config: GraphConfig,
    client: reqwest::Client,
    cache: Mutex<HashMap<Key, Cached>>,
    /// One lookup in flight per user: concurrent requests wait for it.
    inflight: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    /// App tokens per directory, with their expiry.
    tokens: tokio::sync::Mutex<HashMap<String, (Arc<str>, Instant)>>,
    /// Graph's `Retry-After`: no call before it.
    throttled_until: Mutex<Option<Instant>>,
    metrics: GraphMetrics,
}

/// Transitive group ids from Microsoft Graph, cached per (directory, object id).
#[derive(Clone)]
pub struct GraphGroups {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GraphGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphGroups")
            .field("config", &self.inner.config)
            .field("metrics", &self.inner.metrics)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<DirectoryObject>,
    #[serde(default, rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryObject {
    id: String,
}

/// `application/x-www-form-urlencoded` value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn retry_after(headers: &http::HeaderMap) -> Duration {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs)
        .min(Duration::from_secs(3600))
}

impl GraphGroups {
    /// A lookup service for `config`.
    pub fn new(config: GraphConfig) -> Result<Self, AuthError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                client: crate::http_client::build(config.http_timeout)?,
                config,
                cache: Mutex::new(HashMap::new()),
                inflight: Mutex::new(HashMap::new()),
                tokens: tokio::sync::Mutex::new(HashMap::new()),
                throttled_until: Mutex::new(None),
                metrics: GraphMetrics::default(),
            }),
        })
    }

    /// The counters.
    pub fn metrics(&self) -> &GraphMetrics {
        &self.inner.metrics
    }

    fn cached(&self, key: &Key) -> Option<Result<Arc<[String]>, GraphError>> {
        let cache = self.inner.cache.lock().expect("graph cache");
        cache
            .get(key)
            .filter(|c| c.until > Instant::now())
            .map(|c| c.groups.clone())
    }

    fn store(&self, key: Key, groups: Result<Arc<[String]>, GraphError>) {
        let ttl = match &groups {
            Ok(_) => self.inner.config.cache_ttl,
            Err(GraphError::Throttled(d)) => *d,
            Err(_) => FAILURE_TTL.min(self.inner.config.cache_ttl),
        };
        let mut cache = self.inner.cache.lock().expect("graph cache");
        if cache.len() >= self.inner.config.max_entries && !cache.contains_key(&key) {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            if cache.len() >= self.inner.config.max_entries {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Cached {
                groups,
                until: Instant::now() + ttl,
            },
        );
    }

    /// The transitive group ids of user `oid` of directory `tid`: from the cache, else
    /// from Graph (one lookup per user at a time; the others wait for its answer). A
    /// failure is [`AuthError::UpstreamUnavailable`] naming why (throttled, status,
    /// malformed answer); it never contains the client secret.
    pub async fn groups(&self, tid: &str, oid: &str) -> Result<Arc<[String]>, AuthError> {
        self.lookup(tid, oid)
            .await
            .map_err(|e| AuthError::UpstreamUnavailable {
                service: "microsoft_graph",
                reason: e.to_string(),
            })
    }

    async fn lookup(&self, tid: &str, oid: &str) -> Result<Arc<[String]>, GraphError> {
        let key: Key = (tid.to_ascii_lowercase(), oid.to_ascii_lowercase());
        if let Some(hit) = self.cached(&key) {
            self.inner.metrics.hits.fetch_add(1, Ordering::Relaxed);
            return hit;
        }
        let gate = Arc::clone(
            self.inner
                .inflight
                .lock()
                .expect("graph inflight")
                .entry(key.clone())
                .or_default(),
        );
        let _turn = gate.lock().await;
        // Whoever held the gate before us may have filled the cache.
        if let Some(hit) = self.cached(&key) {
            self.inner.metrics.hits.fetch_add(1, Ordering::Relaxed);
            return hit;
        }
        self.inner.metrics.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch(&key.0, &key.1).await;
        let ok = result.is_ok();
        if !ok {
            self.inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
        }
        crate::metrics::graph_lookup(ok);
        self.store(key.clone(), result.clone());
        self.inner
            .inflight
            .lock()
            .expect("graph inflight")
            .remove(&key);
        result
    }

    fn throttled(&self) -> Option<Duration> {
        let until = *self.inner.throttled_until.lock().expect("graph throttle");
        until
            .map(|u| u.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    fn throttle(&self, wait: Duration) {
        *self.inner.throttled_until.lock().expect("graph throttle") = Some(Instant::now() + wait);
    }

    async fn app_token(&self, tid: &str) -> Result<Arc<str>, GraphError> {
        let mut tokens = self.inner.tokens.lock().await;
        if let Some((token, until)) = tokens.get(tid)
            && *until > Instant::now()
        {
            return Ok(Arc::clone(token));
        }
        let cfg = &self.inner.config;
        self.inner
            .metrics
            .token_requests
            .fetch_add(1, Ordering::Relaxed);
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            form_encode(&cfg.client_id),
            form_encode(&cfg.client_secret),
            form_encode(&format!("{}/.default", cfg.graph_host_for_scope())),
        );
        let url = format!("{}/{tid}/oauth2/v2.0/token", cfg.authority_host);
        let request = self
            .inner
            .client
            .post(&url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let response = crate::http_client::send(request)
            .await
            .map_err(|e| GraphError::Unavailable(format!("token endpoint: {e}")))?;
        if !response.status().is_success() {
            // The body may describe the request; it is not logged (no secrets in logs).
            return Err(GraphError::Unavailable(format!(
                "token endpoint answered {}",
                response.status().as_u16()
            )));
        }
        let answer: TokenAnswer = response
            .json()
            .await
            .map_err(|_| GraphError::Malformed("token endpoint answer".into()))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(300).saturating_sub(60));
        let token: Arc<str> = answer.access_token.into();
        tokens.insert(
            tid.to_owned(),
            (Arc::clone(&token), Instant::now() + lifetime),
        );
        Ok(token)
    }

    async fn fetch(&self, tid: &str, oid: &str) -> Result<Arc<[String]>, GraphError> {
        if let Some(wait) = self.throttled() {
            return Err(GraphError::Throttled(wait));
        }
        if uuid::Uuid::parse_str(oid).is_err() {
            return Err(GraphError::Malformed("the object id is not a GUID".into()));
        }
        let token = self.app_token(tid).await?;
        let graph = &self.inner.config.graph_host;
        let mut url = format!(
            "{graph}/v1.0/users/{oid}/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999"
        );
        let mut groups = Vec::new();
        for _ in 0..MAX_PAGES {
            self.inner
                .metrics
                .graph_requests
                .fetch_add(1, Ordering::Relaxed);
            let request = self.inner.client.get(&url).bearer_auth(&*token);
            let response = crate::http_client::send(request)
                .await
                .map_err(|e| GraphError::Unavailable(e.to_string()))?;
            let status = response.status();
            if status.as_u16() == 429 {
                let wait = retry_after(response.headers());
                self.throttle(wait);
                return Err(GraphError::Throttled(wait));
            }
            if !status.is_success() {
                return Err(GraphError::Unavailable(format!(
                    "status {}",
                    status.as_u16()
                )));
            }
            let page: Page = response
                .json()
                .await
                .map_err(|e| GraphError::Malformed(e.to_string()))?;
            groups.extend(page.value.into_iter().map(|o| o.id));
            match page.next_link {
                // Our token goes only to the configured Graph host.
                Some(next) if next.starts_with(&format!("{graph}/")) => url = next,
                Some(_) => return Err(GraphError::Malformed("a next link to another host".into())),
                None => {
                    groups.sort();
                    groups.dedup();
                    return Ok(groups.into());
                }
            }
        }
        Err(GraphError::Malformed(format!(
            "more than {MAX_PAGES} pages of groups"
        )))
    }
}

impl GraphConfig {
    /// The resource of the `.default` scope: Graph's public name, also when a test fake
    /// or proxy serves it.
    fn graph_host_for_scope(&self) -> &str {
        if self.graph_host.starts_with("http://") {
            AzureCloud::GLOBAL.graph_host()
        } else {
            &self.graph_host
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_never_printed() {
        let cfg = GraphConfig::new("cid", "s3cr3t-value");
        let text = format!("{cfg:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        let groups = GraphGroups::new(cfg).unwrap();
        assert!(!format!("{groups:?}").contains("s3cr3t"));
        assert!(GraphGroups::new(GraphConfig::new("cid", " ")).is_err());
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
