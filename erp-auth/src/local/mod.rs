//! Locally issued HS256 access tokens: a key ring chosen by `kid`, so the secret rotates
//! without logging everyone out, an issuer and a verifier.

mod config;
mod issuer;
mod keyring;
mod verifier;

pub use config::LocalJwtConfig;
pub use issuer::{IssuedToken, LocalTokenIssuer, TokenRequest};
pub use keyring::{KeyRing, MIN_SECRET_BYTES};
pub use verifier::LocalJwtVerifier;

/// The `typ` header of our access tokens (RFC 9068): a token without it (an ID token, a
/// token of another system signed with a leaked secret) is not one of ours.
pub(crate) const ACCESS_TOKEN_TYP: &str = "at+jwt";
