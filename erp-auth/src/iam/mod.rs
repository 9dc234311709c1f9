//! IAM-service mode (`AUTH_MODE=iam_service`): bearer tokens are vouched for by an IAM
//! service instead of being verified locally.
//!
//! `GET {IAM_SERVICE_URL}/auth/userinfo` with the token says who it belongs to;
//! `POST {IAM_SERVICE_URL}/auth/check-permission {"permission"}` whether it may do
//! something. Answers are cached briefly (positive 60 s, negative 10 s) by the token's
//! SHA-256; the IAM being down is 503, never an open door.

mod require_permission;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use require_permission::{
    PermissionRule, RequirePermission, RequirePermissionLayer, require_permission,
};

use crate::AuthError;

/// Settings of the IAM client.
#[derive(Debug, Clone)]
pub struct IamConfig {
    base_url: String,
    timeout: Duration,
    positive_ttl: Duration,
    negative_ttl: Duration,
    max_entries: usize,
}

impl IamConfig {
    /// The service at `base_url` (`IAM_SERVICE_URL`).
    pub fn new(base_url: &str) -> Result<Self, AuthError> {
        let base_url = base_url.trim().trim_end_matches('/').to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(AuthError::Config(format!(
                "IAM_SERVICE_URL {base_url:?} is not an http(s) URL"
            )));
        }
        Ok(Self {
            base_url,
            timeout: Duration::from_secs(5),
            positive_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            max_entries: 10_000,
        })
    }

    /// Bound on one IAM call (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long answers are reused: accepted tokens and granted permissions, and
    /// rejected ones (defaults 60 s and 10 s).
    pub fn with_cache_ttls(mut self, positive: Duration, negative: Duration) -> Self {
        self.positive_ttl = positive;
        self.negative_ttl = negative;
        self
    }
}

/// Who the IAM says a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamUser {
    /// The IAM's user id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// E-mail.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Role names granted by the IAM.
    pub roles: Vec<String>,
    /// Tenant slug, if the IAM names one.
    pub tenant: Option<String>,
    /// When this instance first saw the token (stands in for `iat` against revocation
    /// watermarks; remembered for 24 h).
    pub first_seen: DateTime<Utc>,
}

type TokenHash = [u8; 32];

struct Inner {
    client: reqwest::Client,
    config: IamConfig,
    users: Mutex<HashMap<TokenHash, (Instant, Option<IamUser>)>>,
    permissions: Mutex<HashMap<(TokenHash, String), (Instant, bool)>>,
    first_seen: Mutex<HashMap<TokenHash, (Instant, DateTime<Utc>)>>,
}

/// Client of the IAM service with its answer caches.
#[derive(Clone)]
pub struct IamVerifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IamVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamVerifier")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn pick<'a>(v: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| v.get(*n).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl IamVerifier {
    /// A verifier for `config`.
    pub fn new(config: IamConfig) -> Result<Self, AuthError> {
        let client = crate::http_client::build(config.timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                config,
                users: Mutex::new(HashMap::new()),
                permissions: Mutex::new(HashMap::new()),
                first_seen: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn hash(token: &str) -> TokenHash {
        Sha256::digest(token.as_bytes()).into()
    }

    fn first_seen(&self, hash: TokenHash) -> DateTime<Utc> {
        let mut seen = lock(&self.inner.first_seen);
        if seen.len() >= self.inner.config.max_entries * 4 {
            seen.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(24 * 3600));
        }
        seen.entry(hash)
            .or_insert_with(|| (Instant::now(), Utc::now()))
            .1
    }

    /// Who `token` belongs to.
    pub async fn userinfo(&self, token: &str) -> Result<IamUser, AuthError> {
        let hash = Self::hash(token);
        let cfg = &self.inner.config;
        if let Some((at, cached)) = lock(&self.inner.users).get(&hash).cloned() {
            match cached {
                Some(user) if at.elapsed() < cfg.positive_ttl => return Ok(user),
                None if at.elapsed() < cfg.negative_ttl => return Err(AuthError::TokenRejected),
                _ => {}
            }
        }
        let started = Instant::now();
        let result = self.fetch_userinfo(token, hash).await;
        crate::metrics::upstream_latency(
            "iam",
            started.elapsed(),
            !matches!(result, Err(AuthError::UpstreamUnavailable { .. })),
        );
        let mut users = lock(&self.inner.users);
        if users.len() >= cfg.max_entries {
            users.clear();
        }
        match &result {
            Ok(user) => {
                users.insert(hash, (Instant::now(), Some(user.clone())));
            }
            Err(AuthError::TokenRejected) => {
                users.insert(hash, (Instant::now(), None));
            }
            // Outages are not cached: the next request asks again.
            Err(_) => {}
        }
        result
    }

    async fn fetch_userinfo(&self, token: &str, hash: TokenHash) -> Result<IamUser, AuthError> {
        let url = format!("{}/auth/userinfo", self.inner.config.base_url);
        let body = self
            .call(self.inner.client.get(url).bearer_auth(token))
            .await?;
        let Some(body) = body else {
            return Err(AuthError::TokenRejected);
        };
        let v = body.get("data").filter(|d| d.is_object()).unwrap_or(&body);
        let bad = |what: &str| AuthError::UpstreamUnavailable {
            service: "iam",
            reason: format!("userinfo {what}"),
        };
        let id = pick(v, &["id", "sub", "user_id", "userId"]).ok_or_else(|| bad("has no id"))?;
        let username = pick(v, &["username", "preferred_username", "email", "upn"]).unwrap_or(id);
        let roles = v
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(IamUser {
            id: id.to_owned(),
            username: username.to_owned(),
            email: pick(v, &["email", "mail"]).map(str::to_owned),
            name: pick(v, &["name", "display_name", "displayName"]).map(str::to_owned),
            roles,
            tenant: pick(v, &["tenant", "tenant_slug", "tenantSlug"]).map(str::to_owned),
            first_seen: self.first_seen(hash),
        })
    }

    /// Whether `token` holds `permission`.
    pub async fn check_permission(&self, token: &str, permission: &str) -> Result<bool, AuthError> {
        let key = (Self::hash(token), permission.to_owned());
        let cfg = &self.inner.config;
        if let Some((at, allowed)) = lock(&self.inner.permissions).get(&key).copied() {
            let ttl = if allowed {
                cfg.positive_ttl
            } else {
                cfg.negative_ttl
            };
            if at.elapsed() < ttl {
                return Ok(allowed);
            }
        }
        let url = format!("{}/auth/check-permission", cfg.base_url);
        let started = Instant::now();
        let result = self
            .call(
                self.inner
                    .client
                    .post(url)
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "permission": permission })),
            )
            .await;
        crate::metrics::upstream_latency("iam", started.elapsed(), result.is_ok());
        let allowed = match result {
            Ok(Some(body)) => {
                let v = body.get("data").filter(|d| d.is_object()).unwrap_or(&body);
                ["allowed", "granted", "hasPermission", "has_permission"]
                    .iter()
                    .find_map(|n| v.get(*n).and_then(Value::as_bool))
                    .ok_or_else(|| AuthError::UpstreamUnavailable {
                        service: "iam",
                        reason: "check-permission answer has no verdict".into(),
                    })?
            }
            // `call` maps 401 to an error; `None` is a 403: not allowed.
            Ok(None) => false,
            Err(e) => return Err(e),
        };
        let mut perms = lock(&self.inner.permissions);
        if perms.len() >= cfg.max_entries {
            perms.clear();
        }
        perms.insert(key, (Instant::now(), allowed));
        Ok(allowed)
    }

    /// One IAM request: `Ok(Some(json))` on 2xx, `Ok(None)` on 403 (and 401 for
    /// userinfo), `Err(TokenRejected)` on 401 elsewhere, `Err(UpstreamUnavailable)` on
    /// anything else.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Option<Value>, AuthError> {
        let down = |reason: String| AuthError::UpstreamUnavailable {
            service: "iam",
            reason,
        };
        let response = crate::http_client::send(request).await.map_err(|e| {
            down(if e.is_timeout() {
                "timed out".into()
            } else {
                "request failed".into()
            })
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(down(format!("status {}", status.as_u16())));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|_| down("body lost".into()))?;
        if bytes.len() > 1 << 20 {
            return Err(down("body larger than 1 MiB".into()));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| down("body is not JSON".into()))
    }
}
