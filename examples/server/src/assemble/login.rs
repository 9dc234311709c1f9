//! Step 8: the login service: local passwords, the external auth API, refresh, logout.

use erp_auth::{
    local::{LocalJwtConfig, LocalTokenIssuer},
    login::{ExternalAuthClient, ExternalAuthConfig, LoginService},
};
use erp_core::TenantId;

use super::{
    BoxError, audit::AuditTrail, database::Stores, rate_limits::RateLimits, revocation::Revocation,
};
use crate::config::ServerConfig;

/// What the login service is built from: the other steps' output.
#[derive(Debug)]
pub struct Parts<'a> {
    /// Step 1.
    pub stores: &'a Stores,
    /// Step 2.
    pub default_tenant: TenantId,
    /// Step 3: logouts revoke through its guard.
    pub revocation: &'a Revocation,
    /// Step 4.
    pub rate_limits: &'a RateLimits,
    /// Step 5: the issuer of local tokens.
    pub local: LocalJwtConfig,
    /// Step 6.
    pub audit: &'a AuditTrail,
}

/// Builds the login service; with `EXTERNAL_AUTH_*` set, its client of the external API.
pub fn build(config: &ServerConfig, parts: Parts<'_>) -> Result<LoginService, BoxError> {
    let stores = parts.stores;
    let mut login = LoginService::builder(
        stores.users.clone(),
        stores.tenants.clone(),
        stores.sessions.clone(),
        stores.sessions.clone(),
        LocalTokenIssuer::new(parts.local),
    )
    .with_audit(parts.audit.0.clone())
    .with_session_guard(parts.revocation.guard.clone())
    .with_default_tenant(Some(parts.default_tenant))
    .with_refresh_buffer(config.token_refresh_buffer)
    .with_refresh_reuse_interval(config.refresh_token_reuse_interval)
    .with_rate_limit_store(parts.rate_limits.store.clone());
    if let Some(ext) = &config.external {
        let client = ExternalAuthClient::new(
            ExternalAuthConfig::new(&ext.url, &ext.endpoint)?.with_timeout(ext.timeout),
        )?;
        login = login.with_external(client, config.external_fallback);
    }
    Ok(login.build())
}
