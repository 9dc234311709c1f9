use super::Claims;
use crate::AuthError;

/// Checks `exp` (required) and `nbf` (when present) against `now` with `leeway` seconds.
pub(crate) fn check_times(claims: &Claims, now: i64, leeway: i64) -> Result<(), AuthError> {
    let exp = claims
        .exp
        .ok_or(AuthError::InvalidClaims("the token has no expiry"))?;
    if now > exp.saturating_add(leeway) {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = claims.nbf
        && now < nbf.saturating_sub(leeway)
    {
        return Err(AuthError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<i64>, nbf: Option<i64>) -> Claims {
        Claims {
            exp,
            nbf,
            ..Claims::default()
        }
    }

    #[test]
    fn expiry_is_required_and_leeway_applies() {
        assert!(matches!(
            check_times(&claims(None, None), 100, 0),
            Err(AuthError::InvalidClaims(_))
        ));
        assert!(check_times(&claims(Some(100), None), 160, 60).is_ok());
        assert!(matches!(
            check_times(&claims(Some(100), None), 161, 60),
            Err(AuthError::Expired)
        ));
        assert!(check_times(&claims(Some(1000), Some(200)), 140, 60).is_ok());
        assert!(matches!(
            check_times(&claims(Some(1000), Some(200)), 139, 60),
            Err(AuthError::NotYetValid)
        ));
    }
}
