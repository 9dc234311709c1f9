//! The server assembled in named steps, each in its own file, which
//! [`AppState::build`](crate::AppState::build) runs in order and the CLI reuses one by
//! one, so a command builds only what it needs (`legacy check-schema` opens the legacy
//! source alone: no Entra ID key fetch, no seeding).
//!
//! | step | file | builds |
//! |---|---|---|
//! | 1 | [`database`] | the ERP database, connected and migrated (ERP and legacy-sync tables) |
//! | 2 | [`tenant`] | the default tenant (found or created), then the dev users ([`crate::seed`]) |
//! | 3 | [`revocation`] | the session guard, the revocation feed (PostgreSQL `LISTEN`), the purgers |
//! | 4 | [`rate_limits`] | the login budgets' store: Redis, else the database |
//! | 5 | [`keys`] | the local JWT keys and the session cookies |
//! | 6 | [`audit`] | the audit trail (the log and `audit_events`) |
//! | 7 | [`authenticator`] | the request verifier: user resolver, Entra ID, local JWT, IAM |
//! | 8 | [`login`] | the login service: local password, external auth API, refresh, logout |
//! | 9 | [`legacy`] | the legacy database (checked) and its sync runner |

pub mod audit;
pub mod authenticator;
pub mod database;
pub mod keys;
pub mod legacy;
pub mod login;
pub mod rate_limits;
pub mod revocation;
pub mod tenant;

/// The error of a step: start-up stops with its message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
