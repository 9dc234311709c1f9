//! [`RefreshTokenStore`] for [`SqlSessionStore`]: refresh-token families, rotation and
//! reuse detection, next to the sessions they belong to.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query::{Expr, ExprTrait, Query};

use super::SqlSessionStore;
use crate::{
    Error, IssuedRefreshToken, RefreshOutcome, RefreshToken, RefreshTokenStore, Result,
    RevocationEvent, SessionId, SessionStore, TenantId, UserId,
    model::within_reuse_interval,
    sql::{
        Executor, Scope,
        schema::{RefreshTokens, Sessions},
    },
    time::{now, truncate_micros},
};

impl<E: Executor> SqlSessionStore<E> {
    async fn insert_refresh(
        &self,
        tenant: TenantId,
        family_id: String,
        session: &SessionId,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedRefreshToken> {
        let token = RefreshToken::generate(tenant);
        let expires_at = truncate_micros(expires_at);
        let stmt = Query::insert()
            .into_table(RefreshTokens::Table)
            .columns([
                RefreshTokens::TenantId,
                RefreshTokens::TokenHash,
                RefreshTokens::FamilyId,
                RefreshTokens::SessionId,
                RefreshTokens::UserId,
                RefreshTokens::CreatedAt,
                RefreshTokens::ExpiresAt,
            ])
            .values([
                tenant.into(),
                token.hash().into(),
                family_id.clone().into(),
                session.as_str().into(),
                user.into(),
                now().into(),
                expires_at.into(),
            ])
            .map_err(|e| Error::invalid("refresh_token", e.to_string()))?
            .to_owned();
        self.exec
            .execute(Scope::Tenant(tenant), &stmt.into())
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::NotFound { entity: "session" },
                other => other,
            })?;
        Ok(IssuedRefreshToken {
            token,
            family_id,
            session_id: session.clone(),
            user_id: user,
            expires_at,
        })
    }
}

impl<E: Executor> SqlSessionStore<E> {
    /// Whether no token of the family was used after `used_at`: the token used then is the
    /// parent of the family's current token, not an older ancestor.
    async fn is_latest_use(
        &self,
        tenant: TenantId,
        family: &str,
        used_at: DateTime<Utc>,
    ) -> Result<bool> {
        let later = Query::select()
            .column(RefreshTokens::TokenHash)
            .from(RefreshTokens::Table)
            .and_where(Expr::col(RefreshTokens::TenantId).eq(tenant))
            .and_where(Expr::col(RefreshTokens::FamilyId).eq(family))
            .and_where(Expr::col(RefreshTokens::UsedAt).gt(used_at))
            .limit(1)
            .to_owned();
        Ok(self
            .exec
            .fetch_optional(Scope::Tenant(tenant), &later.into())
            .await?
            .is_none())
    }
}

#[async_trait]
impl<E: Executor> RefreshTokenStore for SqlSessionStore<E> {
    async fn issue_refresh(
        &self,
        tenant: TenantId,
        session: &SessionId,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedRefreshToken> {
        let family = SessionId::generate().to_string();
        self.insert_refresh(tenant, family, session, user, expires_at)
            .await
    }

    async fn rotate_refresh(
        &self,
        token: &RefreshToken,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        reuse_interval: chrono::Duration,
    ) -> Result<RefreshOutcome> {
        let tenant = token.tenant();
        let now = truncate_micros(now);
        let hash = token.hash();
        let scope = Scope::Tenant(tenant);
        // The conditional update is the arbiter: of concurrent uses, one row update wins.
        // It also requires the session to be active, in the same statement: checked in a
        // second step, a loser's reuse revocation landing between the two would sign the
        // winner out too (and no refresh of the race would succeed).
        let session_active = Query::select()
            .column((Sessions::Table, Sessions::Id))
            .from(Sessions::Table)
            .and_where(
                Expr::col((Sessions::Table, Sessions::TenantId))
                    .equals((RefreshTokens::Table, RefreshTokens::TenantId)),
            )
            .and_where(
                Expr::col((Sessions::Table, Sessions::Id))
                    .equals((RefreshTokens::Table, RefreshTokens::SessionId)),
            )
            .and_where(Expr::col((Sessions::Table, Sessions::RevokedAt)).is_null())
            .and_where(Expr::col((Sessions::Table, Sessions::ExpiresAt)).gt(now))
            .to_owned();
        let claim = Query::update()
            .table(RefreshTokens::Table)
            .value(RefreshTokens::UsedAt, now)
            .and_where(Expr::col(RefreshTokens::TenantId).eq(tenant))
            .and_where(Expr::col(RefreshTokens::TokenHash).eq(hash.clone()))
            .and_where(Expr::col(RefreshTokens::UsedAt).is_null())
            .and_where(Expr::col(RefreshTokens::RevokedAt).is_null())
            .and_where(Expr::col(RefreshTokens::ExpiresAt).gt(now))
            .and_where(Expr::exists(session_active))
            .returning(Query::returning().columns([
                RefreshTokens::FamilyId,
                RefreshTokens::SessionId,
                RefreshTokens::UserId,
            ]))
            .to_owned();
        if let Some(row) = self.exec.fetch_optional(scope, &claim.into()).await? {
            let family: String = row.get("family_id")?;
            let session = SessionId::new(row.get::<String>("session_id")?)?;
            let user: UserId = row.get("user_id")?;
            // A successor written after a racing reuse revoked the family is not marked
            // revoked, but its session is: the claim above refuses it, and so does the
            // look-up below.
            let next = self
                .insert_refresh(tenant, family, &session, user, next_expires_at)
                .await?;
            return Ok(RefreshOutcome::Rotated(next));
        }
        let lookup = Query::select()
            .columns([
                RefreshTokens::FamilyId,
                RefreshTokens::SessionId,
                RefreshTokens::UserId,
                RefreshTokens::UsedAt,
                RefreshTokens::RevokedAt,
                RefreshTokens::ExpiresAt,
            ])
            .from(RefreshTokens::Table)
            .and_where(Expr::col(RefreshTokens::TenantId).eq(tenant))
            .and_where(Expr::col(RefreshTokens::TokenHash).eq(hash))
            .to_owned();
        let Some(row) = self.exec.fetch_optional(scope, &lookup.into()).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        let used_at: Option<DateTime<Utc>> = row.get("used_at")?;
        let revoked_at: Option<DateTime<Utc>> = row.get("revoked_at")?;
        if revoked_at.is_some() {
            return Ok(RefreshOutcome::Invalid);
        }
        if used_at.is_none() {
            // Unused and not revoked, yet the claim failed: expired, or its session is
            // no longer active (a revoked or expired session ends its family).
            let session = SessionId::new(row.get::<String>("session_id")?)?;
            let active = self
                .get(tenant, &session)
                .await?
                .is_some_and(|s| s.is_active_at(now));
            return Ok(if active {
                RefreshOutcome::Expired
            } else {
                RefreshOutcome::Invalid
            });
        }
        let family: String = row.get("family_id")?;
        let session = SessionId::new(row.get::<String>("session_id")?)?;
        let user: UserId = row.get("user_id")?;
        if let Some(used_at) = used_at
            && within_reuse_interval(used_at, now, reuse_interval)
            && self.is_latest_use(tenant, &family, used_at).await?
            && self
                .get(tenant, &session)
                .await?
                .is_some_and(|s| s.is_active_at(now))
        {
            // The racing tab or the retry gets a fresh token of the same family rather
            // than the winner's successor: only hashes are stored, never a token to hand
            // back. The session check above only saves a write: a revocation landing
            // after it leaves this token with a revoked session, which the claim refuses.
            let next = self
                .insert_refresh(tenant, family, &session, user, next_expires_at)
                .await?;
            return Ok(RefreshOutcome::Reissued(next));
        }
        // Reuse of a rotated token: someone else holds the family. End it and its session.
        self.execute_revocation(
            scope,
            vec![
                Self::revoke_refresh_where(tenant, now)
                    .and_where(Expr::col(RefreshTokens::FamilyId).eq(family))
                    .to_owned()
                    .into(),
                Self::revoke_sessions_where(tenant, now)
                    .and_where(Expr::col(Sessions::Id).eq(session.as_str()))
                    .to_owned()
                    .into(),
            ],
            &RevocationEvent::Session(tenant, session.clone()),
        )
        .await?;
        Ok(RefreshOutcome::Reused {
            session_id: session,
            user_id: user,
        })
    }
}
