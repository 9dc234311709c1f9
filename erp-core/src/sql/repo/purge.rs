//! Deleting expired rows of a tenant-owned table, one tenant at a time.

use sea_query::{DeleteStatement, Query};

use crate::{
    Result, TenantId,
    sql::{Executor, Scope, schema::Tenants},
};

/// Runs `delete(tenant)` in each tenant's scope and returns the rows removed. Tenant by
/// tenant because row-level security hides every row from an unscoped statement.
pub(super) async fn per_tenant<E: Executor>(
    exec: &E,
    delete: impl Fn(TenantId) -> DeleteStatement,
) -> Result<u64> {
    let tenants = exec
        .fetch_all(
            Scope::Global,
            &Query::select()
                .column(Tenants::Id)
                .from(Tenants::Table)
                .to_owned()
                .into(),
        )
        .await?;
    let mut purged = 0;
    for row in tenants {
        let tenant: TenantId = row.get("id")?;
        purged += exec
            .execute(Scope::Tenant(tenant), &delete(tenant).into())
            .await?;
    }
    Ok(purged)
}
