use async_trait::async_trait;

use crate::{AuthEvent, Result};

/// Where audit events go. Implementations must not block the caller for long: the login
/// path awaits `record`.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records one event.
    async fn record(&self, event: &AuthEvent) -> Result<()>;
}

/// Writes events as structured `tracing` records at INFO (target `erp::audit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAuditSink;

#[async_trait]
impl AuditSink for TracingAuditSink {
    async fn record(&self, e: &AuthEvent) -> Result<()> {
        tracing::info!(
            target: "erp::audit",
            tenant = %e.tenant_id,
            kind = %e.kind,
            success = e.success,
            reason = e.reason.as_deref(),
            user = e.user_id.map(|u| u.to_string()),
            username = e.username.as_deref(),
            session = e.session_id.as_ref().map(|s| s.as_str()),
            ip = e.ip.as_deref(),
            detail = e.detail.as_deref(),
            "auth event"
        );
        Ok(())
    }
}

/// Sends every event to several sinks; the first error is returned after all ran.
#[derive(Clone, Default)]
pub struct FanoutAuditSink {
    sinks: Vec<std::sync::Arc<dyn AuditSink>>,
}

impl std::fmt::Debug for FanoutAuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanoutAuditSink")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl FanoutAuditSink {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn with(mut self, sink: std::sync::Arc<dyn AuditSink>) -> Self {
        self.sinks.push(sink);
        self
    }
}

#[async_trait]
impl AuditSink for FanoutAuditSink {
    async fn record(&self, event: &AuthEvent) -> Result<()> {
        let mut first_error = None;
        for sink in &self.sinks {
            if let Err(e) = sink.record(event).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
