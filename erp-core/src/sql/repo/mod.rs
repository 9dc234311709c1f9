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
