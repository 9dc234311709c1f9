use std::sync::Arc;

use erp_core::{
    AuthMethod, Error as CoreError, NewUser, Principal, Role, SessionId, Tenant, TenantId,
    TenantRepository, User, UserId, UserRepository,
};

use super::RoleMapper;
use crate::{AuthError, jwt::Claims};

/// Resolves verified claims to the local user.
///
/// Entra ID tokens: the ERP tenant bound to the token's `tid` (or the default tenant),
/// then the user by `oid`, else by e-mail (linking the `oid` on first sign-in), else a new
/// user when auto-provisioning is on, else `USER_NOT_PROVISIONED`. Local tokens: the
/// user by `sub` in the token's tenant. Inactive tenants and users are refused.
#[derive(Clone)]
pub struct UserResolver {
    users: Arc<dyn UserRepository>,
    tenants: Arc<dyn TenantRepository>,
    auto_provision: bool,
    default_role: Option<Role>,
    role_mapper: RoleMapper,
    default_tenant: Option<TenantId>,
}

impl std::fmt::Debug for UserResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserResolver")
            .field("auto_provision", &self.auto_provision)
            .field("default_role", &self.default_role)
            .field("role_mapper", &self.role_mapper)
            .field("default_tenant", &self.default_tenant)
            .finish_non_exhaustive()
    }
}

fn store_error(e: CoreError) -> AuthError {
    AuthError::StoreUnavailable(e)
}

impl UserResolver {
    /// A resolver over the given stores; no auto-provisioning, no role mapping.
    pub fn new(users: Arc<dyn UserRepository>, tenants: Arc<dyn TenantRepository>) -> Self {
        Self {
            users,
            tenants,
            auto_provision: false,
            default_role: None,
            role_mapper: RoleMapper::new(),
            default_tenant: None,
        }
    }

    /// Creates unknown directory users on first sign-in (`AZURE_AUTO_PROVISION`).
    pub fn with_auto_provision(mut self, enabled: bool) -> Self {
        self.auto_provision = enabled;
        self
    }

    /// Role given to provisioned users the role map grants nothing (`AZURE_DEFAULT_ROLE`).
    pub fn with_default_role(mut self, role: Option<Role>) -> Self {
        self.default_role = role;
        self
    }

    /// Group / app-role mapping (`AZURE_ROLE_MAP`).
    pub fn with_role_mapper(mut self, mapper: RoleMapper) -> Self {
        self.role_mapper = mapper;
        self
    }

    /// ERP tenant for Entra ID directories bound to no tenant (single-tenant deployments).
    pub fn with_default_tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.default_tenant = tenant;
        self
    }

    async fn active_tenant(&self, tenant: Option<Tenant>) -> Result<Tenant, AuthError> {
        let tenant = match tenant {
            Some(t) => t,
            None => match self.default_tenant {
                Some(id) => self
                    .tenants
                    .by_id(id)
                    .await
                    .map_err(store_error)?
                    .ok_or(AuthError::TenantNotProvisioned)?,
                None => return Err(AuthError::TenantNotProvisioned),
            },
        };
        if tenant.is_active {
            Ok(tenant)
        } else {
            Err(AuthError::TenantDisabled)
        }
    }

    /// Resolves an Entra ID token's claims (already verified).
    pub async fn resolve_azure(&self, claims: &Claims) -> Result<Principal, AuthError> {
        let tid = claims
            .tid
            .as_deref()
            .ok_or(AuthError::InvalidClaims("no tenant id"))?;
        let oid = claims
            .oid
            .as_deref()
            .ok_or(AuthError::InvalidClaims("no object id"))?;
        let bound = self
            .tenants
            .by_azure_tenant_id(tid)
            .await
            .map_err(store_error)?;
        let tenant = self.active_tenant(bound).await?;
        let mapped = self.role_mapper.map(claims);
        if claims.has_group_overage() && !self.role_mapper.is_empty() {
            tracing::debug!(
                tenant = %tenant.id,
                "token has group overage: groups are not in the token, only app roles are mapped"
            );
        }
        let user = self
            .find_or_provision(tenant.id, oid, claims, &mapped)
            .await?;
        if !user.is_active {
            return Err(AuthError::AccountDisabled);
        }
        let mut roles = user.roles.clone();
        roles.extend(mapped);
        roles.sort();
        roles.dedup();
        Ok(Principal {
            user_id: user.id,
            tenant_id: tenant.id,
            username: user.username,
            display_name: user.display_name.or_else(|| claims.name.clone()),
            email: user.email.or(user.azure_email),
            roles,
            auth_method: AuthMethod::AzureAd,
            session_id: None,
            issued_at: claims
                .iat
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            expires_at: claims
                .exp
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        })
    }

    async fn find_or_provision(
        &self,
        tenant: TenantId,
        oid: &str,
        claims: &Claims,
        mapped: &[Role],
    ) -> Result<User, AuthError> {
        if let Some(user) = self
            .users
            .by_azure_oid(tenant, oid)
            .await
            .map_err(store_error)?
        {
            return Ok(user);
        }
        let email = claims.email_like();
        if let Some(email) = email
            && let Some(user) = self
                .users
                .by_email(tenant, email)
                .await
                .map_err(store_error)?
        {
            return match self.users.link_azure_oid(tenant, user.id, oid).await {
                Ok(linked) => {
                    tracing::info!(%tenant, user = %linked.id, "linked an Entra ID account by e-mail");
                    Ok(linked)
                }
                // The e-mail belongs to a user linked to another directory account:
                // never merge two identities on an e-mail claim.
                Err(CoreError::Conflict { .. }) => Err(AuthError::UserNotProvisioned),
                Err(e) => Err(store_error(e)),
            };
        }
        if !self.auto_provision {
            return Err(AuthError::UserNotProvisioned);
        }
        let mut roles = mapped.to_vec();
        if roles.is_empty()
            && let Some(role) = &self.default_role
        {
            roles.push(role.clone());
        }
        let mut new = NewUser::new(claims.username().unwrap_or(oid))
            .with_azure_oid(oid)
            .with_roles(roles);
        if let Some(email) = email {
            new = new.with_email(email);
        }
        if let Some(name) = claims.name.as_deref().filter(|n| !n.trim().is_empty()) {
            new = new.with_display_name(name);
        }
        match self.users.create(tenant, new).await {
            Ok(user) => {
                tracing::info!(%tenant, user = %user.id, "provisioned an Entra ID user");
                Ok(user)
            }
            // A concurrent first request of the same person won the insert.
            Err(CoreError::Conflict { .. }) => self
                .users
                .by_azure_oid(tenant, oid)
                .await
                .map_err(store_error)?
                .ok_or(AuthError::UserNotProvisioned),
            Err(CoreError::InvalidInput { .. }) => Err(AuthError::UserNotProvisioned),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Resolves a user vouched for by the IAM service: the tenant it names (else the
    /// default), then the local user linked to the IAM id (`iam:<id>`), created or
    /// refreshed on the way. Roles: the local ones plus the IAM's that are valid role names.
    pub async fn resolve_iam(&self, iam: &crate::iam::IamUser) -> Result<Principal, AuthError> {
        let tenant = match iam.tenant.as_deref() {
            Some(slug) => self.tenants.by_slug(slug).await.map_err(store_error)?,
            None => None,
        };
        let tenant = self.active_tenant(tenant).await?;
        let user = self
            .users
            .upsert_directory_user(
                tenant.id,
                erp_core::DirectoryUser {
                    username: iam.username.clone(),
                    external_user_id: format!("iam:{}", iam.id),
                    display_name: iam.name.clone(),
                    email: iam.email.clone(),
                    refreshed_at: chrono::Utc::now(),
                },
            )
            .await
            .map_err(|e| match e {
                CoreError::Conflict { .. } | CoreError::InvalidInput { .. } => {
                    AuthError::UserNotProvisioned
                }
                other => store_error(other),
            })?;
        if !user.is_active {
            return Err(AuthError::AccountDisabled);
        }
        let mut roles = user.roles.clone();
        roles.extend(iam.roles.iter().filter_map(|r| Role::new(r.as_str()).ok()));
        roles.sort();
        roles.dedup();
        Ok(Principal {
            user_id: user.id,
            tenant_id: tenant.id,
            username: user.username,
            display_name: user.display_name,
            email: user.email.or(user.azure_email),
            roles,
            auth_method: AuthMethod::IamService,
            session_id: None,
            issued_at: Some(iam.first_seen),
            expires_at: None,
        })
    }

    /// Resolves a local token's claims (already verified).
    pub async fn resolve_local(&self, claims: &Claims) -> Result<Principal, AuthError> {
        let tenant_id: TenantId = claims
            .tenant
            .as_deref()
            .and_then(|t| t.parse().ok())
            .ok_or(AuthError::InvalidClaims(
                "the tenant claim is not a tenant id",
            ))?;
        let user_id: UserId = claims
            .sub
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or(AuthError::InvalidClaims("the subject is not a user id"))?;
        let session_id = claims
            .jti
            .as_deref()
            .and_then(|j| SessionId::new(j).ok())
            .ok_or(AuthError::InvalidClaims("the token id is not a session id"))?;
        self.resolve_user(
            tenant_id,
            user_id,
            AuthMethod::LocalJwt,
            Some(session_id),
            claims
                .iat
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            claims
                .exp
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
        )
        .await
    }

    /// Resolves the user of a local session (tokens and cookies alike): the tenant must
    /// exist and be active, the user exist in it and be active. Roles come from the store.
    pub async fn resolve_user(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        auth_method: AuthMethod,
        session_id: Option<SessionId>,
        issued_at: Option<chrono::DateTime<chrono::Utc>>,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Principal, AuthError> {
        // A local credential names its tenant: a missing one is never "use the default".
        let tenant = self
            .tenants
            .by_id(tenant_id)
            .await
            .map_err(store_error)?
            .ok_or(AuthError::AccountDisabled)?;
        if !tenant.is_active {
            return Err(AuthError::TenantDisabled);
        }
        let user = self
            .users
            .by_id(tenant_id, user_id)
            .await
            .map_err(store_error)?
            .filter(|u| u.is_active)
            .ok_or(AuthError::AccountDisabled)?;
        Ok(Principal {
            user_id: user.id,
            tenant_id,
            username: user.username,
            display_name: user.display_name,
            email: user.email.or(user.azure_email),
            roles: user.roles,
            auth_method,
            session_id,
            issued_at,
            expires_at,
        })
    }
}
