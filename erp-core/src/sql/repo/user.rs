use std::collections::HashMap;

use async_trait::async_trait;
use sea_query::{Cond, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};

use crate::{
    DirectoryUser, Error, NewUser, Result, Role, TenantId, User, UserId, UserRepository,
    model::{normalize_key, validate_text},
    sql::{
        Database, Executor, Row, Scope, Statement,
        schema::{Roles, UserRoles, Users},
    },
    time::now,
};

/// Most rows [`UserRepository::list`] returns in one page.
const MAX_PAGE: u64 = 1000;

const USER_COLUMNS: [Users; 13] = [
    Users::Id,
    Users::TenantId,
    Users::Username,
    Users::Email,
    Users::PasswordHash,
    Users::AzureOid,
    Users::ExternalUserId,
    Users::DisplayName,
    Users::AzureEmail,
    Users::LastTokenRefresh,
    Users::IsActive,
    Users::CreatedAt,
    Users::UpdatedAt,
];

/// [`UserRepository`] over any [`Executor`].
#[derive(Debug, Clone)]
pub struct SqlUserRepository<E = Database> {
    exec: E,
}

impl<E: Executor> SqlUserRepository<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        Self { exec }
    }

    fn select(tenant: TenantId) -> SelectStatement {
        Query::select()
            .columns(USER_COLUMNS)
            .from(Users::Table)
            .and_where(Expr::col(Users::TenantId).eq(tenant))
            .to_owned()
    }

    async fn find(&self, tenant: TenantId, condition: Expr) -> Result<Option<User>> {
        let stmt = Self::select(tenant)
            .and_where(condition)
            .limit(1)
            .to_owned();
        let Some(row) = self
            .exec
            .fetch_optional(Scope::Tenant(tenant), &stmt.into())
            .await?
        else {
            return Ok(None);
        };
        let id: UserId = row.get("id")?;
        let mut roles = self.roles_of(tenant, &[id]).await?;
        decode(&row, roles.remove(&id).unwrap_or_default()).map(Some)
    }

    async fn roles_of(
        &self,
        tenant: TenantId,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, Vec<Role>>> {
        let mut out: HashMap<UserId, Vec<Role>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let stmt = Query::select()
            .columns([UserRoles::UserId, UserRoles::Role])
            .from(UserRoles::Table)
            .and_where(Expr::col(UserRoles::TenantId).eq(tenant))
            .and_where(Expr::col(UserRoles::UserId).is_in(ids.iter().copied()))
            .order_by(UserRoles::Role, Order::Asc)
            .to_owned();
        for row in self
            .exec
            .fetch_all(Scope::Tenant(tenant), &stmt.into())
            .await?
        {
            let role: String = row.get("role")?;
            let role = Role::new(role).map_err(|e| Error::Decode {
                column: "role".into(),
                message: e.to_string(),
            })?;
            out.entry(row.get("user_id")?).or_default().push(role);
        }
        Ok(out)
    }

    async fn require(&self, tenant: TenantId, id: UserId) -> Result<User> {
        self.by_id(tenant, id)
            .await?
            .ok_or(Error::NotFound { entity: "user" })
    }

    /// Sets the directory identity `column` (Azure object id, external user id) of a user
    /// that has none or already this one; a user linked to another value is a conflict
    /// naming `what`, and the column's unique index refuses a value linked to another user.
    async fn link_identity(
        &self,
        tenant: TenantId,
        id: UserId,
        column: Users,
        value: String,
        what: &str,
    ) -> Result<User> {
        let stmt = Query::update()
            .table(Users::Table)
            .value(column, value.clone())
            .value(Users::UpdatedAt, now())
            .and_where(Expr::col(Users::TenantId).eq(tenant))
            .and_where(Expr::col(Users::Id).eq(id))
            .cond_where(
                Cond::any()
                    .add(Expr::col(column).is_null())
                    .add(Expr::col(column).eq(value)),
            )
            .to_owned();
        let changed = self
            .exec
            .execute(Scope::Tenant(tenant), &stmt.into())
            .await
            .map_err(user_write_error("user"))?;
        let user = self.require(tenant, id).await?;
        if changed == 0 {
            return Err(Error::Conflict {
                entity: "user",
                detail: format!("the user is linked to another {what}"),
                source: None,
            });
        }
        Ok(user)
    }

    /// Statements that write a complete new user row and its roles.
    fn insert_statements(user: &User) -> Result<Vec<Statement>> {
        let mut statements: Vec<Statement> = vec![
            Query::insert()
                .into_table(Users::Table)
                .columns([
                    Users::Id,
                    Users::TenantId,
                    Users::Username,
                    Users::UsernameKey,
                    Users::Email,
                    Users::EmailKey,
                    Users::PasswordHash,
                    Users::AzureOid,
                    Users::ExternalUserId,
                    Users::DisplayName,
                    Users::AzureEmail,
                    Users::LastTokenRefresh,
                    Users::IsActive,
                    Users::CreatedAt,
                    Users::UpdatedAt,
                ])
                .values([
                    user.id.into(),
                    user.tenant_id.into(),
                    user.username.clone().into(),
                    normalize_key(&user.username).into(),
                    user.email.clone().into(),
                    user.email.as_deref().map(normalize_key).into(),
                    user.password_hash.clone().into(),
                    user.azure_oid.clone().into(),
                    user.external_user_id.clone().into(),
                    user.display_name.clone().into(),
                    user.azure_email.clone().into(),
                    user.last_token_refresh.into(),
                    user.is_active.into(),
                    user.created_at.into(),
                    user.updated_at.into(),
                ])
                .map_err(|e| Error::invalid("user", e.to_string()))?
                .into(),
        ];
        statements.extend(role_statements(user.tenant_id, user.id, &user.roles)?);
        Ok(statements)
    }
}

/// Statements that attach `roles` to a user, creating missing role rows.
fn role_statements(tenant: TenantId, user: UserId, roles: &[Role]) -> Result<Vec<Statement>> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let mut ensure = Query::insert()
        .into_table(Roles::Table)
        .columns([Roles::TenantId, Roles::Name, Roles::CreatedAt])
        .on_conflict(
            OnConflict::columns([Roles::TenantId, Roles::Name])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    let mut link = Query::insert()
        .into_table(UserRoles::Table)
        .columns([UserRoles::TenantId, UserRoles::UserId, UserRoles::Role])
        .to_owned();
    for role in roles {
        ensure
            .values([tenant.into(), role.as_str().into(), at.into()])
            .map_err(|e| Error::invalid("role", e.to_string()))?;
        link.values([tenant.into(), user.into(), role.as_str().into()])
            .map_err(|e| Error::invalid("role", e.to_string()))?;
    }
    Ok(vec![ensure.into(), link.into()])
}

fn decode(row: &Row, roles: Vec<Role>) -> Result<User> {
    Ok(User {
        id: row.get("id")?,
        tenant_id: row.get("tenant_id")?,
        username: row.get("username")?,
        email: row.get("email")?,
        password_hash: row.get("password_hash")?,
        azure_oid: row.get("azure_oid")?,
        external_user_id: row.get("external_user_id")?,
        display_name: row.get("display_name")?,
        azure_email: row.get("azure_email")?,
        last_token_refresh: row.get("last_token_refresh")?,
        is_active: row.get("is_active")?,
        roles,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// Relabels driver errors of user writes: a conflict says which rule, a missing
/// referenced row is the tenant (for inserts) or the user (for role changes).
fn user_write_error(missing: &'static str) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Conflict { detail, source, .. } => Error::Conflict {
            entity: "user",
            detail: describe_conflict(&detail).into(),
            source,
        },
        Error::NotFound {
            entity: "referenced row",
        } => Error::NotFound { entity: missing },
        other => other,
    }
}

/// Names the violated rule from a constraint name (PostgreSQL) or column list (SQLite).
fn describe_conflict(detail: &str) -> &'static str {
    if detail.contains("username") {
        "the username is taken in this tenant"
    } else if detail.contains("email") {
        "the e-mail address is in use in this tenant"
    } else if detail.contains("azure_oid") {
        "the Azure object id is linked to another user"
    } else if detail.contains("external_user_id") {
        "the external user id is linked to another user"
    } else {
        "a user with these keys exists"
    }
}

#[async_trait]
impl<E: Executor> UserRepository for SqlUserRepository<E> {
    async fn by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
        self.find(tenant, Expr::col(Users::Id).eq(id)).await
    }

    async fn by_username(&self, tenant: TenantId, username: &str) -> Result<Option<User>> {
        self.find(
            tenant,
            Expr::col(Users::UsernameKey).eq(normalize_key(username)),
        )
        .await
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<User>> {
        self.find(tenant, Expr::col(Users::EmailKey).eq(normalize_key(email)))
            .await
    }

    async fn by_azure_oid(&self, tenant: TenantId, azure_oid: &str) -> Result<Option<User>> {
        self.find(tenant, Expr::col(Users::AzureOid).eq(azure_oid.trim()))
            .await
    }

    async fn by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<User>> {
        self.find(
            tenant,
            Expr::col(Users::ExternalUserId).eq(external_id.trim()),
        )
        .await
    }

    async fn list(&self, tenant: TenantId, offset: u64, limit: u64) -> Result<Vec<User>> {
        let stmt = Self::select(tenant)
            .order_by(Users::UsernameKey, Order::Asc)
            .limit(limit.clamp(1, MAX_PAGE))
            .offset(offset)
            .to_owned();
        let rows = self
            .exec
            .fetch_all(Scope::Tenant(tenant), &stmt.into())
            .await?;
        let ids = rows
            .iter()
            .map(|r| r.get("id"))
            .collect::<Result<Vec<UserId>>>()?;
        let mut roles = self.roles_of(tenant, &ids).await?;
        rows.iter()
            .zip(ids)
            .map(|(row, id)| decode(row, roles.remove(&id).unwrap_or_default()))
            .collect()
    }

    async fn create(&self, tenant: TenantId, user: NewUser) -> Result<User> {
        let new = user.validated()?;
        let at = now();
        let user = User {
            id: UserId::new(),
            tenant_id: tenant,
            username: new.username,
            email: new.email,
            password_hash: new.password_hash,
            azure_oid: new.azure_oid,
            external_user_id: new.external_user_id,
            display_name: new.display_name,
            azure_email: None,
            last_token_refresh: None,
            is_active: true,
            roles: new.roles,
            created_at: at,
            updated_at: at,
        };
        self.exec
            .execute_batch(Scope::Tenant(tenant), &Self::insert_statements(&user)?)
            .await
            .map_err(user_write_error("tenant"))?;
        Ok(user)
    }

    async fn link_azure_oid(&self, tenant: TenantId, id: UserId, azure_oid: &str) -> Result<User> {
        let oid = validate_text("azure_oid", azure_oid, 128)?;
        self.link_identity(tenant, id, Users::AzureOid, oid, "Azure object id")
            .await
    }

    async fn link_external_id(
        &self,
        tenant: TenantId,
        id: UserId,
        external_id: &str,
    ) -> Result<User> {
        let ext = validate_text("external_user_id", external_id, 128)?;
        self.link_identity(tenant, id, Users::ExternalUserId, ext, "external user id")
            .await
    }

    async fn upsert_directory_user(&self, tenant: TenantId, user: DirectoryUser) -> Result<User> {
        let du = user.validated()?;
        let refresh = |stmt: &mut sea_query::UpdateStatement| {
            stmt.table(Users::Table)
                .value(Users::AzureEmail, du.email.clone())
                .value(Users::LastTokenRefresh, du.refreshed_at)
                .value(Users::UpdatedAt, now())
                .and_where(Expr::col(Users::TenantId).eq(tenant));
            if let Some(name) = &du.display_name {
                stmt.value(Users::DisplayName, name.clone());
            }
        };
        // A concurrent first login of the same person can win the insert; the second
        // pass then finds and refreshes the row it wrote.
        for attempt in 0..2 {
            let mut by_external = Query::update();
            refresh(&mut by_external);
            by_external.and_where(Expr::col(Users::ExternalUserId).eq(du.external_user_id.clone()));
            let mut link_local = Query::update();
            refresh(&mut link_local);
            link_local
                .value(Users::ExternalUserId, du.external_user_id.clone())
                .and_where(Expr::col(Users::UsernameKey).eq(normalize_key(&du.username)))
                .and_where(Expr::col(Users::ExternalUserId).is_null());
            for stmt in [by_external, link_local] {
                let changed = self
                    .exec
                    .execute(Scope::Tenant(tenant), &stmt.into())
                    .await
                    .map_err(user_write_error("user"))?;
                if changed > 0 {
                    return self
                        .by_external_id(tenant, &du.external_user_id)
                        .await?
                        .ok_or(Error::NotFound { entity: "user" });
                }
            }
            let at = now();
            let created = User {
                id: UserId::new(),
                tenant_id: tenant,
                username: du.username.clone(),
                email: None,
                password_hash: None,
                azure_oid: None,
                external_user_id: Some(du.external_user_id.clone()),
                display_name: du.display_name.clone(),
                azure_email: du.email.clone(),
                last_token_refresh: Some(du.refreshed_at),
                is_active: true,
                roles: Vec::new(),
                created_at: at,
                updated_at: at,
            };
            match self
                .exec
                .execute_batch(Scope::Tenant(tenant), &Self::insert_statements(&created)?)
                .await
                .map_err(user_write_error("tenant"))
            {
                Ok(_) => return Ok(created),
                Err(e) if e.is_conflict() && attempt == 0 => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict {
            entity: "user",
            detail: describe_conflict("username").into(),
            source: None,
        })
    }

    async fn set_password_hash(&self, tenant: TenantId, id: UserId, hash: &str) -> Result<()> {
        let hash = validate_text("password_hash", hash, 1024)?;
        let stmt = Query::update()
            .table(Users::Table)
            .value(Users::PasswordHash, hash)
            .value(Users::UpdatedAt, now())
            .and_where(Expr::col(Users::TenantId).eq(tenant))
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned();
        match self
            .exec
            .execute(Scope::Tenant(tenant), &stmt.into())
            .await?
        {
            0 => Err(Error::NotFound { entity: "user" }),
            _ => Ok(()),
        }
    }

    async fn set_roles(&self, tenant: TenantId, id: UserId, roles: &[Role]) -> Result<()> {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let mut statements: Vec<Statement> = vec![
            // First, so its count tells whether the user exists in this tenant.
            Query::update()
                .table(Users::Table)
                .value(Users::UpdatedAt, now())
                .and_where(Expr::col(Users::TenantId).eq(tenant))
                .and_where(Expr::col(Users::Id).eq(id))
                .into(),
            Query::delete()
                .from_table(UserRoles::Table)
                .and_where(Expr::col(UserRoles::TenantId).eq(tenant))
                .and_where(Expr::col(UserRoles::UserId).eq(id))
                .into(),
        ];
        statements.extend(role_statements(tenant, id, &roles)?);
        let counts = self
            .exec
            .execute_batch(Scope::Tenant(tenant), &statements)
            .await
            .map_err(user_write_error("user"))?;
        match counts.first() {
            Some(0) | None => Err(Error::NotFound { entity: "user" }),
            Some(_) => Ok(()),
        }
    }

    async fn deactivate(&self, tenant: TenantId, id: UserId) -> Result<()> {
        let stmt = Query::update()
            .table(Users::Table)
            .value(Users::IsActive, false)
            .value(Users::UpdatedAt, now())
            .and_where(Expr::col(Users::TenantId).eq(tenant))
            .and_where(Expr::col(Users::Id).eq(id))
            .to_owned();
        match self
            .exec
            .execute(Scope::Tenant(tenant), &stmt.into())
            .await?
        {
            0 => Err(Error::NotFound { entity: "user" }),
            _ => Ok(()),
        }
    }
}
