use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::{
    Error, RateLimitStore, Result,
    sql::{Database, Executor, Scope, schema::LoginRateLimits},
    time::truncate_micros,
};

/// [`RateLimitStore`] in the `login_rate_limits` table, over any [`Executor`]: every
/// instance on the database shares the counters.
///
/// A hit is one `INSERT .. ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`,
/// atomic on PostgreSQL and SQLite alike.
#[derive(Debug, Clone)]
pub struct SqlRateLimitStore<E = Database> {
    exec: E,
}

impl<E: Executor> SqlRateLimitStore<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        Self { exec }
    }
}

fn count_of(row: &crate::sql::Row) -> Result<u64> {
    let count: i64 = row.get("count")?;
    u64::try_from(count).map_err(|_| Error::Decode {
        column: "count".into(),
        message: format!("negative attempt count {count}"),
    })
}

#[async_trait]
impl<E: Executor> RateLimitStore for SqlRateLimitStore<E> {
    async fn hit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64> {
        let stmt = Query::insert()
            .into_table(LoginRateLimits::Table)
            .columns([
                LoginRateLimits::Key,
                LoginRateLimits::WindowStart,
                LoginRateLimits::Count,
                LoginRateLimits::ExpiresAt,
            ])
            .values([
                key.into(),
                window_start.timestamp_millis().into(),
                1i64.into(),
                truncate_micros(expires_at).into(),
            ])
            .map_err(|e| Error::invalid("rate_limit", e.to_string()))?
            .on_conflict(
                OnConflict::columns([LoginRateLimits::Key, LoginRateLimits::WindowStart])
                    .value(
                        LoginRateLimits::Count,
                        Expr::col((LoginRateLimits::Table, LoginRateLimits::Count)).add(1i64),
                    )
                    .to_owned(),
            )
            .returning(Query::returning().column(LoginRateLimits::Count))
            .to_owned();
        let row = self
            .exec
            .fetch_optional(Scope::Global, &stmt.into())
            .await?
            .ok_or_else(|| Error::Decode {
                column: "count".into(),
                message: "the upsert returned no row".into(),
            })?;
        count_of(&row)
    }

    async fn count(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64> {
        let stmt = Query::select()
            .column(LoginRateLimits::Count)
            .from(LoginRateLimits::Table)
            .and_where(Expr::col(LoginRateLimits::Key).eq(key))
            .and_where(Expr::col(LoginRateLimits::WindowStart).eq(window_start.timestamp_millis()))
            .to_owned();
        match self
            .exec
            .fetch_optional(Scope::Global, &stmt.into())
            .await?
        {
            Some(row) => count_of(&row),
            None => Ok(0),
        }
    }

    async fn reset(&self, key: &str) -> Result<()> {
        let stmt = Query::delete()
            .from_table(LoginRateLimits::Table)
            .and_where(Expr::col(LoginRateLimits::Key).eq(key))
            .to_owned();
        self.exec.execute(Scope::Global, &stmt.into()).await?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let stmt = Query::delete()
            .from_table(LoginRateLimits::Table)
            .and_where(Expr::col(LoginRateLimits::ExpiresAt).lt(truncate_micros(now)))
            .to_owned();
        self.exec.execute(Scope::Global, &stmt.into()).await
    }
}
