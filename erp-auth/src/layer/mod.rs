//! The tower layer: credential extraction, authentication, `Principal` into the request
//! extensions, RFC 6750 challenges with problem+json bodies on failure.

mod credential;
mod future;
mod guard;
#[allow(clippy::module_inception)]
mod layer;
mod response;
mod scope;
mod service;

pub use future::ResponseFuture;
pub use guard::{RequireRole, RequireRoleLayer, require_any_role, require_role};
pub use layer::AuthLayer;
pub use response::{AuthBody, problem, problem_response};
pub use scope::{
    GuardFuture, RequireScope, RequireScopeLayer, ScopeRejection, require_any_scope,
    require_app_role, require_scope,
};
pub use service::AuthService;
