//! Step 7: the verifier every protected request goes through: who the token's user is
//! (the resolver, with Entra ID's directories, roles and groups), which tokens are
//! accepted (Entra ID, local JWT, the IAM service), and the revocation checks.

use erp_auth::{
    Authenticator,
    azure::{AzureAdConfig, AzureAdVerifier, GraphConfig, GraphGroups},
    iam::{IamConfig, IamVerifier},
    local::{LocalJwtConfig, LocalJwtVerifier},
    resolve::{RoleMapper, UserResolver},
    session::SessionCookies,
    token_cache::TokenCacheConfig,
};
use erp_core::TenantId;

use super::{BoxError, audit::AuditTrail, database::Stores, revocation::Revocation};
use crate::config::{AuthMode, AzureSettings, ServerConfig};

/// What the authenticator is built from: the other steps' output.
#[derive(Debug)]
pub struct Parts<'a> {
    /// Step 1: users (resolved and, with Entra ID auto-provisioning, created) and
    /// tenants (Entra ID directories are bound to them).
    pub stores: &'a Stores,
    /// Step 2: the tenant of tokens that name none.
    pub default_tenant: TenantId,
    /// Step 3.
    pub revocation: &'a Revocation,
    /// Step 5: the local tokens' keys.
    pub local: LocalJwtConfig,
    /// Step 5: browser sessions.
    pub cookies: SessionCookies,
    /// Step 6.
    pub audit: &'a AuditTrail,
}

/// Builds the authenticator; with Entra ID configured, fetches its signing keys first
/// (a start-up error if they cannot be had). Follows the revocation feed when there is
/// one.
pub async fn build(config: &ServerConfig, parts: Parts<'_>) -> Result<Authenticator, BoxError> {
    let mut resolver = UserResolver::new(parts.stores.users.clone(), parts.stores.tenants.clone())
        .with_default_tenant(Some(parts.default_tenant));
    let mut azure = None;
    if let Some(az) = &config.azure {
        let (with_azure, verifier) = entra_id(az, resolver).await?;
        resolver = with_azure;
        azure = Some(verifier);
    }
    let mut auth = Authenticator::builder(resolver)
        .with_audit(parts.audit.0.clone())
        .with_local(LocalJwtVerifier::new(parts.local))
        .with_sessions(parts.revocation.guard.clone())
        .with_token_revocations(parts.revocation.tokens.clone())
        .with_cookies(parts.cookies)
        .with_token_cache(TokenCacheConfig::default());
    if let Some(azure) = azure {
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
    parts.revocation.feeds.follow(&authenticator);
    Ok(authenticator)
}

/// The resolver's Entra ID settings and the started verifier (its keys fetched).
async fn entra_id(
    az: &AzureSettings,
    mut resolver: UserResolver,
) -> Result<(UserResolver, AzureAdVerifier), BoxError> {
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
    Ok((resolver, AzureAdVerifier::start(cfg).await?))
}
