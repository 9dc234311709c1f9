//! The repositories, written once over [`Executor`](super::Executor): the same code
//! runs on PostgreSQL, SQLite and any other executor.

mod audit;
mod purge;
mod ratelimit;
mod refresh;
mod session;
mod tenant;
mod token;
mod user;

pub use audit::SqlAuditSink;
pub use ratelimit::SqlRateLimitStore;
pub use session::SqlSessionStore;
pub use tenant::SqlTenantRepository;
pub use token::SqlTokenRevocations;
pub use user::SqlUserRepository;

use std::sync::Arc;

use crate::{Result, RevocationEvent, RevocationPublisher};

use super::{Executor, Scope, Statement};

/// Runs a revocation's statements and its notification (where the backend has one) in
/// one transaction, then hands the committed event to `publisher`, if any.
async fn execute_revocation<E: Executor>(
    exec: &E,
    publisher: Option<&Arc<dyn RevocationPublisher>>,
    scope: Scope,
    mut statements: Vec<Statement>,
    event: &RevocationEvent,
) -> Result<Vec<u64>> {
    statements.extend(exec.notification(&event.to_payload()));
    let counts = exec.execute_batch(scope, &statements).await?;
    if let Some(publisher) = publisher {
        publisher.publish(event).await;
    }
    Ok(counts)
}
