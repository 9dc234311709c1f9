use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};

use crate::AuthError;

/// The raw `Authorization` value, checked for size and multiplicity before anything is
/// parsed. Cloning a `HeaderValue` shares its bytes: no copy of the token.
pub(crate) fn bearer_header(
    headers: &HeaderMap,
    max_token_bytes: usize,
) -> Result<HeaderValue, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::MissingCredential)?;
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader);
    }
    // "Bearer " plus the token.
    if value.len() > max_token_bytes + 7 {
        return Err(AuthError::CredentialTooLarge {
            max: max_token_bytes,
        });
    }
    Ok(value.clone())
}

/// The token of a `Bearer` credential (scheme case-insensitive, RFC 7235), as bytes: its
/// characters are checked by [`token_text`], which the authenticator calls only when its
/// cache does not hold these bytes.
pub(crate) fn bearer_token(value: &HeaderValue) -> Result<&[u8], AuthError> {
    let bytes = value.as_bytes();
    let Some((scheme, token)) = bytes.split_at_checked(6) else {
        return Err(AuthError::MalformedHeader);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthError::MalformedHeader);
    }
    let token = token.trim_ascii();
    // One space (RFC 7235 `1*SP`) after the scheme: "Bearerabc" is no bearer credential.
    if token.is_empty() || bytes.get(6) != Some(&b' ') {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

/// A bearer token's text: visible ASCII, no spaces (RFC 6750's b64token is narrower
/// still; the JWT's own decoding refuses the rest).
pub(crate) fn token_text(token: &[u8]) -> Result<&str, AuthError> {
    // Folds instead of short-circuiting so that it compiles to a vector loop: on a 1-2 KB
    // Entra ID token it is a few hundred instructions, where `HeaderValue::to_str` plus a
    // search for a space cost over two thousand.
    let invisible = token
        .iter()
        .fold(false, |bad, &b| bad | !(b'!'..=b'~').contains(&b));
    if invisible {
        return Err(AuthError::MalformedHeader);
    }
    std::str::from_utf8(token).map_err(|_| AuthError::MalformedHeader)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both steps, as a request whose token the cache does not hold goes through them.
    fn bearer_text(value: &HeaderValue) -> Result<&str, AuthError> {
        bearer_token(value).and_then(token_text)
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_bearer_and_refuses_the_rest() {
        let v = bearer_header(&headers(&["bearer abc.def.ghi"]), 100).unwrap();
        assert_eq!(bearer_text(&v).unwrap(), "abc.def.ghi");
        for ok in ["Bearer a-b_c.d~e+f/g=", "BEARER  abc ", "Bearer abc\t"] {
            let v = HeaderValue::from_str(ok).unwrap();
            assert!(bearer_text(&v).is_ok(), "{ok:?}");
        }
        let obs_text = HeaderValue::from_bytes("Bearer abc\u{e9}".as_bytes()).unwrap();
        assert!(bearer_text(&obs_text).is_err());
        assert!(matches!(
            bearer_header(&headers(&[]), 100),
            Err(AuthError::MissingCredential)
        ));
        assert!(matches!(
            bearer_header(&headers(&["Bearer a", "Bearer b"]), 100),
            Err(AuthError::MalformedHeader)
        ));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearerabc",
            "Bearer\tabc",
            "Bearer a\tb",
            "Bear abc",
            "Token abc.def",
        ] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert!(bearer_text(&v).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oversized_headers_are_refused_before_parsing() {
        let big = format!("Bearer {}", "a".repeat(64 * 1024));
        assert!(matches!(
            bearer_header(&headers(&[&big]), 16 * 1024),
            Err(AuthError::CredentialTooLarge { .. })
        ));
    }
}
