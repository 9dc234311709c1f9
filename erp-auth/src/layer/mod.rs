//! The tower layer: credential extraction, authentication, `Principal` into the request
//! extensions, RFC 6750 challenges with problem+json bodies on failure.

mod credential;
mod future;
mod guard;
#[allow(clippy::module_inception)]
mod layer;
mod response;
mod service;

pub use future::ResponseFuture;
pub use guard::{RequireRole, RequireRoleLayer, require_any_role, require_role};
pub use layer::AuthLayer;
pub use response::{AuthBody, problem_response};
pub use service::AuthService;
