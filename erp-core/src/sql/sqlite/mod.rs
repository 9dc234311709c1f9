//! Embedded SQLite through `rusqlite`: the zero-setup default for development.
//!
//! Calls run on tokio's blocking pool with a pooled connection each, so a slow disk
//! never stalls the async workers.

mod bind;
mod config;
mod error;
mod executor;
mod manager;
mod migrate;

pub use config::SqliteConfig;
pub use executor::SqliteExecutor;
