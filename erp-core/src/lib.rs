//! `erp-core`: the domain types, errors, repository and store traits, and the SQL
//! plumbing of the ERP auth & legacy-data toolkit.
//!
//! - [`model`](crate::Tenant) types: tenants, users, roles, the request [`Principal`],
//!   sessions and revocation watermarks.
//! - Traits: [`TenantRepository`], [`UserRepository`], [`SessionStore`]; every
//!   tenant-owned call takes the [`TenantId`] first.
//! - [`sql`]: dialect-neutral sea-query statements run by an [`sql::Executor`]
//!   (PostgreSQL, SQLite; MSSQL lives in `erp-legacy`), migrations, and the repositories
//!   written once over the executor.
//! - [`memory`]: in-memory doubles for other crates' unit tests.
//!
//! ```
//! use erp_core::{
//!     NewTenant, NewUser, Role, TenantRepository, UserRepository,
//!     sql::{Database, DatabaseConfig, SqlTenantRepository, SqlUserRepository},
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The embedded default; `postgres://…` works the same way.
//! let db = Database::connect(DatabaseConfig::from_url("sqlite::memory:")?).await?;
//! db.migrate().await?;
//!
//! let tenants = SqlTenantRepository::new(db.clone());
//! let users = SqlUserRepository::new(db);
//! let acme = tenants.create(NewTenant::new("acme", "Acme Trading")).await?;
//! let user = users
//!     .create(acme.id, NewUser::new("김민준").with_roles([Role::new("accountant")?]))
//!     .await?;
//! assert!(users.by_username(acme.id, "김민준").await?.unwrap().has_role("accountant"));
//! # let _ = user;
//! # Ok::<(), erp_core::Error>(()) }).unwrap();
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod feed;
mod id;
pub mod memory;
mod model;
mod repo;
pub mod sql;
pub mod testing;
pub mod time;

pub use error::{Backend, BoxError, Error, Result};
pub use feed::{FeedStatus, FeedTask};
pub use id::{TenantId, UserId};
pub use model::{
    AuthEvent, AuthEventKind, AuthMethod, DirectoryUser, IssuedRefreshToken, NewSession, NewTenant,
    NewUser, Principal, PrincipalKind, RefreshOutcome, RefreshToken, RevocationEvent,
    RevocationWatermarks, Role, Session, SessionId, Tenant, User, is_token_id,
};
pub use repo::{
    AuditSink, FanoutAuditSink, RateLimitStore, RefreshTokenStore, RevocationPublisher,
    SessionStore, TenantRepository, TokenRevocationStore, TracingAuditSink, UserRepository,
};
