use std::{
    collections::HashMap,
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwapOption;
use serde::Deserialize;
use tokio::time::Instant;

use super::{
    AzureAdConfig,
    discovery::{Discovery, FetchError, discover, get_json},
};
use crate::{AuthError, crypto::Rs256Key};

/// One signing key from the JWKS.
pub(crate) struct SigningKey {
    pub(crate) verifying: Rs256Key,
    /// The JWK's `n` and `e`, to recognise an unchanged key across fetches.
    material: (String, String),
    /// Azure's non-standard `issuer` of the key (with a `{tenantid}` template), used to
    /// check that a key signs only for its own cloud and tenant.
    pub(crate) issuer: Option<String>,
}

/// One successful fetch.
struct KeySet {
    keys: HashMap<String, Arc<SigningKey>>,
    fetched_at: Instant,
    generation: u64,
}

/// Counters of the cache, for metrics and tests.
#[derive(Debug, Default)]
pub struct JwksMetrics {
    /// Lookups answered from the cache.
    pub hits: AtomicU64,
    /// Lookups of a `kid` the cache did not have.
    pub misses: AtomicU64,
    /// JWKS fetches made (background and on demand).
    pub fetches: AtomicU64,
    /// Fetches that failed.
    pub failures: AtomicU64,
}

struct Inner {
    config: AzureAdConfig,
    client: reqwest::Client,
    discovery: ArcSwapOption<Discovery>,
    keys: ArcSwapOption<KeySet>,
    /// Held across a fetch: one fetch in flight at a time. Readers never take it.
    fetch_lock: tokio::sync::Mutex<Option<Instant>>,
    metrics: JwksMetrics,
}

/// The Entra ID signing keys.
///
/// The hot path (a key lookup with a known `kid`) is a lock-free snapshot read. A
/// background task refreshes the keys at about 80 % of the TTL, with jitter so a fleet
/// does not stampede the IdP. An unknown `kid` may trigger one fetch, shared by every
/// request that wants it (single flight) and at most one per minimum interval; while the
/// IdP is down the last good keys keep serving until the max-stale bound.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.inner.keys.load();
        f.debug_struct("JwksCache")
            .field("keys", &keys.as_ref().map(|k| k.keys.len()))
            .field("metrics", &self.inner.metrics)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<RawJwk>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
}

/// Keeps the RSA signature keys; drops encryption keys (`use: enc`), other key types,
/// keys for other algorithms and keys that do not parse.
fn usable_keys(raw: RawJwks) -> HashMap<String, Arc<SigningKey>> {
    raw.keys
        .into_iter()
        .filter(|k| k.kty == "RSA" && k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == "RS256"))
        .filter_map(|k| {
            let kid = k.kid?;
            let (n, e) = (k.n?, k.e?);
            let verifying = Rs256Key::from_components(&n, &e)?;
            Some((
                kid,
                Arc::new(SigningKey {
                    verifying,
                    material: (n, e),
                    issuer: k.issuer,
                }),
            ))
        })
        .collect()
}

/// A pseudo-random fraction in [0, 1) for jitter, without a RNG dependency.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() % 10_000) as f64 / 10_000.0
}

impl JwksCache {
    /// A cache for `config`; fetches nothing until [`JwksCache::refresh`] or a lookup.
    pub(crate) fn new(config: AzureAdConfig) -> Result<Self, AuthError> {
        let client = crate::http_client::build(config.http_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                client,
                discovery: ArcSwapOption::empty(),
                keys: ArcSwapOption::empty(),
                fetch_lock: tokio::sync::Mutex::new(None),
                metrics: JwksMetrics::default(),
            }),
        })
    }

    /// The counters.
    pub fn metrics(&self) -> &JwksMetrics {
        &self.inner.metrics
    }

    /// The v2 issuer template (`{tenantid}`) of the discovery document, once fetched.
    pub(crate) fn issuer_template(&self) -> Option<String> {
        self.inner
            .discovery
            .load()
            .as_ref()
            .map(|d| d.issuer_template.clone())
    }

    /// Number of keys held now.
    pub fn key_count(&self) -> usize {
        self.inner.keys.load().as_ref().map_or(0, |k| k.keys.len())
    }

    /// True if the cache holds keys young enough to serve.
    pub fn is_serving(&self) -> bool {
        self.inner
            .keys
            .load()
            .as_ref()
            .is_some_and(|k| k.fetched_at.elapsed() <= self.inner.config.max_stale)
    }

    /// Looks a key up. Known `kid`: no await on I/O. Unknown: at most one shared fetch.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<SigningKey>, AuthError> {
        let max_stale = self.inner.config.max_stale;
        let seen = self.inner.keys.load_full();
        if let Some(set) = &seen
            && set.fetched_at.elapsed() <= max_stale
            && let Some(key) = set.keys.get(kid)
        {
            self.inner.metrics.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Arc::clone(key));
        }
        self.inner.metrics.misses.fetch_add(1, Ordering::Relaxed);
        self.fetch_if_allowed(seen.as_ref().map(|s| s.generation))
            .await;
        match self.inner.keys.load().as_ref() {
            Some(set) if set.fetched_at.elapsed() <= max_stale => {
                set.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
            }
            _ => Err(AuthError::KeysUnavailable),
        }
    }

    /// Fetches after a miss unless another request already did (the generation moved
    /// while we waited for the lock) or the last fetch was less than the minimum
    /// interval ago.
    async fn fetch_if_allowed(&self, seen_generation: Option<u64>) {
        let mut last_attempt = self.inner.fetch_lock.lock().await;
        let current = self.inner.keys.load().as_ref().map(|s| s.generation);
        if current != seen_generation {
            return;
        }
        if let Some(at) = *last_attempt
            && at.elapsed() < self.inner.config.min_refresh_interval
        {
            return;
        }
        *last_attempt = Some(Instant::now());
        if let Err(e) = self.fetch().await {
            tracing::warn!(error = %e, "fetching the Entra ID signing keys failed");
        }
    }

    /// Fetches discovery (once) and the JWKS now, whatever the intervals say. Used at
    /// start-up and by the background refresher.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let mut last_attempt = self.inner.fetch_lock.lock().await;
        *last_attempt = Some(Instant::now());
        self.fetch().await.map_err(|e| {
            tracing::warn!(error = %e, "fetching the Entra ID signing keys failed");
            AuthError::KeysUnavailable
        })
    }

    /// The fetch itself; callers hold `fetch_lock`.
    async fn fetch(&self) -> Result<(), FetchError> {
        let inner = &self.inner;
        inner.metrics.fetches.fetch_add(1, Ordering::Relaxed);
        let result = async {
            let discovery = match inner.discovery.load_full() {
                Some(d) => d,
                None => {
                    let d = Arc::new(discover(&inner.client, &inner.config).await?);
                    inner.discovery.store(Some(Arc::clone(&d)));
                    d
                }
            };
            let url = if inner.config.app_specific_keys {
                let sep = if discovery.jwks_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!(
                    "{}{sep}appid={}",
                    discovery.jwks_uri, inner.config.client_id
                )
            } else {
                discovery.jwks_uri.clone()
            };
            let raw: RawJwks = get_json(&inner.client, &url).await?;
            let mut keys = usable_keys(raw);
            // Keep the same Arc for a key that did not change: verified-token cache
            // entries hold a Weak to their key and die only when it leaves the JWKS.
            if let Some(old) = inner.keys.load().as_ref() {
                for (kid, key) in keys.iter_mut() {
                    if let Some(prev) = old.keys.get(kid)
                        && prev.material == key.material
                        && prev.issuer == key.issuer
                    {
                        *key = Arc::clone(prev);
                    }
                }
            }
            if keys.is_empty() {
                // Never replace good keys with nothing: an empty set is an IdP fault.
                return Err(FetchError::Malformed("no usable RS256 signing key".into()));
            }
            let generation = inner.keys.load().as_ref().map_or(0, |s| s.generation) + 1;
            inner.keys.store(Some(Arc::new(KeySet {
                keys,
                fetched_at: Instant::now(),
                generation,
            })));
            Ok(())
        }
        .await;
        if result.is_err() {
            inner.metrics.failures.fetch_add(1, Ordering::Relaxed);
        }
        crate::metrics::jwks_fetch(result.is_ok());
        result
    }

    /// Starts the background refresher; it stops when the last clone of the cache is dropped.
    pub(crate) fn spawn_refresher(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let ttl = self.inner.config.jwks_cache_ttl;
        let retry = self
            .inner
            .config
            .min_refresh_interval
            .max(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                let wait = {
                    let Some(inner) = weak.upgrade() else { return };
                    match inner.keys.load().as_ref() {
                        Some(set) => {
                            let due = ttl.mul_f64(0.75 + 0.1 * jitter_fraction());
                            (set.fetched_at + due).saturating_duration_since(Instant::now())
                        }
                        None => retry,
                    }
                };
                tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
                let Some(inner) = weak.upgrade() else { return };
                let cache = JwksCache { inner };
                if cache.refresh().await.is_err() {
                    drop(cache);
                    tokio::time::sleep(retry).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rsa_signature_keys_are_kept() {
        use base64::Engine;
        // A 2048-bit odd modulus (not a real key's, but well-formed for parsing).
        let mut modulus = vec![0xC5u8; 256];
        modulus[255] = 0x01;
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&modulus);
        let raw: RawJwks = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "nokeymaterial"},
            {"kty": "RSA", "use": "sig", "kid": "ok", "n": n, "e": "AQAB", "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"},
            {"kty": "RSA", "alg": "RS512", "kid": "rs512", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "tiny", "n": "sXch", "e": "AQAB"}
        ]}))
        .unwrap();
        let keys = usable_keys(raw);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ok"]);
        assert!(keys["ok"].issuer.is_some());
    }
}
