use std::sync::Arc;

use std::collections::HashMap;

use erp_core::{
    AuthMethod, Error as CoreError, NewUser, Principal, PrincipalKind, Role, SessionId, Tenant,
    TenantId, TenantRepository, User, UserId, UserRepository,
};

use super::RoleMapper;
use crate::{AuthError, jwt::Claims};

/// Resolves verified claims to the local user.
///
/// Entra ID tokens: the ERP tenant bound to the token's `tid` (or the default tenant),
/// then
/// - app-only tokens (client credentials): a [`PrincipalKind::Service`] principal, never
///   a user row, never linked by e-mail, roles only from its app roles;
/// - delegated tokens: the user by `oid`, else by an e-mail *verified for that
///   directory* (linking the `oid` on first sign-in, see
///   [`with_verified_domains`](Self::with_verified_domains)), else a new user when
///   auto-provisioning is on, else `USER_NOT_PROVISIONED`.
///
/// Roles are the user's locally granted roles plus the roles the role map grants for
/// the groups and app roles of *this* token (or the default role when it grants none):
/// directory roles are never stored, so a role removed in Entra ID is gone with the next
/// token. Local tokens: the user by `sub` in the token's tenant. Inactive tenants and
/// users are refused.
#[derive(Clone)]
pub struct UserResolver {
    users: Arc<dyn UserRepository>,
    tenants: Arc<dyn TenantRepository>,
    auto_provision: bool,
    default_role: Option<Role>,
    role_mapper: RoleMapper,
    default_tenant: Option<TenantId>,
    default_directory: Option<String>,
    /// Directory id -> domains its administrators verified (lower case).
    verified_domains: HashMap<String, Vec<String>>,
    graph: Option<crate::azure::GraphGroups>,
}

impl std::fmt::Debug for UserResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserResolver")
            .field("auto_provision", &self.auto_provision)
            .field("default_role", &self.default_role)
            .field("role_mapper", &self.role_mapper)
            .field("default_tenant", &self.default_tenant)
            .field("default_directory", &self.default_directory)
            .field("verified_domains", &self.verified_domains)
            .finish_non_exhaustive()
    }
}

/// Resolving the principal of a request never answers 404 or 409 for the caller's
/// request: a store that is down is 503, anything else it says is a bug (500).
fn store_error(e: CoreError) -> AuthError {
    match e {
        CoreError::Unavailable { .. } => AuthError::StoreUnavailable(e),
        other => AuthError::Store(other),
    }
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
            default_directory: None,
            verified_domains: HashMap::new(),
            graph: None,
        }
    }

    /// Reads the groups of tokens with a group overage from Microsoft Graph
    /// (`AZURE_CLIENT_SECRET`). Without it such users get only their app roles' ERP roles.
    pub fn with_group_overage(mut self, graph: Option<crate::azure::GraphGroups>) -> Self {
        self.graph = graph;
        self
    }

    /// The one directory whose users belong to the default tenant (the reference server:
    /// `AZURE_TENANT_ID` when it is a directory id). Tokens of any other directory must
    /// be bound to an ERP tenant of their own (`tenant create --azure-tenant-id`), else
    /// 403 `TENANT_NOT_PROVISIONED`: every ERP tenant then holds one directory's users,
    /// so users are keyed by (directory, object id).
    ///
    /// Without it (the default, for compatibility) the default tenant takes every
    /// unbound allowed directory: users there are keyed by object id alone (Entra ID
    /// assigns them as GUIDs), and e-mail linking never happens there, since it happens
    /// only in an ERP tenant that belongs to the token's directory.
    pub fn with_default_directory(mut self, directory: Option<String>) -> Self {
        self.default_directory = directory.map(|d| d.trim().to_ascii_lowercase());
        self
    }

    /// Declares `domains` verified by the administrators of `directory`
    /// (`AZURE_VERIFIED_DOMAINS`): a token of that directory whose e-mail (or sign-in
    /// name) is in one of them may link an existing local user with that e-mail, in an
    /// ERP tenant that belongs to the directory. Without such a declaration, only an
    /// `email` the directory marks as verified (`xms_edov`) links.
    pub fn with_verified_domains<I, S>(mut self, directory: &str, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let entry = self
            .verified_domains
            .entry(directory.trim().to_ascii_lowercase())
            .or_default();
        for d in domains {
            let d = d.into().trim().trim_start_matches('@').to_ascii_lowercase();
            if !d.is_empty() && !entry.contains(&d) {
                entry.push(d);
            }
        }
        self
    }

    /// Creates unknown directory users on first sign-in (`AZURE_AUTO_PROVISION`).
    pub fn with_auto_provision(mut self, enabled: bool) -> Self {
        self.auto_provision = enabled;
        self
    }

    /// Role of directory users who hold no role: none granted locally and none the role
    /// map grants for their token (`AZURE_DEFAULT_ROLE`). Computed per token, never
    /// stored; services never get it.
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
            .ok_or(AuthError::InvalidClaims("no tenant id"))?
            .to_ascii_lowercase();
        let oid = claims
            .oid
            .as_deref()
            .ok_or(AuthError::InvalidClaims("no object id"))?;
        let bound = self
            .tenants
            .by_azure_tenant_id(&tid)
            .await
            .map_err(store_error)?;
        if bound.is_none()
            && self
                .default_directory
                .as_deref()
                .is_some_and(|home| home != tid)
        {
            // The default tenant belongs to one directory: any other must be bound to an
            // ERP tenant of its own, so (ERP tenant, oid) always means (directory, oid).
            return Err(AuthError::TenantNotProvisioned);
        }
        let tenant = self.active_tenant(bound).await?;
        if claims.is_app_only() {
            return Ok(self.service_principal(&tenant, &tid, oid, claims));
        }
        let groups = self.groups(&tid, oid, claims).await;
        let directory_roles = self.directory_roles(&tenant, claims, &groups);
        let user = self.find_or_provision(&tenant, &tid, oid, claims).await?;
        if !user.is_active {
            return Err(AuthError::AccountDisabled);
        }
        // Local grants (stored) plus what this token's groups and app roles grant now;
        // the default role only for someone neither grants anything.
        let mut roles = user.roles.clone();
        roles.extend(directory_roles);
        if roles.is_empty() {
            roles.extend(self.default_role.iter().cloned());
        }
        roles.sort();
        roles.dedup();
        Ok(Principal {
            user_id: user.id,
            kind: PrincipalKind::User,
            tenant_id: tenant.id,
            username: user.username,
            display_name: user.display_name.or_else(|| claims.name.clone()),
            email: user.email.or(user.azure_email),
            roles,
            auth_method: AuthMethod::AzureAd,
            session_id: None,
            issued_at: instant(claims.iat),
            expires_at: instant(claims.exp),
        })
    }

    /// The token's groups, or after a group overage Graph's. Graph failing is never an
    /// error for a valid user: the group-mapped roles are not granted, the log says why
    /// and `erp_auth_graph_lookups_total{result="error"}` counts it.
    async fn groups<'c>(
        &self,
        tid: &str,
        oid: &str,
        claims: &'c Claims,
    ) -> std::borrow::Cow<'c, [String]> {
        use std::borrow::Cow;
        match &self.graph {
            Some(graph) if claims.has_group_overage() && !self.role_mapper.is_empty() => {
                match graph.groups(tid, oid).await {
                    Ok(groups) => Cow::Owned(groups.to_vec()),
                    Err(e) => {
                        tracing::warn!(
                            directory = tid,
                            user = oid,
                            error = %e,
                            "group overage: groups not read from Microsoft Graph, group-mapped roles not granted"
                        );
                        Cow::Borrowed(&[])
                    }
                }
            }
            _ => Cow::Borrowed(&claims.groups),
        }
    }

    /// The roles a delegated token's app roles and `groups` grant.
    fn directory_roles(&self, tenant: &Tenant, claims: &Claims, groups: &[String]) -> Vec<Role> {
        let mapped = self.role_mapper.map_sources(&claims.roles, groups);
        if claims.has_group_overage() && self.graph.is_none() && !self.role_mapper.is_empty() {
            tracing::debug!(
                tenant = %tenant.id,
                "token has group overage and no Graph client: only app roles are mapped"
            );
        }
        mapped
    }

    /// An application acting as itself: no user row, no e-mail, roles from its app
    /// roles only (groups are never in app-only tokens, the default role is for people).
    fn service_principal(
        &self,
        tenant: &Tenant,
        tid: &str,
        oid: &str,
        claims: &Claims,
    ) -> Principal {
        let app = claims.client_app_id().unwrap_or(oid);
        Principal {
            user_id: service_user_id(tid, oid),
            kind: PrincipalKind::Service,
            tenant_id: tenant.id,
            username: format!("app:{app}"),
            display_name: claims.app_displayname.clone(),
            email: None,
            roles: self.role_mapper.map_sources(&claims.roles, &[]),
            auth_method: AuthMethod::AzureAd,
            session_id: None,
            issued_at: instant(claims.iat),
            expires_at: instant(claims.exp),
        }
    }

    /// True if the ERP tenant belongs to directory `tid` alone.
    fn tenant_of_directory(&self, tenant: &Tenant, tid: &str) -> bool {
        match tenant.azure_tenant_id.as_deref() {
            Some(bound) => bound.eq_ignore_ascii_case(tid),
            None => {
                Some(tenant.id) == self.default_tenant
                    && self.default_directory.as_deref() == Some(tid)
            }
        }
    }

    /// The token's e-mail when it is verified for its directory, in an ERP tenant of
    /// that directory: the `email` claim with `xms_edov`, or a sign-in name in a domain
    /// configured as verified for the directory. `None`: the address proves nothing
    /// (Entra ID does not promise `email` is verified or unique across directories;
    /// linking on it is the "nOAuth" account takeover).
    fn verified_email<'c>(
        &self,
        tenant: &Tenant,
        tid: &str,
        claims: &'c Claims,
    ) -> Option<&'c str> {
        if claims.is_app_only() || !self.tenant_of_directory(tenant, tid) {
            return None;
        }
        if claims.email_domain_verified()
            && let Some(email) = claims.email.as_deref().filter(|e| e.contains('@'))
        {
            return Some(email);
        }
        let domains = self.verified_domains.get(tid)?;
        [
            &claims.email,
            &claims.preferred_username,
            &claims.upn,
            &claims.unique_name,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|v| {
            v.rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
        })
    }

    async fn find_or_provision(
        &self,
        tenant: &Tenant,
        tid: &str,
        oid: &str,
        claims: &Claims,
    ) -> Result<User, AuthError> {
        let tenant_id = tenant.id;
        if let Some(user) = self
            .users
            .by_azure_oid(tenant_id, oid)
            .await
            .map_err(store_error)?
        {
            return Ok(user);
        }
        let verified = self.verified_email(tenant, tid, claims);
        if let Some(email) = verified
            && let Some(user) = self
                .users
                .by_email(tenant_id, email)
                .await
                .map_err(store_error)?
        {
            return match self.users.link_azure_oid(tenant_id, user.id, oid).await {
                Ok(linked) => {
                    tracing::info!(tenant = %tenant_id, user = %linked.id, "linked an Entra ID account by a verified e-mail");
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
        // No roles are stored: directory roles are computed from each token.
        let mut new = NewUser::new(claims.username().unwrap_or(oid)).with_azure_oid(oid);
        // Only a verified address becomes the user's e-mail: an unverified one would let
        // a directory claim an address (and later links) that is not its own.
        if let Some(email) = verified {
            new = new.with_email(email);
        }
        if let Some(name) = claims.name.as_deref().filter(|n| !n.trim().is_empty()) {
            new = new.with_display_name(name);
        }
        match self.users.create(tenant_id, new).await {
            Ok(user) => {
                tracing::info!(tenant = %tenant_id, user = %user.id, "provisioned an Entra ID user");
                Ok(user)
            }
            // A concurrent first request of the same person won the insert, or the
            // username / e-mail is another account's: that is a 403, never a merge.
            Err(CoreError::Conflict { .. }) => self
                .users
                .by_azure_oid(tenant_id, oid)
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
            kind: PrincipalKind::User,
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
            kind: PrincipalKind::User,
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

/// The id of a service principal's [`Principal`]: derived from (directory, object id),
/// stable across requests and instances (so user revocation watermarks apply to it),
/// and a UUID version 8 so it never collides with a stored user's v7 id.
pub(crate) fn service_user_id(tid: &str, oid: &str) -> UserId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("erp-service:{tid}:{}", oid.to_ascii_lowercase()));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    UserId::from(uuid::Uuid::from_bytes(bytes))
}

/// A JWT NumericDate (seconds) as an instant; out of range is no instant.
fn instant(seconds: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    seconds.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ids_are_stable_per_directory_and_object() {
        let a = service_user_id("t1", "o1");
        assert_eq!(a, service_user_id("t1", "O1"));
        assert_ne!(a, service_user_id("t2", "o1"));
        assert_ne!(a, service_user_id("t1", "o2"));
        assert_eq!(a.as_uuid().get_version_num(), 8);
    }
}
