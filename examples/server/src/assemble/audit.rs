//! Step 6: the audit trail: every event to the log and to `audit_events`.

use std::sync::Arc;

use erp_core::{
    FanoutAuditSink, TracingAuditSink,
    sql::{Database, SqlAuditSink},
};

/// The audit sink of the server, shared by the login service and the legacy writes.
#[derive(Clone)]
pub struct AuditTrail(pub Arc<dyn erp_core::AuditSink>);

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditTrail")
    }
}

impl AuditTrail {
    /// The log and the `audit_events` table of `db`.
    pub fn new(db: &Database) -> Self {
        Self(Arc::new(
            FanoutAuditSink::new()
                .with(Arc::new(TracingAuditSink))
                .with(Arc::new(SqlAuditSink::new(db.clone()))),
        ))
    }

    /// Records one event in every sink.
    pub async fn record(&self, event: &erp_core::AuthEvent) -> erp_core::Result<()> {
        self.0.record(event).await
    }
}
