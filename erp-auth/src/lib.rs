//! `erp-auth`: the tower layer that authenticates every request of an ERP backend.
//!
//! - Microsoft Entra ID (Azure AD / MSAL) RS256 access tokens, validated against a JWKS
//!   cache fed by OIDC discovery that never fetches on the hot path ([`azure`]);
//! - locally issued HS256 access tokens over a rotating key ring ([`local`]);
//! - routing by issuer to exactly one verifier ([`Authenticator`]), user resolution and
//!   auto-provisioning with AD group / app-role mapping ([`resolve`]);
//! - [`AuthLayer`] + [`AuthService`] for any tower stack, role guards, an axum extractor;
//!   RFC 6750 challenges and problem+json bodies; 401/403/503, never 500;
//! - Argon2id password hashing that verifies and upgrades legacy hashes ([`password`]).
//! - a verified-token cache that skips the signature check for a token already seen
//!   ([`token_cache`]; this module was `erp_auth::cache` before, renamed for what it caches).
//!
//! # Adding the layer to an axum router
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use erp_auth::{
//!     AuthLayer, Authenticated, Authenticator, require_role,
//!     azure::{AzureAdConfig, AzureAdVerifier},
//!     local::{KeyRing, LocalJwtConfig, LocalJwtVerifier},
//!     resolve::UserResolver,
//! };
//! use erp_core::memory::MemoryStore;
//!
//! # async fn build() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(MemoryStore::new()); // or the SQL repositories of erp-core
//! let azure = AzureAdVerifier::start(AzureAdConfig::new("<directory-id>", "<client-id>")).await?;
//! let local = LocalJwtVerifier::new(LocalJwtConfig::new(KeyRing::new("k1", b"a-secret-of-at-least-32-bytes-long!!")?));
//! let auth = Authenticator::builder(UserResolver::new(store.clone(), store))
//!     .with_azure(azure)
//!     .with_local(local)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/admin", get(|| async { "admin only" }).layer(require_role("admin")))
//!     .route("/me", get(|Authenticated(p): Authenticated| async move { p.username }))
//!     .layer(AuthLayer::new(auth));
//! # let _ = app; Ok(()) }
//! ```

mod authenticator;
pub mod azure;
mod crypto;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod http_client;
pub mod iam;
pub mod jwt;
pub mod layer;
pub mod local;
pub mod login;
pub mod metrics;
pub mod password;
mod purge;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod resolve;
pub mod session;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token_cache;

pub use authenticator::{
    Authenticator, AuthenticatorBuilder, DEFAULT_MAX_TOKEN_BYTES, TokenClaims,
};
pub use error::AuthError;
#[cfg(feature = "axum")]
pub use extract::{Authenticated, AuthenticatedToken, MissingPrincipal};
pub use layer::{
    AuthLayer, AuthService, require_any_role, require_any_scope, require_app_role, require_role,
    require_scope,
};
