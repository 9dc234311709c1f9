//! Everything between "a person types a password" and "they hold a session": local
//! passwords (Argon2id, legacy hashes upgraded), the external username/password API,
//! rate limits, refresh and logout, with an audit trail.

mod external;
mod ratelimit;
mod service;

pub use external::{
    ExternalAuthClient, ExternalAuthConfig, ExternalError, ExternalProbe, ExternalUser,
};
pub use ratelimit::{RateLimiter, Verdict, spawn_rate_limit_purger};
pub use service::{LoginRequest, LoginResult, LoginService, LoginServiceBuilder, LoginUser};
