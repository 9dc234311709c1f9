//! Step 2: the tenant of logins that name none.

use erp_core::{NewTenant, TenantId, TenantRepository};

use super::BoxError;

/// The `default` tenant, created on first start.
pub async fn default_tenant(tenants: &dyn TenantRepository) -> Result<TenantId, BoxError> {
    if let Some(t) = tenants.by_slug("default").await? {
        return Ok(t.id);
    }
    match tenants.create(NewTenant::new("default", "Default")).await {
        Ok(t) => Ok(t.id),
        // Another instance created it first.
        Err(e) if e.is_conflict() => Ok(tenants
            .by_slug("default")
            .await?
            .ok_or("default tenant vanished")?
            .id),
        Err(e) => Err(e.into()),
    }
}
