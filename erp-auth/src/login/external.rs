use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::AuthError;

/// Settings of the external username/password auth API (`EXTERNAL_AUTH_*`).
#[derive(Debug, Clone)]
pub struct ExternalAuthConfig {
    url: String,
    timeout: Duration,
}

impl ExternalAuthConfig {
    /// `POST {base_url}{endpoint}` (`EXTERNAL_AUTH_API_URL`, `EXTERNAL_AUTH_ENDPOINT`),
    /// 10 s timeout (`EXTERNAL_AUTH_TIMEOUT`).
    pub fn new(base_url: &str, endpoint: &str) -> Result<Self, AuthError> {
        let base = base_url.trim().trim_end_matches('/');
        let endpoint = endpoint.trim();
        let endpoint = if endpoint.starts_with('/') {
            endpoint.to_owned()
        } else {
            format!("/{endpoint}")
        };
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(AuthError::Config(format!(
                "EXTERNAL_AUTH_API_URL {base:?} is not an http(s) URL"
            )));
        }
        if base.starts_with("http://")
            && !(base.starts_with("http://127.0.0.1") || base.starts_with("http://localhost"))
        {
            tracing::warn!(
                "EXTERNAL_AUTH_API_URL is plain http: passwords cross the network unencrypted"
            );
        }
        Ok(Self {
            url: format!("{base}{endpoint}"),
            timeout: Duration::from_secs(10),
        })
    }

    /// Bound on the whole upstream call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The user the external API vouched for, and when its upstream tokens expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUser {
    /// `userInfo.id`.
    pub id: String,
    /// `userInfo.name`.
    pub name: Option<String>,
    /// `userInfo.email`.
    pub email: Option<String>,
    /// `userInfo.jobTitle`.
    pub job_title: Option<String>,
    /// When the upstream tokens were issued (`issuedAt`, else now).
    pub issued_at: DateTime<Utc>,
    /// When they expire (`expiresAt`, else `issuedAt + expires_in`).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why the external API gave no user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalError {
    /// The API rejected the credentials (401/403, or `code: INVALID_CREDENTIALS`).
    #[error("the external auth API rejected the credentials")]
    InvalidCredentials,
    /// Timeout, connection failure or 5xx.
    #[error("the external auth API is unavailable: {0}")]
    Unavailable(String),
    /// A 2xx whose body does not follow the contract.
    #[error("the external auth API sent an invalid response: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    success: bool,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    token_type: Option<String>,
    user_info: UserInfo,
    #[serde(default)]
    issued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfo {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    job_title: Option<String>,
}

/// Client of the external auth API: certificate checks on (rustls with the platform's
/// roots), no redirects, one bounded attempt.
#[derive(Debug, Clone)]
pub struct ExternalAuthClient {
    client: reqwest::Client,
    config: ExternalAuthConfig,
}

impl ExternalAuthClient {
    /// A client for `config`.
    pub fn new(config: ExternalAuthConfig) -> Result<Self, AuthError> {
        let client = crate::http_client::build(config.timeout)?;
        Ok(Self { client, config })
    }

    /// Asks the API to check `username`/`password`.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<ExternalUser, ExternalError> {
        let started = Instant::now();
        let result = self.call(username, password).await;
        crate::metrics::upstream_latency("external_auth", started.elapsed(), result.is_ok());
        result
    }

    async fn call(&self, username: &str, password: &str) -> Result<ExternalUser, ExternalError> {
        let (status, body) = self.send(username, password).await?;
        interpret(status, &body)
    }

    /// Asks the API once and returns its raw answer beside what the login would make of
    /// it, for the operator's `erp-server external probe`. `Err` only when no answer came
    /// (connection, timeout). The body may hold upstream tokens: mask them before showing.
    pub async fn probe(
        &self,
        username: &str,
        password: &str,
    ) -> Result<ExternalProbe, ExternalError> {
        let (status, body) = self.send(username, password).await?;
        Ok(ExternalProbe {
            status: status.as_u16(),
            body: serde_json::from_slice(&body).ok(),
            outcome: interpret(status, &body),
        })
    }

    async fn send(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), ExternalError> {
        let request = self
            .client
            .post(&self.config.url)
            .json(&serde_json::json!({ "username": username, "password": password }));
        let response = crate::http_client::send(request).await.map_err(|e| {
            ExternalError::Unavailable(if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "connection failed (refused or unreachable)".into()
            } else {
                "request failed".into()
            })
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|_| ExternalError::Unavailable("response body lost".into()))?;
        Ok((status, body))
    }
}

/// What the external API answered to [`ExternalAuthClient::probe`].
pub struct ExternalProbe {
    /// The HTTP status.
    pub status: u16,
    /// The body, when it is JSON (it may hold tokens).
    pub body: Option<serde_json::Value>,
    /// What a login would make of the answer.
    pub outcome: Result<ExternalUser, ExternalError>,
}

impl std::fmt::Debug for ExternalProbe {
    // The body may carry upstream tokens: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalProbe")
            .field("status", &self.status)
            .field("body", &self.body.as_ref().map(|_| "<elided>"))
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// Maps one answer of the API onto the contract.
fn interpret(status: reqwest::StatusCode, body: &[u8]) -> Result<ExternalUser, ExternalError> {
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ExternalError::InvalidCredentials);
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(ExternalError::Unavailable(format!(
            "status {}",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(ExternalError::Malformed(format!(
            "status {}",
            status.as_u16()
        )));
    }
    if body.len() > 1 << 20 {
        return Err(ExternalError::Malformed("body larger than 1 MiB".into()));
    }
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| ExternalError::Malformed(format!("not the login contract: {e}")))?;
    if !envelope.success {
        return if envelope.code.as_deref() == Some("INVALID_CREDENTIALS") {
            Err(ExternalError::InvalidCredentials)
        } else {
            Err(ExternalError::Malformed("success is false".into()))
        };
    }
    let data = envelope
        .data
        .ok_or_else(|| ExternalError::Malformed("no data".into()))?;
    if data
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(ExternalError::Malformed("token_type is not Bearer".into()));
    }
    let id = data.user_info.id.trim().to_owned();
    if id.is_empty() || id.len() > 128 {
        return Err(ExternalError::Malformed(
            "userInfo.id is empty or too long".into(),
        ));
    }
    let issued_at = data.issued_at.unwrap_or_else(Utc::now);
    let expires_at = data.expires_at.or_else(|| {
        data.expires_in
            .filter(|s| *s > 0)
            .map(|s| issued_at + chrono::Duration::seconds(s))
    });
    Ok(ExternalUser {
        id,
        name: data.user_info.name.filter(|n| !n.trim().is_empty()),
        email: data.user_info.email.filter(|e| e.contains('@')),
        job_title: data.user_info.job_title,
        issued_at,
        expires_at,
    })
}
