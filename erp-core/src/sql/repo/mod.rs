//! The repositories, written once over [`Executor`](super::Executor): the same code
//! runs on PostgreSQL, SQLite and any other executor.

mod tenant;
mod user;

pub use tenant::SqlTenantRepository;
pub use user::SqlUserRepository;
