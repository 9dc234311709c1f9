use std::time::Duration;

use super::AzureCloud;
use crate::AuthError;

/// `tenant` values that name the multi-tenant endpoints rather than one directory.
const MULTI_TENANT: [&str; 2] = ["organizations", "common"];

/// Settings of the Entra ID verifier.
///
/// ```
/// use std::time::Duration;
/// use erp_auth::azure::AzureAdConfig;
///
/// let cfg = AzureAdConfig::new("72f988bf-86f1-41af-91ab-2d7cd011db47", "my-api-client-id")
///     .with_allowed_tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47", "5d2c7b7e-6a4f-4c1e-9b0e-1f2a3b4c5d6e"])
///     .with_jwks_cache_ttl(Duration::from_secs(3600));
/// assert_eq!(cfg.audiences(), ["my-api-client-id", "api://my-api-client-id"]);
/// ```
#[derive(Debug, Clone)]
pub struct AzureAdConfig {
    pub(crate) authority_host: String,
    pub(crate) cloud: AzureCloud,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) allowed_tenants: Vec<String>,
    /// `AZURE_ALLOWED_TENANTS=*`: any directory (dangerous, see the docs).
    pub(crate) any_tenant: bool,
    /// Delegated tokens need at least one of these in `scp` (`AZURE_REQUIRED_SCOPES`).
    pub(crate) required_scopes: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: Duration,
    pub(crate) jwks_cache_ttl: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) app_specific_keys: bool,
    pub(crate) http_timeout: Duration,
}

impl AzureAdConfig {
    /// `tenant` is the directory id (`AZURE_TENANT_ID`; tokens from it are allowed) or
    /// `organizations` for a multi-tenant app (then list tenants with
    /// [`with_allowed_tenants`](Self::with_allowed_tenants)); `client_id` is the API's
    /// application id (`AZURE_CLIENT_ID`).
    pub fn new(tenant: impl Into<String>, client_id: impl Into<String>) -> Self {
        let tenant = tenant.into().trim().to_ascii_lowercase();
        let client_id = client_id.into().trim().to_owned();
        let allowed_tenants = if uuid::Uuid::parse_str(&tenant).is_ok() {
            vec![tenant.clone()]
        } else {
            Vec::new()
        };
        Self {
            authority_host: "https://login.microsoftonline.com".into(),
            cloud: AzureCloud::GLOBAL.into(),
            any_tenant: false,
            required_scopes: Vec::new(),
            audiences: vec![client_id.clone(), format!("api://{client_id}")],
            tenant,
            client_id,
            allowed_tenants,
            leeway: Duration::from_secs(60),
            jwks_cache_ttl: Duration::from_secs(3600),
            min_refresh_interval: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            app_specific_keys: false,
            http_timeout: Duration::from_secs(5),
        }
    }

    /// The login host (`AZURE_AUTHORITY_HOST`), e.g. a national cloud or a test fake.
    /// Discovery and keys are fetched there; the issuer forms of tokens follow the cloud
    /// of that host ([`AzureCloud::for_authority_host`]) unless
    /// [`with_cloud`](Self::with_cloud) says otherwise.
    pub fn with_authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into().trim_end_matches('/').to_owned();
        self.cloud = AzureCloud::for_authority_host(&self.authority_host);
        self
    }

    /// The cloud whose issuer forms tokens must have, when it differs from what the
    /// authority host implies (a proxy or test fake standing in for a national cloud).
    /// Call after [`with_authority_host`](Self::with_authority_host).
    pub fn with_cloud(mut self, cloud: impl Into<AzureCloud>) -> Self {
        self.cloud = cloud.into();
        self
    }

    /// Directory ids whose tokens are accepted (`AZURE_ALLOWED_TENANTS`); replaces the default
    /// (the configured tenant). `*` accepts any directory: every Entra ID tenant in the
    /// world can then obtain tokens for a multi-tenant app, so use it only when the
    /// ERP tenant binding, roles and scopes are what keeps strangers out.
    pub fn with_allowed_tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = tenants
            .into_iter()
            .map(|t| t.into().trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        self.any_tenant = list.iter().any(|t| t == "*");
        self.allowed_tenants = list.into_iter().filter(|t| t != "*").collect();
        self
    }

    /// Delegated (user) tokens must carry at least one of these scopes in `scp`
    /// (`AZURE_REQUIRED_SCOPES`, space-separated), as Microsoft.Identity.Web's
    /// `RequiredScope` does; otherwise 403 `insufficient_scope`. App-only tokens carry no
    /// `scp` and are not affected (guard them with `require_app_role`).
    pub fn with_required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_scopes = scopes
            .into_iter()
            .map(|s| s.into().trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        self
    }

    /// The required scopes.
    pub fn required_scopes(&self) -> &[String] {
        &self.required_scopes
    }

    /// True if any directory is accepted (`AZURE_ALLOWED_TENANTS=*`).
    pub fn accepts_any_tenant(&self) -> bool {
        self.any_tenant
    }

    /// True if `tid` (lower case) may present tokens.
    pub(crate) fn tenant_allowed(&self, tid: &str) -> bool {
        self.any_tenant || self.allowed_tenants.iter().any(|t| t == tid)
    }

    /// True for `organizations` / `common` (metadata from the multi-tenant endpoint).
    pub fn is_multi_tenant(&self) -> bool {
        MULTI_TENANT.contains(&self.tenant.as_str())
    }

    /// The cloud of the issuer forms.
    pub fn cloud(&self) -> &AzureCloud {
        &self.cloud
    }

    /// The API's application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Adds an accepted audience besides the client id and `api://{client id}`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock-skew leeway for `exp`/`nbf` (default 60 s).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long fetched keys count as fresh; a background task refreshes them before
    /// (default 1 h, `JWKS_CACHE_TTL`).
    pub fn with_jwks_cache_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_cache_ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Least time between two fetches caused by unknown `kid`s (default 30 s,
    /// `JWKS_MIN_REFRESH_INTERVAL`): a flood of random `kid`s costs one fetch per interval.
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// How long the last good keys keep serving while the IdP cannot be reached
    /// (default 24 h, as Microsoft's own libraries keep "last known good" metadata;
    /// `JWKS_MAX_STALE`). Past it, Azure tokens are refused with 503.
    pub fn with_max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Fetch app-specific signing keys (`{jwks_uri}?appid={client_id}`), needed when the
    /// app registration uses claims mapping.
    pub fn with_app_specific_keys(mut self, enabled: bool) -> Self {
        self.app_specific_keys = enabled;
        self
    }

    /// Timeout of discovery and JWKS requests (default 5 s).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The OIDC discovery document URL.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            self.authority_host, self.tenant
        )
    }

    /// The v2 issuer of directory `tid`.
    pub(crate) fn v2_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.cloud.issuer_host())
    }

    /// The v1 issuer of directory `tid`.
    pub(crate) fn v1_issuer(&self, tid: &str) -> String {
        format!("{}{tid}/", self.cloud.v1_issuer_prefix())
    }

    /// Checks the settings once, when the verifier is built.
    pub(crate) fn validate(&self) -> Result<(), AuthError> {
        if self.client_id.is_empty() {
            return Err(AuthError::Config("AZURE_CLIENT_ID is empty".into()));
        }
        if self.tenant.is_empty()
            || !self
                .tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(AuthError::Config(
                "AZURE_TENANT_ID is not a tenant id".into(),
            ));
        }
        if self.allowed_tenants.is_empty() && !self.any_tenant {
            return Err(AuthError::Config(
                "no allowed tenants: set AZURE_TENANT_ID to a directory id or list AZURE_ALLOWED_TENANTS".into(),
            ));
        }
        if let Some(bad) = self
            .allowed_tenants
            .iter()
            .find(|t| uuid::Uuid::parse_str(t).is_err())
        {
            return Err(AuthError::Config(format!(
                "allowed tenant {bad:?} is not a directory id"
            )));
        }
        if let Some(bad) = self.required_scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(AuthError::Config(format!(
                "AZURE_REQUIRED_SCOPES entry {bad:?} is not a scope name"
            )));
        }
        if !(self.authority_host.starts_with("https://")
            || self.authority_host.starts_with("http://127.0.0.1")
            || self.authority_host.starts_with("http://localhost"))
        {
            return Err(AuthError::Config(
                "AZURE_AUTHORITY_HOST must be https:// (plain http only for a local fake)".into(),
            ));
        }
        Ok(())
    }
}

/// RFC 6749 §3.3 scope-token: `%x21 / %x23-5B / %x5D-7E`, so it can be quoted in a
/// `WWW-Authenticate` header without escaping.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let cfg = AzureAdConfig::new(tid.to_uppercase(), "cid");
        assert_eq!(cfg.allowed_tenants, [tid]);
        assert!(cfg.validate().is_ok());
        assert_eq!(
            cfg.discovery_url(),
            format!(
                "https://login.microsoftonline.com/{tid}/v2.0/.well-known/openid-configuration"
            )
        );
        assert!(
            AzureAdConfig::new("organizations", "cid")
                .validate()
                .is_err(),
            "multi-tenant needs a list"
        );
        assert!(AzureAdConfig::new(tid, "").validate().is_err());
        assert!(
            AzureAdConfig::new(tid, "c")
                .with_authority_host("http://evil.example")
                .validate()
                .is_err()
        );
        assert!(
            AzureAdConfig::new(tid, "c")
                .with_allowed_tenants(["contoso"])
                .validate()
                .is_err()
        );
        let any = AzureAdConfig::new("organizations", "c").with_allowed_tenants(["*"]);
        assert!(any.validate().is_ok() && any.accepts_any_tenant() && any.is_multi_tenant());
        assert!(any.tenant_allowed("5d2c7b7e-6a4f-4c1e-9b0e-1f2a3b4c5d6e"));
        assert!(
            AzureAdConfig::new(tid, "c")
                .with_required_scopes(["bad\"scope"])
                .validate()
                .is_err()
        );
        assert!(is_scope_token("api://x/Books.Read") && !is_scope_token("a b"));
    }
}
