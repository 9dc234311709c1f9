//! The tower layer: credential extraction, authentication, `Principal` into the request
//! extensions, RFC 6750 challenges with problem+json bodies on failure.

pub(crate) mod credential;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod require;
mod require_role;
mod require_scope;
mod response;
mod service;

pub use future::ResponseFuture;
pub use layer::AuthLayer;
pub use require::{AuthorizeRule, Require, RequireFuture, RequireLayer, Verdict};
pub use require_role::{RequireRole, RequireRoleLayer, RoleRule, require_any_role, require_role};
pub use require_scope::{
    RequireScope, RequireScopeLayer, ScopeRejection, ScopeRule, require_any_scope,
    require_app_role, require_scope,
};
pub use response::{AuthBody, problem, problem_response};
pub use service::AuthService;
