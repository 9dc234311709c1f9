//! The one error type of `erp-auth`, and how each variant answers over HTTP.
//!
//! Every variant maps to a status (401 or 403 for credentials, 503 when something it
//! needs is down, 400/404/409 for what a store refused, and 500 only for a store error
//! that is a bug: fail closed, and never blame the server for bad input), a stable
//! machine `code` from the API contract, and a fixed description. Descriptions are static
//! text: nothing from the request (token bytes, header values) or from a store's message
//! is echoed into a response header or body.

use http::StatusCode;

/// Everything that can stop a request from being authenticated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header (or session cookie) was sent.
    #[error("no credential was presented")]
    MissingCredential,
    /// The `Authorization` header is not `Bearer <token>`.
    #[error("the Authorization header is not a Bearer credential")]
    MalformedHeader,
    /// The credential is larger than the configured limit and was not parsed.
    #[error("the credential is larger than {max} bytes")]
    CredentialTooLarge {
        /// The limit.
        max: usize,
    },
    /// The token is not a well-formed compact JWS.
    #[error("malformed token: {0}")]
    MalformedToken(&'static str),
    /// The `alg` is not the one the token's issuer signs with (`none`, HS256 for Azure, ...).
    #[error("the token's algorithm is not accepted for its issuer")]
    AlgorithmNotAllowed,
    /// The token comes from no issuer this service trusts.
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    /// The signing key (`kid`) is not among the issuer's current keys.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not match.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// The identity service (IAM mode) rejected the token.
    #[error("the identity service rejected the token")]
    TokenRejected,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A claim is missing or has the wrong value (audience, issuer, token type, ...).
    #[error("the token's claims are not acceptable: {0}")]
    InvalidClaims(&'static str),
    /// The token's directory tenant (`tid`) is not allowed (`AZURE_ALLOWED_TENANTS`): the
    /// token is not valid for this API at all, so 401 `invalid_token`, not 403.
    #[error("the token's directory tenant is not allowed")]
    TenantNotAllowed,
    /// The tenant the token belongs to has no ERP tenant.
    #[error("the tenant is not provisioned")]
    TenantNotProvisioned,
    /// The session was revoked or expired, or a revocation watermark covers the token.
    #[error("the session has been revoked")]
    SessionRevoked,
    /// A cookie-authenticated unsafe request lacks a valid CSRF token.
    #[error("missing or invalid CSRF token")]
    CsrfRejected,
    /// The ERP tenant is deactivated.
    #[error("the tenant is disabled")]
    TenantDisabled,
    /// The directory user has no ERP account and auto-provisioning is off.
    #[error("the user is not provisioned")]
    UserNotProvisioned,
    /// The user no longer exists or is deactivated.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The principal lacks the role a route requires.
    #[error("the principal lacks a required role")]
    Forbidden,
    /// The token lacks a delegated scope or app role the route (or `AZURE_REQUIRED_SCOPES`)
    /// requires: 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope=".."`.
    /// `scope` comes from configuration (checked when the guard is built), never from
    /// the request.
    #[error("the token lacks a required scope or app role: {scope}")]
    InsufficientScope {
        /// The space-separated scopes (or app roles) any of which would do.
        scope: std::sync::Arc<str>,
    },
    /// The identity provider's keys cannot be obtained (IdP down beyond the stale bound).
    #[error("the identity provider's signing keys are unavailable")]
    KeysUnavailable,
    /// A store the layer needs (users, tenants, sessions) cannot answer.
    #[error("the user store is unavailable")]
    StoreUnavailable(#[source] erp_core::Error),
    /// A store refused a write that collides with an existing record: 409.
    #[error("the change conflicts with an existing record")]
    Conflict(#[source] erp_core::Error),
    /// The record a request addresses does not exist (in its tenant): 404.
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `"user"`.
        entity: &'static str,
    },
    /// A store refused a value of the request: 400.
    #[error("the store refused a value")]
    StoreRejected(#[source] erp_core::Error),
    /// Any other store error (undecodable row, failed migration, driver error): a bug or
    /// a broken database, the only 500.
    #[error("store error")]
    Store(#[source] erp_core::Error),
    /// Username/password (or the external service's verdict) do not match.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many login attempts for this username or client address.
    #[error("too many attempts; retry after {retry_after:?}")]
    RateLimited {
        /// How long until an attempt is allowed again.
        retry_after: std::time::Duration,
    },
    /// An upstream service (external auth API, IAM) cannot answer or answered nonsense.
    #[error("upstream {service} unavailable: {reason}")]
    UpstreamUnavailable {
        /// `external_auth`, `iam` or `microsoft_graph`.
        service: &'static str,
        /// Why (for logs; not sent to clients).
        reason: String,
    },
    /// The request body breaks a rule (empty username, oversized password, ...).
    #[error("invalid request: {0}")]
    ValidationFailed(&'static str),
    /// Invalid configuration (caught when the layer is built, not per request).
    #[error("invalid auth configuration: {0}")]
    Config(String),
}

impl AuthError {
    /// HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TenantNotProvisioned
            | Self::TenantDisabled
            | Self::UserNotProvisioned
            | Self::AccountDisabled
            | Self::CsrfRejected
            | Self::InsufficientScope { .. }
            | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::KeysUnavailable
            | Self::StoreUnavailable(_)
            | Self::Config(_)
            | Self::UpstreamUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ValidationFailed(_) | Self::StoreRejected(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// Stable machine code for the problem+json body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredential
            | Self::MalformedHeader
            | Self::CredentialTooLarge { .. }
            | Self::MalformedToken(_)
            | Self::AlgorithmNotAllowed
            | Self::UnknownIssuer
            | Self::UnknownKey
            | Self::InvalidSignature
            | Self::TokenRejected
            | Self::NotYetValid
            | Self::TenantNotAllowed
            | Self::InvalidClaims(_) => "TOKEN_INVALID",
            Self::Expired => "TOKEN_EXPIRED",
            Self::SessionRevoked => "SESSION_REVOKED",
            Self::Forbidden | Self::InsufficientScope { .. } | Self::CsrfRejected => "FORBIDDEN",
            Self::TenantNotProvisioned => "TENANT_NOT_PROVISIONED",
            Self::TenantDisabled => "TENANT_DISABLED",
            Self::UserNotProvisioned => "USER_NOT_PROVISIONED",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::KeysUnavailable
            | Self::StoreUnavailable(_)
            | Self::Config(_)
            | Self::UpstreamUnavailable { .. } => "UPSTREAM_UNAVAILABLE",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::ValidationFailed(_) | Self::StoreRejected(_) => "VALIDATION_FAILED",
            Self::Conflict(_) => "CONFLICT",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Store(_) => "INTERNAL",
        }
    }

    /// Fixed, client-safe description (RFC 6750 `error_description` and problem `detail`).
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingCredential => "a bearer token is required",
            Self::MalformedHeader => "the Authorization header must be 'Bearer <token>'",
            Self::CredentialTooLarge { .. } => "the credential is too large",
            Self::MalformedToken(what) => what,
            Self::AlgorithmNotAllowed => "the signing algorithm is not accepted",
            Self::UnknownIssuer => "the token issuer is not trusted",
            Self::UnknownKey => "the signing key is unknown",
            Self::InvalidSignature => "the signature is invalid",
            Self::TokenRejected => "the token was rejected by the identity service",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::InvalidClaims(what) => what,
            Self::TenantNotAllowed => "the token's directory is not allowed for this API",
            Self::SessionRevoked => "the session has been revoked",
            Self::CsrfRejected => "missing or invalid CSRF token",
            Self::TenantNotProvisioned => "the tenant is not provisioned",
            Self::TenantDisabled => "the tenant is disabled",
            Self::UserNotProvisioned => "the user is not provisioned",
            Self::AccountDisabled => "the account is disabled",
            Self::Forbidden => "a required role is missing",
            Self::InsufficientScope { .. } => "a required scope or app role is missing",
            Self::KeysUnavailable => "the identity provider is unavailable",
            Self::StoreUnavailable(_) => "the user store is unavailable",
            Self::Config(_) => "authentication is not configured",
            Self::InvalidCredentials => "invalid username or password",
            Self::RateLimited { .. } => "too many attempts; retry later",
            Self::UpstreamUnavailable { .. } => "the authentication service is unavailable",
            Self::ValidationFailed(what) => what,
            Self::Conflict(_) => "the change conflicts with an existing record",
            Self::NotFound { entity } => entity,
            Self::StoreRejected(_) => "a value was not accepted",
            Self::Store(_) => "internal error",
        }
    }

    /// The RFC 6750 `error` attribute, if the challenge should carry one.
    pub(crate) fn bearer_error(&self) -> Option<&'static str> {
        match self {
            // RFC 6750 §3.1: a request without credentials gets a bare challenge.
            Self::MissingCredential => None,
            // A failed login is not a bad bearer token.
            Self::InvalidCredentials => None,
            Self::MalformedHeader => Some("invalid_request"),
            Self::Forbidden | Self::InsufficientScope { .. } => Some("insufficient_scope"),
            _ if self.status() == StatusCode::UNAUTHORIZED => Some("invalid_token"),
            _ => None,
        }
    }
}

/// Keeps the store error's kind: only an unavailable store is 503.
impl From<erp_core::Error> for AuthError {
    fn from(e: erp_core::Error) -> Self {
        match e {
            erp_core::Error::Unavailable { .. } => AuthError::StoreUnavailable(e),
            erp_core::Error::Conflict { .. } => AuthError::Conflict(e),
            erp_core::Error::NotFound { entity } => AuthError::NotFound { entity },
            erp_core::Error::InvalidInput { .. } => AuthError::StoreRejected(e),
            other => AuthError::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_kind() {
        let cases = [
            (
                erp_core::Error::unavailable(erp_core::Backend::Postgres, "down"),
                StatusCode::SERVICE_UNAVAILABLE,
                "UPSTREAM_UNAVAILABLE",
            ),
            (
                erp_core::Error::Conflict {
                    entity: "user",
                    detail: "users_username_key".into(),
                    source: None,
                },
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                erp_core::Error::NotFound { entity: "user" },
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                erp_core::Error::invalid("username", "too long"),
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
            ),
            (
                erp_core::Error::Decode {
                    column: "roles".into(),
                    message: "not an array".into(),
                },
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
        ];
        for (store, status, code) in cases {
            let shown = store.to_string();
            let e = AuthError::from(store);
            assert_eq!((e.status(), e.code()), (status, code), "{e:?}");
            // The store's own text (constraint names, values) stays in the source.
            assert_ne!(e.description(), shown);
        }
        // Credential failures never become server errors.
        for e in [
            AuthError::MissingCredential,
            AuthError::Expired,
            AuthError::Forbidden,
        ] {
            assert!(e.status().is_client_error(), "{e:?}");
        }
    }

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(AuthError::Expired.code(), "TOKEN_EXPIRED");
        assert_eq!(AuthError::InvalidSignature.code(), "TOKEN_INVALID");
        assert_eq!(
            AuthError::UserNotProvisioned.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(AuthError::MissingCredential.bearer_error(), None);
        assert_eq!(
            AuthError::Forbidden.bearer_error(),
            Some("insufficient_scope")
        );
        // A token from a directory outside the allowed list is not valid for this API.
        assert_eq!(
            AuthError::TenantNotAllowed.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(AuthError::TenantNotAllowed.code(), "TOKEN_INVALID");
        assert_eq!(
            AuthError::TenantNotAllowed.bearer_error(),
            Some("invalid_token")
        );
    }
}
