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

/// The token of a `Bearer` credential (scheme case-insensitive, RFC 7235).
pub(crate) fn bearer_token(value: &HeaderValue) -> Result<&str, AuthError> {
    // `is_ascii` and `from_utf8` check a machine word at a time; `HeaderValue::to_str`
    // checks byte by byte, which on a 1-2 KB Entra ID token was most of this function.
    // Control characters cannot be in a header value hyper parsed, and any other byte
    // outside the token alphabet fails the JWT's own decoding.
    let bytes = value.as_bytes();
    if !bytes.is_ascii() {
        return Err(AuthError::MalformedHeader);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| AuthError::MalformedHeader)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthError::MalformedHeader)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedHeader);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::MalformedHeader);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(bearer_token(&v).unwrap(), "abc.def.ghi");
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
        ] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert!(bearer_token(&v).is_err(), "{bad:?}");
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
