//! Everything between "a person types a password" and "they hold a session": local
//! passwords (Argon2id, legacy hashes upgraded), the external username/password API,
//! rate limits, refresh and logout, with an audit trail.

mod builder;
mod external;
mod ratelimit;
mod service;
mod types;

pub use builder::LoginServiceBuilder;
pub use external::{
    ExternalAuthClient, ExternalAuthConfig, ExternalError, ExternalProbe, ExternalUser,
};
pub use ratelimit::{RateLimiter, Verdict, spawn_rate_limit_purger};
pub use service::LoginService;
pub use types::{LoginRequest, LoginResult, LoginUser};
