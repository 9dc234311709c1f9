use async_trait::async_trait;

use crate::{DirectoryUser, NewUser, Result, Role, TenantId, User, UserId};

/// Users of one tenant. Lookups return `Ok(None)` when absent; writes to an absent user
/// return [`Error::NotFound`](crate::Error::NotFound).
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Looks a user up by id.
    async fn by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>>;
    /// Looks a user up by username, ignoring case.
    async fn by_username(&self, tenant: TenantId, username: &str) -> Result<Option<User>>;
    /// Looks a user up by e-mail, ignoring case.
    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<User>>;
    /// Looks a user up by Entra ID object id (`oid`).
    async fn by_azure_oid(&self, tenant: TenantId, azure_oid: &str) -> Result<Option<User>>;
    /// Looks a user up by the external auth API's id.
    async fn by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<User>>;
    /// Lists users ordered by username key, `limit` at most 1000.
    async fn list(&self, tenant: TenantId, offset: u64, limit: u64) -> Result<Vec<User>>;

    /// Creates a user. A username or e-mail taken in this tenant (ignoring case), or an
    /// `azure_oid` / `external_user_id` already linked, is [`Error::Conflict`](crate::Error::Conflict).
    async fn create(&self, tenant: TenantId, user: NewUser) -> Result<User>;
    /// Links an Entra ID object id to an existing user (first Azure sign-in of a user
    /// found by e-mail). Linking a user already linked to another oid is a conflict;
    /// linking the same oid again is a no-op.
    async fn link_azure_oid(&self, tenant: TenantId, id: UserId, azure_oid: &str) -> Result<User>;
    /// Links the external auth API's id (`userInfo.id`) to an existing user, so that the
    /// next external login of that id resolves to this user (the operator's
    /// `erp-server user link-external`). An id linked to another user of the tenant, or a
    /// user already linked to another id, is a conflict; linking the same id again is a
    /// no-op.
    async fn link_external_id(
        &self,
        tenant: TenantId,
        id: UserId,
        external_id: &str,
    ) -> Result<User>;
    /// Creates or refreshes a user reported by the external directory; see [`DirectoryUser`].
    async fn upsert_directory_user(&self, tenant: TenantId, user: DirectoryUser) -> Result<User>;
    /// Replaces the password hash (a PHC string; never a password).
    async fn set_password_hash(&self, tenant: TenantId, id: UserId, hash: &str) -> Result<()>;
    /// Replaces the user's roles with exactly `roles`, atomically.
    async fn set_roles(&self, tenant: TenantId, id: UserId, roles: &[Role]) -> Result<()>;
    /// Deactivates a user: they can no longer sign in or use existing credentials.
    async fn deactivate(&self, tenant: TenantId, id: UserId) -> Result<()>;
}
