//! PostgreSQL through `deadpool-postgres`.

mod config;
mod copy;
mod decode;
mod error;
mod executor;
mod listen;
mod lock;
mod migrate;

pub use config::PgConfig;
pub use executor::PgExecutor;
pub use listen::RevocationListener;
pub use lock::AdvisoryLock;
