//! [`SessionStore`] for [`SqlSessionStore`]: sessions and revocation watermarks, and the
//! revocation statements and notifications the refresh-token store (`refresh.rs`) shares.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};

use crate::{
    AuthMethod, Error, NewSession, Result, RevocationEvent, RevocationPublisher,
    RevocationWatermarks, Session, SessionId, SessionStore, TenantId, UserId,
    sql::{
        Database, Executor, Row, Scope, Statement,
        schema::{RefreshTokens, Sessions, TenantRevocations, UserRevocations},
    },
    time::{now, truncate_micros},
};

/// [`SessionStore`] and [`RefreshTokenStore`](crate::RefreshTokenStore) (in `refresh.rs`)
/// over any [`Executor`].
///
/// Revocations update the rows and, in the same transaction, publish a
/// [`RevocationEvent`] through the executor's notification channel (PostgreSQL
/// `pg_notify`), so other instances drop what they cached the moment it commits.
#[derive(Debug, Clone)]
pub struct SqlSessionStore<E = Database> {
    pub(super) exec: E,
    publisher: Option<Arc<dyn RevocationPublisher>>,
}

const SESSION_COLUMNS: [Sessions; 10] = [
    Sessions::TenantId,
    Sessions::Id,
    Sessions::UserId,
    Sessions::AuthMethod,
    Sessions::CreatedAt,
    Sessions::ExpiresAt,
    Sessions::LastSeenAt,
    Sessions::RevokedAt,
    Sessions::Ip,
    Sessions::UserAgent,
];

fn decode(row: &Row) -> Result<Session> {
    let method: String = row.get("auth_method")?;
    let id: String = row.get("id")?;
    Ok(Session {
        id: SessionId::new(id).map_err(|e| Error::Decode {
            column: "id".into(),
            message: e.to_string(),
        })?,
        tenant_id: row.get("tenant_id")?,
        user_id: row.get("user_id")?,
        auth_method: AuthMethod::parse(&method).ok_or_else(|| Error::Decode {
            column: "auth_method".into(),
            message: format!("unknown auth method {method:?}"),
        })?,
        created_at: row.get("created_at")?,
        expires_at: row.get("expires_at")?,
        last_seen_at: row.get("last_seen_at")?,
        revoked_at: row.get("revoked_at")?,
        ip: row.get("ip")?,
        user_agent: row.get("user_agent")?,
    })
}

impl<E: Executor> SqlSessionStore<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        Self {
            exec,
            publisher: None,
        }
    }

    /// Also publishes every committed revocation through `publisher` (the Redis bus).
    pub fn with_publisher(mut self, publisher: Arc<dyn RevocationPublisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    fn select(tenant: TenantId) -> SelectStatement {
        Query::select()
            .columns(SESSION_COLUMNS)
            .from(Sessions::Table)
            .and_where(Expr::col(Sessions::TenantId).eq(tenant))
            .to_owned()
    }

    /// Runs a revocation's statements, then notifies and publishes `event`.
    pub(super) async fn execute_revocation(
        &self,
        scope: Scope,
        statements: Vec<Statement>,
        event: &RevocationEvent,
    ) -> Result<Vec<u64>> {
        super::execute_revocation(
            &self.exec,
            self.publisher.as_ref(),
            scope,
            statements,
            event,
        )
        .await
    }

    pub(super) fn revoke_sessions_where(
        tenant: TenantId,
        at: DateTime<Utc>,
    ) -> sea_query::UpdateStatement {
        Query::update()
            .table(Sessions::Table)
            .value(Sessions::RevokedAt, at)
            .and_where(Expr::col(Sessions::TenantId).eq(tenant))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .to_owned()
    }

    pub(super) fn revoke_refresh_where(
        tenant: TenantId,
        at: DateTime<Utc>,
    ) -> sea_query::UpdateStatement {
        Query::update()
            .table(RefreshTokens::Table)
            .value(RefreshTokens::RevokedAt, at)
            .and_where(Expr::col(RefreshTokens::TenantId).eq(tenant))
            .and_where(Expr::col(RefreshTokens::RevokedAt).is_null())
            .to_owned()
    }
}

#[async_trait]
impl<E: Executor> SessionStore for SqlSessionStore<E> {
    async fn create(&self, session: NewSession) -> Result<Session> {
        let at = now();
        let created = session.open_at(at);
        let stmt = Query::insert()
            .into_table(Sessions::Table)
            .columns(SESSION_COLUMNS)
            .values([
                created.tenant_id.into(),
                created.id.as_str().into(),
                created.user_id.into(),
                created.auth_method.as_str().into(),
                created.created_at.into(),
                created.expires_at.into(),
                created.last_seen_at.into(),
                created.revoked_at.into(),
                created.ip.clone().into(),
                created.user_agent.clone().into(),
            ])
            .map_err(|e| Error::invalid("session", e.to_string()))?
            .to_owned();
        self.exec
            .execute(Scope::Tenant(created.tenant_id), &stmt.into())
            .await
            .map_err(|e| match e {
                Error::Conflict { source, .. } => Error::Conflict {
                    entity: "session",
                    detail: "the session id is in use".into(),
                    source,
                },
                Error::NotFound { .. } => Error::NotFound { entity: "user" },
                other => other,
            })?;
        Ok(created)
    }

    async fn get(&self, tenant: TenantId, id: &SessionId) -> Result<Option<Session>> {
        let stmt = Self::select(tenant)
            .and_where(Expr::col(Sessions::Id).eq(id.as_str()))
            .to_owned();
        self.exec
            .fetch_optional(Scope::Tenant(tenant), &stmt.into())
            .await?
            .map(|r| decode(&r))
            .transpose()
    }

    async fn touch(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<()> {
        let at = truncate_micros(at);
        // Update-only and never on a revoked row: a late touch cannot resurrect anything.
        let stmt = Query::update()
            .table(Sessions::Table)
            .value(Sessions::LastSeenAt, at)
            .and_where(Expr::col(Sessions::TenantId).eq(tenant))
            .and_where(Expr::col(Sessions::Id).eq(id.as_str()))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .and_where(Expr::col(Sessions::LastSeenAt).lt(at))
            .to_owned();
        self.exec
            .execute(Scope::Tenant(tenant), &stmt.into())
            .await?;
        Ok(())
    }

    async fn revoke(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<bool> {
        let at = truncate_micros(at);
        let counts = self
            .execute_revocation(
                Scope::Tenant(tenant),
                vec![
                    Self::revoke_sessions_where(tenant, at)
                        .and_where(Expr::col(Sessions::Id).eq(id.as_str()))
                        .to_owned()
                        .into(),
                    Self::revoke_refresh_where(tenant, at)
                        .and_where(Expr::col(RefreshTokens::SessionId).eq(id.as_str()))
                        .to_owned()
                        .into(),
                ],
                &RevocationEvent::Session(tenant, id.clone()),
            )
            .await?;
        Ok(counts.first().copied().unwrap_or(0) > 0)
    }

    async fn revoke_user(&self, tenant: TenantId, user: UserId, at: DateTime<Utc>) -> Result<u64> {
        let at = truncate_micros(at);
        let mark = Query::insert()
            .into_table(UserRevocations::Table)
            .columns([
                UserRevocations::TenantId,
                UserRevocations::UserId,
                UserRevocations::NotBefore,
            ])
            .values([tenant.into(), user.into(), at.into()])
            .map_err(|e| Error::invalid("watermark", e.to_string()))?
            .on_conflict(
                OnConflict::columns([UserRevocations::TenantId, UserRevocations::UserId])
                    .update_column(UserRevocations::NotBefore)
                    // Watermarks only move forward.
                    .action_and_where(
                        Expr::col((UserRevocations::Table, UserRevocations::NotBefore))
                            .lt(Expr::col(("excluded", UserRevocations::NotBefore))),
                    )
                    .to_owned(),
            )
            .to_owned();
        let counts = self
            .execute_revocation(
                Scope::Tenant(tenant),
                vec![
                    mark.into(),
                    Self::revoke_sessions_where(tenant, at)
                        .and_where(Expr::col(Sessions::UserId).eq(user))
                        .to_owned()
                        .into(),
                    Self::revoke_refresh_where(tenant, at)
                        .and_where(Expr::col(RefreshTokens::UserId).eq(user))
                        .to_owned()
                        .into(),
                ],
                &RevocationEvent::User(tenant, user),
            )
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound { entity: "user" },
                other => other,
            })?;
        Ok(counts.get(1).copied().unwrap_or(0))
    }

    async fn revoke_tenant(&self, tenant: TenantId, at: DateTime<Utc>) -> Result<u64> {
        let at = truncate_micros(at);
        let mark = Query::insert()
            .into_table(TenantRevocations::Table)
            .columns([TenantRevocations::TenantId, TenantRevocations::NotBefore])
            .values([tenant.into(), at.into()])
            .map_err(|e| Error::invalid("watermark", e.to_string()))?
            .on_conflict(
                OnConflict::column(TenantRevocations::TenantId)
                    .update_column(TenantRevocations::NotBefore)
                    .action_and_where(
                        Expr::col((TenantRevocations::Table, TenantRevocations::NotBefore))
                            .lt(Expr::col(("excluded", TenantRevocations::NotBefore))),
                    )
                    .to_owned(),
            )
            .to_owned();
        let counts = self
            .execute_revocation(
                Scope::Tenant(tenant),
                vec![
                    mark.into(),
                    Self::revoke_sessions_where(tenant, at).into(),
                    Self::revoke_refresh_where(tenant, at).into(),
                ],
                &RevocationEvent::Tenant(tenant),
            )
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound { entity: "tenant" },
                other => other,
            })?;
        Ok(counts.get(1).copied().unwrap_or(0))
    }

    async fn list_active(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let stmt = Self::select(tenant)
            .and_where(Expr::col(Sessions::UserId).eq(user))
            .and_where(Expr::col(Sessions::RevokedAt).is_null())
            .and_where(Expr::col(Sessions::ExpiresAt).gt(truncate_micros(now)))
            .order_by(Sessions::CreatedAt, Order::Desc)
            .order_by(Sessions::Id, Order::Desc)
            .limit(1000)
            .to_owned();
        self.exec
            .fetch_all(Scope::Tenant(tenant), &stmt.into())
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        super::purge::per_tenant(&self.exec, |tenant| {
            Query::delete()
                .from_table(Sessions::Table)
                .and_where(Expr::col(Sessions::TenantId).eq(tenant))
                .and_where(Expr::col(Sessions::ExpiresAt).lt(truncate_micros(now)))
                .to_owned()
        })
        .await
    }

    async fn watermarks(&self, tenant: TenantId, user: UserId) -> Result<RevocationWatermarks> {
        let user_mark = Query::select()
            .column(UserRevocations::NotBefore)
            .from(UserRevocations::Table)
            .and_where(Expr::col(UserRevocations::TenantId).eq(tenant))
            .and_where(Expr::col(UserRevocations::UserId).eq(user))
            .to_owned();
        let tenant_mark = Query::select()
            .column(TenantRevocations::NotBefore)
            .from(TenantRevocations::Table)
            .and_where(Expr::col(TenantRevocations::TenantId).eq(tenant))
            .to_owned();
        let scope = Scope::Tenant(tenant);
        let user_not_before = match self.exec.fetch_optional(scope, &user_mark.into()).await? {
            Some(row) => Some(row.get("not_before")?),
            None => None,
        };
        let tenant_not_before = match self.exec.fetch_optional(scope, &tenant_mark.into()).await? {
            Some(row) => Some(row.get("not_before")?),
            None => None,
        };
        Ok(RevocationWatermarks {
            user_not_before,
            tenant_not_before,
        })
    }
}
