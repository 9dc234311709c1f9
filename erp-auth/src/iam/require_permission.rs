//! An IAM permission of the request's bearer token as an [`AuthorizeRule`].

use std::{future::Future, pin::Pin, sync::Arc};

use http::Request;

use super::IamVerifier;
use crate::{
    AuthError, DEFAULT_MAX_TOKEN_BYTES,
    layer::{
        AuthorizeRule, Require, RequireLayer, Verdict,
        credential::{bearer_header, bearer_token, token_text},
    },
};

/// Asks the IAM service whether the request's bearer token has a permission (IAM mode).
/// No token: 401; not allowed: 403; IAM down: 503.
#[derive(Debug, Clone)]
pub struct PermissionRule {
    iam: IamVerifier,
    permission: Arc<str>,
    max_token_bytes: usize,
}

/// Requires an IAM permission; put it inside an [`AuthLayer`](crate::AuthLayer).
pub type RequirePermissionLayer = RequireLayer<PermissionRule>;

/// The service made by [`RequirePermissionLayer`].
pub type RequirePermission<S> = Require<S, PermissionRule>;

/// Requires `permission`, asked of `iam`. Tokens larger than
/// [`DEFAULT_MAX_TOKEN_BYTES`] are refused before anything is sent.
pub fn require_permission(iam: IamVerifier, permission: &str) -> RequirePermissionLayer {
    RequireLayer::new(PermissionRule {
        iam,
        permission: permission.into(),
        max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
    })
}

impl PermissionRule {
    /// The same limit as the authenticator's
    /// [`with_max_token_bytes`](crate::AuthenticatorBuilder::with_max_token_bytes).
    pub fn with_max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }
}

impl AuthorizeRule for PermissionRule {
    type Future = Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send>>;

    fn authorize<B>(&self, request: &Request<B>) -> Verdict<Self::Future> {
        // The same header checks as the authentication layer (one header, size bound,
        // Bearer scheme): no second parser.
        let header = match bearer_header(request.headers(), self.max_token_bytes) {
            Ok(h) => h,
            Err(e) => return Verdict::Deny(e),
        };
        let token = match bearer_token(&header).and_then(token_text) {
            Ok(t) => t.to_owned(),
            Err(e) => return Verdict::Deny(e),
        };
        let rule = self.clone();
        Verdict::Ask(Box::pin(async move {
            match rule.iam.check_permission(&token, &rule.permission).await? {
                true => Ok(()),
                false => Err(AuthError::Forbidden),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, header::AUTHORIZATION};

    use super::*;
    use crate::iam::IamConfig;

    fn rule() -> PermissionRule {
        // Nothing listens there: a rule that asked would fail with 503, not 401.
        let iam = IamVerifier::new(IamConfig::new("http://127.0.0.1:9").unwrap()).unwrap();
        require_permission(iam, "books:read")
            .rule()
            .clone()
            .with_max_token_bytes(64)
    }

    fn verdict(values: &[&str]) -> Verdict<<PermissionRule as AuthorizeRule>::Future> {
        let mut req = Request::get("/books").body(()).unwrap();
        for v in values {
            req.headers_mut()
                .append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        rule().authorize(&req)
    }

    #[test]
    fn the_header_is_checked_like_the_authentication_layer_does() {
        assert!(matches!(
            verdict(&[]),
            Verdict::Deny(AuthError::MissingCredential)
        ));
        assert!(matches!(
            verdict(&["Bearer a", "Bearer b"]),
            Verdict::Deny(AuthError::MalformedHeader)
        ));
        assert!(matches!(
            verdict(&[&format!("Bearer {}", "a".repeat(100))]),
            Verdict::Deny(AuthError::CredentialTooLarge { max: 64 })
        ));
        assert!(matches!(
            verdict(&["Basic dXNlcjpwYXNz"]),
            Verdict::Deny(AuthError::MalformedHeader)
        ));
        assert!(matches!(verdict(&["Bearer abc.def.ghi"]), Verdict::Ask(_)));
    }
}
