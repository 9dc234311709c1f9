//! ERP roles of the principal as an [`AuthorizeRule`].

use std::sync::Arc;

use erp_core::Principal;
use http::Request;

use super::require::{AuthorizeRule, Require, RequireLayer, Verdict};
use crate::AuthError;

#[derive(Debug, Clone, Copy)]
enum Mode {
    All,
    Any,
}

/// Requires roles of the authenticated principal. A request without a principal is
/// 401, one without the roles 403.
#[derive(Debug, Clone)]
pub struct RoleRule {
    roles: Arc<[String]>,
    mode: Mode,
}

/// Requires ERP roles; put it inside an [`AuthLayer`](super::AuthLayer).
pub type RequireRoleLayer = RequireLayer<RoleRule>;

/// The service made by [`RequireRoleLayer`].
pub type RequireRole<S> = Require<S, RoleRule>;

/// Requires `role`.
pub fn require_role(role: impl Into<String>) -> RequireRoleLayer {
    RequireLayer::new(RoleRule {
        roles: Arc::from(vec![role.into()]),
        mode: Mode::All,
    })
}

/// Requires at least one of `roles`.
pub fn require_any_role<I, S>(roles: I) -> RequireRoleLayer
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    RequireLayer::new(RoleRule {
        roles: roles.into_iter().map(Into::into).collect(),
        mode: Mode::Any,
    })
}

impl RoleRule {
    fn allows(&self, principal: &Principal) -> bool {
        match self.mode {
            Mode::All => self.roles.iter().all(|r| principal.has_role(r)),
            Mode::Any => self.roles.iter().any(|r| principal.has_role(r)),
        }
    }
}

impl AuthorizeRule for RoleRule {
    type Future = std::future::Ready<Result<(), AuthError>>;

    fn authorize<B>(&self, request: &Request<B>) -> Verdict<Self::Future> {
        match request.extensions().get::<Principal>() {
            None => Verdict::Deny(AuthError::MissingCredential),
            Some(p) if self.allows(p) => Verdict::Allow,
            Some(_) => Verdict::Deny(AuthError::Forbidden),
        }
    }
}
