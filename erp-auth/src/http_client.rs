//! The one way this crate builds its outbound HTTP clients (Entra ID, external auth API,
//! IAM service).

use std::time::Duration;

use crate::AuthError;

/// A client whose whole request, connection included, ends within `timeout`. Redirects
/// are not followed: an identity endpoint that redirects is misconfigured or hijacked,
/// and following it would send tokens or passwords to another host.
pub(crate) fn build(timeout: Duration) -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuthError::Config(format!("cannot build the HTTP client: {e}")))
}
