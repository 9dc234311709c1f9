use tower::Layer;

use super::AuthService;
use crate::Authenticator;

/// Authenticates every request with an [`Authenticator`].
///
/// On success the [`Principal`](erp_core::Principal) is in the request extensions; on
/// failure the inner service is not called and the client gets a 401/403/503
/// problem+json answer with a `WWW-Authenticate: Bearer` challenge.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    authenticator: Authenticator,
}

impl AuthLayer {
    /// A layer using `authenticator`.
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.authenticator.clone())
    }
}
