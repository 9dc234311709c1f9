//! Sessions on the request path: revocation checks served from an in-process cache,
//! invalidated across instances by PostgreSQL `NOTIFY`, and signed session cookies with
//! CSRF protection for browser apps.

mod cookie;
mod lookup_map;
mod revocation;
mod revocation_cache;
mod revocation_config;
mod token_guard;

pub(crate) use cookie::is_unsafe;
pub use cookie::{CookieConfig, IssuedCookies, SessionCookies};
pub(crate) use revocation::spawn_follower;
pub use revocation::{SessionGuard, SessionGuardStats, spawn_purger};
pub use revocation_config::SessionGuardConfig;
pub use token_guard::{TokenRevocationGuard, spawn_token_purger};
