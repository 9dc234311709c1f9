use async_trait::async_trait;

use crate::{NewTenant, Result, Tenant, TenantId};

/// Tenants (organisations). Not tenant-scoped itself: it is the directory of scopes.
#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Creates a tenant; a taken slug or Azure tenant id is [`Error::Conflict`](crate::Error::Conflict).
    async fn create(&self, tenant: NewTenant) -> Result<Tenant>;
    /// Looks a tenant up by id.
    async fn by_id(&self, id: TenantId) -> Result<Option<Tenant>>;
    /// Looks a tenant up by slug (case-insensitive).
    async fn by_slug(&self, slug: &str) -> Result<Option<Tenant>>;
    /// Looks up the tenant bound to an Entra ID directory (`tid` claim).
    async fn by_azure_tenant_id(&self, azure_tenant_id: &str) -> Result<Option<Tenant>>;
    /// All tenants, ordered by slug.
    async fn list(&self) -> Result<Vec<Tenant>>;
    /// Activates or deactivates a tenant; [`Error::NotFound`](crate::Error::NotFound) if absent.
    async fn set_active(&self, id: TenantId, active: bool) -> Result<()>;
}
