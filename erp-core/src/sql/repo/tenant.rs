use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};

use crate::{
    Error, NewTenant, Result, Tenant, TenantId, TenantRepository,
    sql::{Database, Executor, Row, Scope, schema::Tenants},
    time::now,
};

/// [`TenantRepository`] over any [`Executor`].
#[derive(Debug, Clone)]
pub struct SqlTenantRepository<E = Database> {
    exec: E,
}

impl<E: Executor> SqlTenantRepository<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        Self { exec }
    }

    fn select() -> SelectStatement {
        Query::select()
            .columns([
                Tenants::Id,
                Tenants::Slug,
                Tenants::Name,
                Tenants::AzureTenantId,
                Tenants::IsActive,
                Tenants::CreatedAt,
                Tenants::UpdatedAt,
            ])
            .from(Tenants::Table)
            .to_owned()
    }

    async fn find(&self, condition: Expr) -> Result<Option<Tenant>> {
        let stmt = Self::select().and_where(condition).limit(1).to_owned();
        self.exec
            .fetch_optional(Scope::Global, &stmt.into())
            .await?
            .map(|r| decode(&r))
            .transpose()
    }
}

fn decode(row: &Row) -> Result<Tenant> {
    Ok(Tenant {
        id: row.get("id")?,
        slug: row.get("slug")?,
        name: row.get("name")?,
        azure_tenant_id: row.get("azure_tenant_id")?,
        is_active: row.get("is_active")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

#[async_trait]
impl<E: Executor> TenantRepository for SqlTenantRepository<E> {
    async fn create(&self, tenant: NewTenant) -> Result<Tenant> {
        let tenant = tenant.validated()?;
        let at = now();
        let created = Tenant {
            id: TenantId::new(),
            slug: tenant.slug,
            name: tenant.name,
            azure_tenant_id: tenant.azure_tenant_id,
            is_active: true,
            created_at: at,
            updated_at: at,
        };
        let stmt = Query::insert()
            .into_table(Tenants::Table)
            .columns([
                Tenants::Id,
                Tenants::Slug,
                Tenants::Name,
                Tenants::AzureTenantId,
                Tenants::IsActive,
                Tenants::CreatedAt,
                Tenants::UpdatedAt,
            ])
            .values([
                created.id.into(),
                created.slug.clone().into(),
                created.name.clone().into(),
                created.azure_tenant_id.clone().into(),
                true.into(),
                at.into(),
                at.into(),
            ])
            .map_err(|e| Error::invalid("tenant", e.to_string()))?
            .to_owned();
        self.exec
            .execute(Scope::Global, &stmt.into())
            .await
            .map_err(|e| match e {
                Error::Conflict { source, detail, .. } => Error::Conflict {
                    entity: "tenant",
                    detail: if detail.contains("azure") {
                        "the Azure tenant id is bound to another tenant".into()
                    } else {
                        "the slug is taken".into()
                    },
                    source,
                },
                other => other,
            })?;
        Ok(created)
    }

    async fn by_id(&self, id: TenantId) -> Result<Option<Tenant>> {
        self.find(Expr::col(Tenants::Id).eq(id)).await
    }

    async fn by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        self.find(Expr::col(Tenants::Slug).eq(slug.trim().to_ascii_lowercase()))
            .await
    }

    async fn by_azure_tenant_id(&self, azure_tenant_id: &str) -> Result<Option<Tenant>> {
        // Stored normalised (lower-case hyphenated); anything else cannot match.
        let Ok(tid) = uuid::Uuid::parse_str(azure_tenant_id.trim()) else {
            return Ok(None);
        };
        self.find(Expr::col(Tenants::AzureTenantId).eq(tid.to_string()))
            .await
    }

    async fn list(&self) -> Result<Vec<Tenant>> {
        let stmt = Self::select()
            .order_by(Tenants::Slug, Order::Asc)
            .to_owned();
        self.exec
            .fetch_all(Scope::Global, &stmt.into())
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    async fn set_active(&self, id: TenantId, active: bool) -> Result<()> {
        let stmt = Query::update()
            .table(Tenants::Table)
            .value(Tenants::IsActive, active)
            .value(Tenants::UpdatedAt, now())
            .and_where(Expr::col(Tenants::Id).eq(id))
            .to_owned();
        match self.exec.execute(Scope::Global, &stmt.into()).await? {
            0 => Err(Error::NotFound { entity: "tenant" }),
            _ => Ok(()),
        }
    }
}
