//! Repository and store traits: what the auth layer and the server need from storage.
//!
//! Every method that touches tenant-owned data takes the [`TenantId`](crate::TenantId)
//! first: there is no way to ask for "a user by id" without saying in which tenant, so a
//! forgotten filter cannot leak another tenant's rows.

mod audit;
mod publisher;
mod ratelimit;
mod refresh;
mod session;
mod tenant;
mod token;
mod user;

pub use audit::{AuditSink, FanoutAuditSink, TracingAuditSink};
pub use publisher::RevocationPublisher;
pub use ratelimit::RateLimitStore;
pub use refresh::RefreshTokenStore;
pub use session::SessionStore;
pub use tenant::TenantRepository;
pub use token::TokenRevocationStore;
pub use user::UserRepository;
