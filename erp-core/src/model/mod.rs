//! Domain types that cross crate and HTTP boundaries.

mod audit;
mod principal;
mod refresh;
mod role;
mod session;
mod tenant;
mod user;
mod validate;

pub use audit::{AuthEvent, AuthEventKind};
pub use principal::{AuthMethod, Principal, PrincipalKind};
pub(crate) use refresh::within_reuse_interval;
pub use refresh::{IssuedRefreshToken, RefreshOutcome, RefreshToken, RevocationEvent, is_token_id};
pub use role::Role;
pub use session::{NewSession, RevocationWatermarks, Session, SessionId};
pub use tenant::{NewTenant, Tenant};
pub use user::{DirectoryUser, NewUser, User};
pub(crate) use validate::{normalize_key, validate_email, validate_text, validate_username};
