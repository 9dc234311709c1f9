use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;

use super::Claims;
use crate::AuthError;

/// The JOSE header fields we act on. Everything else (`jku`, `x5u`, `jwk`, `x5c`, ...)
/// is ignored on purpose.
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    /// Signing algorithm as written in the token.
    pub alg: String,
    /// Key id.
    #[serde(default)]
    pub kid: Option<String>,
    /// Token type (`at+jwt` for our local access tokens, RFC 9068).
    #[serde(default)]
    pub typ: Option<String>,
    /// Critical extensions: we understand none, so any is a rejection (RFC 7515 §4.1.11).
    #[serde(default)]
    crit: Option<serde_json::Value>,
    /// Microsoft Graph access tokens carry a `nonce` header; they are not for us.
    #[serde(default)]
    nonce: Option<serde_json::Value>,
}

/// A parsed, not yet verified, compact JWS.
#[derive(Debug)]
pub(crate) struct CompactJwt<'a> {
    /// `base64(header).base64(payload)`: what the signature covers.
    pub(crate) message: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) header: Header,
    pub(crate) claims: Claims,
}

fn is_b64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<'a> CompactJwt<'a> {
    /// Splits and decodes. Size is bounded by the caller (the layer refuses oversized
    /// credentials before this point); here every part must be non-empty base64url.
    pub(crate) fn parse(token: &'a str) -> Result<Self, AuthError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::MalformedToken("the token must have three parts"));
        };
        if h.is_empty() || p.is_empty() || !is_b64url(h) || !is_b64url(p) || !is_b64url(s) {
            return Err(AuthError::MalformedToken("the token is not base64url"));
        }
        if s.is_empty() {
            // An empty signature is `alg: none` in disguise.
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let header_json = URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| AuthError::MalformedToken("the header is not base64url"))?;
        let header: Header = serde_json::from_slice(&header_json)
            .map_err(|_| AuthError::MalformedToken("the header is not a JOSE header"))?;
        if header.crit.is_some() {
            return Err(AuthError::MalformedToken(
                "critical header extensions are not supported",
            ));
        }
        if header.nonce.is_some() {
            return Err(AuthError::InvalidClaims(
                "the token is not an access token for this API",
            ));
        }
        let payload_json = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| AuthError::MalformedToken("the payload is not base64url"))?;
        let claims: Claims = serde_json::from_slice(&payload_json)
            .map_err(|_| AuthError::MalformedToken("the payload is not a JWT claims set"))?;
        let message = &token[..h.len() + 1 + p.len()];
        Ok(Self {
            message,
            signature: s,
            header,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    #[test]
    fn rejects_structural_garbage() {
        for bad in [
            "", ".", "..", "a.b", "a.b.c.d", "a b.c.d", "é.b.c", "a.b.c=", "\0.\0.\0",
        ] {
            assert!(CompactJwt::parse(bad).is_err(), "{bad:?} accepted");
        }
        let not_json = format!("{}.{}.sig", b64("nope"), b64("{}"));
        assert!(CompactJwt::parse(&not_json).is_err());
    }

    #[test]
    fn empty_signature_is_alg_none() {
        let t = token(r#"{"alg":"none"}"#, r#"{"exp":1}"#, "");
        assert!(matches!(
            CompactJwt::parse(&t),
            Err(AuthError::AlgorithmNotAllowed)
        ));
    }

    #[test]
    fn crit_and_graph_nonce_headers_are_refused() {
        let t = token(r#"{"alg":"RS256","crit":["exp"]}"#, r#"{"exp":1}"#, "c2ln");
        assert!(CompactJwt::parse(&t).is_err());
        let t = token(r#"{"alg":"RS256","nonce":"abc"}"#, r#"{"exp":1}"#, "c2ln");
        assert!(matches!(
            CompactJwt::parse(&t),
            Err(AuthError::InvalidClaims(_))
        ));
    }

    #[test]
    fn message_is_the_signed_prefix() {
        let t = token(
            r#"{"alg":"HS256","jku":"https://evil.example/keys"}"#,
            r#"{"exp":1}"#,
            "c2ln",
        );
        let jwt = CompactJwt::parse(&t).unwrap();
        assert_eq!(format!("{}.{}", jwt.message, jwt.signature), t);
        assert_eq!(jwt.header.alg, "HS256");
    }
}
