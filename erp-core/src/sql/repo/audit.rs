use async_trait::async_trait;
use sea_query::{Expr, ExprTrait, Order, Query};

use crate::{
    AuditSink, AuthEvent, AuthEventKind, Error, Result, SessionId, TenantId,
    sql::{Database, Executor, Scope, schema::AuditEvents},
};

/// Writes audit events to the `audit_events` table.
#[derive(Debug, Clone)]
pub struct SqlAuditSink<E = Database> {
    exec: E,
}

impl<E: Executor> SqlAuditSink<E> {
    /// Wraps an executor.
    pub fn new(exec: E) -> Self {
        Self { exec }
    }

    /// The newest `limit` events of a tenant (newest first), for admin views and tests.
    pub async fn recent(&self, tenant: TenantId, limit: u64) -> Result<Vec<AuthEvent>> {
        let stmt = Query::select()
            .columns([
                AuditEvents::At,
                AuditEvents::TenantId,
                AuditEvents::Kind,
                AuditEvents::Outcome,
                AuditEvents::Reason,
                AuditEvents::UserId,
                AuditEvents::Username,
                AuditEvents::SessionId,
                AuditEvents::Ip,
                AuditEvents::UserAgent,
                AuditEvents::Detail,
            ])
            .from(AuditEvents::Table)
            .and_where(Expr::col(AuditEvents::TenantId).eq(tenant))
            .order_by(AuditEvents::At, Order::Desc)
            .order_by(AuditEvents::Id, Order::Desc)
            .limit(limit.clamp(1, 1000))
            .to_owned();
        let rows = self
            .exec
            .fetch_all(Scope::Tenant(tenant), &stmt.into())
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.get("kind")?;
                let kind = [
                    AuthEventKind::Login,
                    AuthEventKind::Logout,
                    AuthEventKind::Refresh,
                    AuthEventKind::RefreshReuse,
                    AuthEventKind::Revocation,
                    AuthEventKind::Provisioning,
                    AuthEventKind::RoleChange,
                    AuthEventKind::PasswordUpgrade,
                    AuthEventKind::ServiceAccess,
                    AuthEventKind::LegacyWrite,
                ]
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| Error::Decode {
                    column: "kind".into(),
                    message: format!("unknown event kind {kind:?}"),
                })?;
                let session: Option<String> = r.get("session_id")?;
                Ok(AuthEvent {
                    at: r.get("at")?,
                    tenant_id: r.get("tenant_id")?,
                    kind,
                    success: r.get::<String>("outcome")? == "success",
                    reason: r.get("reason")?,
                    user_id: r.get("user_id")?,
                    username: r.get("username")?,
                    session_id: session.and_then(|s| SessionId::new(s).ok()),
                    ip: r.get("ip")?,
                    user_agent: r.get("user_agent")?,
                    detail: r.get("detail")?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl<E: Executor> AuditSink for SqlAuditSink<E> {
    async fn record(&self, e: &AuthEvent) -> Result<()> {
        let stmt = Query::insert()
            .into_table(AuditEvents::Table)
            .columns([
                AuditEvents::Id,
                AuditEvents::TenantId,
                AuditEvents::At,
                AuditEvents::Kind,
                AuditEvents::Outcome,
                AuditEvents::Reason,
                AuditEvents::UserId,
                AuditEvents::Username,
                AuditEvents::SessionId,
                AuditEvents::Ip,
                AuditEvents::UserAgent,
                AuditEvents::Detail,
            ])
            .values([
                uuid::Uuid::now_v7().into(),
                e.tenant_id.into(),
                e.at.into(),
                e.kind.as_str().into(),
                if e.success { "success" } else { "failure" }.into(),
                e.reason.clone().into(),
                e.user_id.map(|u| u.as_uuid()).into(),
                e.username.clone().into(),
                e.session_id.as_ref().map(|s| s.as_str().to_owned()).into(),
                e.ip.clone().into(),
                e.user_agent.clone().into(),
                e.detail.clone().into(),
            ])
            .map_err(|err| Error::invalid("audit_event", err.to_string()))?
            .to_owned();
        self.exec
            .execute(Scope::Tenant(e.tenant_id), &stmt.into())
            .await?;
        Ok(())
    }
}
