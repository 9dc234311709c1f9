use super::{ACCESS_TOKEN_TYP, LocalJwtConfig};
use crate::{
    AuthError,
    jwt::{CompactJwt, check_times},
};

/// Validates our own HS256 access tokens: `typ: at+jwt`, a `kid` from the ring, our
/// `iss` and `aud`, `exp` (required) and `nbf` with leeway, and `sub`, `tenant`, `jti`.
#[derive(Debug, Clone)]
pub struct LocalJwtVerifier {
    config: LocalJwtConfig,
}

impl LocalJwtVerifier {
    /// A verifier for `config`.
    pub fn new(config: LocalJwtConfig) -> Self {
        Self { config }
    }

    /// True if `iss` is ours: the router sends such tokens here and nowhere else.
    pub(crate) fn owns_issuer(&self, iss: &str) -> bool {
        iss == self.config.issuer
    }

    /// The configuration.
    pub fn config(&self) -> &LocalJwtConfig {
        &self.config
    }

    pub(crate) fn verify(
        &self,
        jwt: &CompactJwt<'_>,
        now: i64,
    ) -> Result<std::sync::Arc<crate::crypto::Hs256Key>, AuthError> {
        if jwt.header.alg != "HS256" {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let typ_ok = jwt.header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(AuthError::InvalidClaims(
                "the token is not a local access token",
            ));
        }
        let kid = jwt.header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = self
            .config
            .keys
            .verifying(kid)
            .ok_or(AuthError::UnknownKey)?;
        key.verify(jwt.message.as_bytes(), jwt.signature)?;
        let claims = &jwt.claims;
        if claims.iss.as_deref() != Some(self.config.issuer.as_str()) {
            return Err(AuthError::UnknownIssuer);
        }
        check_times(claims, now, self.config.leeway.as_secs() as i64)?;
        let aud_ok = claims
            .aud
            .as_ref()
            .is_some_and(|a| a.values().contains(&self.config.audience));
        if !aud_ok {
            return Err(AuthError::InvalidClaims(
                "the token is for another audience",
            ));
        }
        if claims.sub.is_none()
            || claims.tenant.is_none()
            || claims.jti.is_none()
            || claims.iat.is_none()
        {
            return Err(AuthError::InvalidClaims(
                "the token lacks sub, tenant, jti or iat",
            ));
        }
        Ok(std::sync::Arc::clone(key))
    }
}
