//! Step 5: the secrets that sign what the server issues: local JWTs
//! (`JWT_SECRET_KEY`) and session cookies (`SESSION_SIGN_KEY`).

use erp_auth::{
    local::{KeyRing, LocalJwtConfig},
    session::{CookieConfig, SessionCookies},
};

use super::BoxError;
use crate::config::ServerConfig;

/// The local JWT settings: one HS256 key, `k1`.
pub fn local_jwt(config: &ServerConfig) -> Result<LocalJwtConfig, BoxError> {
    Ok(LocalJwtConfig::new(KeyRing::new(
        "k1",
        config.jwt_secret.as_bytes(),
    )?))
}

/// The signed session cookies (and their CSRF token) of browser logins.
pub fn cookies(config: &ServerConfig) -> Result<SessionCookies, BoxError> {
    Ok(SessionCookies::new(
        CookieConfig::new("s1", config.session_sign_key.as_bytes())?
            .with_secure(config.session_cookie_secure),
    ))
}
