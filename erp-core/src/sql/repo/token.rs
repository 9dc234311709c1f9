use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::{
    Error, Result, RevocationEvent, RevocationPublisher, TenantId, TokenRevocationStore, UserId,
    is_token_id,
    sql::{Database, Executor, Scope, schema::RevokedTokens},
    time::truncate_micros,
};

/// [`TokenRevocationStore`] over any [`Executor`]: the row and, in the same transaction,
/// the [`RevocationEvent::Token`] notification (PostgreSQL `pg_notify`).
#[derive(Debug, Clone)]
pub struct SqlTokenRevocations<E = Database> {
    exec: E,
    publisher: Option<Arc<dyn RevocationPublisher>>,
}

impl<E: Executor> SqlTokenRevocations<E> {
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
}

fn checked(token_id: &str) -> Result<&str> {
    if is_token_id(token_id) {
        Ok(token_id)
    } else {
        Err(Error::invalid(
            "token id",
            "1 to 128 characters of A-Z a-z 0-9 - _ .",
        ))
    }
}

#[async_trait]
impl<E: Executor> TokenRevocationStore for SqlTokenRevocations<E> {
    async fn revoke_token(
        &self,
        tenant: TenantId,
        token_id: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let token_id = checked(token_id)?;
        let insert = Query::insert()
            .into_table(RevokedTokens::Table)
            .columns([
                RevokedTokens::TenantId,
                RevokedTokens::TokenId,
                RevokedTokens::UserId,
                RevokedTokens::ExpiresAt,
                RevokedTokens::RevokedAt,
            ])
            .values([
                tenant.into(),
                token_id.into(),
                user.into(),
                truncate_micros(expires_at).into(),
                truncate_micros(at).into(),
            ])
            .map_err(|e| Error::invalid("revoked token", e.to_string()))?
            .on_conflict(
                OnConflict::columns([RevokedTokens::TenantId, RevokedTokens::TokenId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        let event = RevocationEvent::Token(tenant, token_id.to_owned());
        let counts = super::execute_revocation(
            &self.exec,
            self.publisher.as_ref(),
            Scope::Tenant(tenant),
            vec![insert.into()],
            &event,
        )
        .await?;
        Ok(counts.first().copied().unwrap_or(0) > 0)
    }

    async fn is_token_revoked(&self, tenant: TenantId, token_id: &str) -> Result<bool> {
        let token_id = checked(token_id)?;
        let stmt = Query::select()
            .column(RevokedTokens::TokenId)
            .from(RevokedTokens::Table)
            .and_where(Expr::col(RevokedTokens::TenantId).eq(tenant))
            .and_where(Expr::col(RevokedTokens::TokenId).eq(token_id))
            .to_owned();
        Ok(self
            .exec
            .fetch_optional(Scope::Tenant(tenant), &stmt.into())
            .await?
            .is_some())
    }

    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        super::purge::per_tenant(&self.exec, |tenant| {
            Query::delete()
                .from_table(RevokedTokens::Table)
                .and_where(Expr::col(RevokedTokens::TenantId).eq(tenant))
                .and_where(Expr::col(RevokedTokens::ExpiresAt).lt(truncate_micros(now)))
                .to_owned()
        })
        .await
    }
}
