use std::time::Duration;

use super::KeyRing;

/// Settings shared by the local issuer and verifier.
#[derive(Debug, Clone)]
pub struct LocalJwtConfig {
    pub(crate) keys: KeyRing,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: Duration,
    pub(crate) access_ttl: Duration,
}

impl LocalJwtConfig {
    /// Tokens issued as `erp-toolkit` for the audience `erp-api`, valid 15 minutes, with
    /// 60 s leeway.
    pub fn new(keys: KeyRing) -> Self {
        Self {
            keys,
            issuer: "erp-toolkit".into(),
            audience: "erp-api".into(),
            leeway: Duration::from_secs(60),
            access_ttl: Duration::from_secs(15 * 60),
        }
    }

    /// The `iss` of our tokens. It must differ from every Entra ID issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `aud` of our tokens.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Clock-skew leeway for `exp`/`nbf`.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Lifetime of issued access tokens.
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// The issuer name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}
