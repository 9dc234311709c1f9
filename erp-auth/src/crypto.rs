//! Signature verification with keys parsed once.
//!
//! `jsonwebtoken::decode` rebuilds the verifier for every token: a boxed verifier, the
//! HMAC key schedule, and for RSA a fresh public key whose Montgomery context is
//! recomputed each time. Here keys are parsed when they are loaded (JWKS fetch, key
//! ring) and a verification is the bare aws-lc-rs operation. jsonwebtoken stays in use
//! for issuing tokens.

use aws_lc_rs::{
    hmac,
    signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::AuthError;

/// Largest RSA signature accepted (8192-bit keys).
const MAX_RSA_SIGNATURE: usize = 1024;

/// An RSA public key for RS256 (PKCS#1 v1.5, SHA-256), 2048 to 8192 bits.
pub(crate) struct Rs256Key(ParsedPublicKey);

impl Rs256Key {
    /// From a JWK's base64url `n` and `e`.
    pub(crate) fn from_components(n: &str, e: &str) -> Option<Self> {
        let n = URL_SAFE_NO_PAD.decode(n).ok()?;
        let e = URL_SAFE_NO_PAD.decode(e).ok()?;
        // Keys below 2048 bits are refused at verification by the algorithm's range;
        // refuse them here too so they never enter the cache.
        let n_bits = n.iter().skip_while(|b| **b == 0).count() * 8;
        if !(2048..=8192).contains(&n_bits) {
            return None;
        }
        RsaPublicKeyComponents {
            n: &n[..],
            e: &e[..],
        }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .ok()
        .map(Self)
    }

    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> Result<(), AuthError> {
        let mut sig = [0u8; MAX_RSA_SIGNATURE];
        let len = decode_into(signature_b64, &mut sig)?;
        self.0
            .verify_sig(message, &sig[..len])
            .map_err(|_| AuthError::InvalidSignature)
    }
}

/// An HS256 secret with its key schedule precomputed.
pub(crate) struct Hs256Key(hmac::Key);

impl Hs256Key {
    pub(crate) fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> Result<(), AuthError> {
        let mut tag = [0u8; 48];
        let len = decode_into(signature_b64, &mut tag)?;
        // Constant-time comparison inside aws-lc.
        hmac::verify(&self.0, message, &tag[..len]).map_err(|_| AuthError::InvalidSignature)
    }
}

/// Decodes base64url into `out`; a signature too long for it is simply invalid.
fn decode_into(b64: &str, out: &mut [u8]) -> Result<usize, AuthError> {
    if b64.len() > out.len() / 3 * 4 + 3 {
        return Err(AuthError::InvalidSignature);
    }
    URL_SAFE_NO_PAD
        .decode_slice(b64, out)
        .map_err(|_| AuthError::InvalidSignature)
}

/// Selects aws-lc-rs as jsonwebtoken's crypto provider for issuing. jsonwebtoken picks
/// it from its features alone, but panics if another crate in the build also enables
/// `rust_crypto`; installing it explicitly removes that trap. Idempotent.
pub(crate) fn ensure_provider() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_round_trip_and_garbage_signatures() {
        let key = Hs256Key::new(b"0123456789abcdef0123456789abcdef");
        let tag = hmac::sign(&key.0, b"msg");
        let b64 = URL_SAFE_NO_PAD.encode(tag.as_ref());
        assert!(key.verify(b"msg", &b64).is_ok());
        assert!(key.verify(b"msG", &b64).is_err());
        for bad in ["", "!!!!", &"A".repeat(10_000), &b64[..b64.len() - 1]] {
            assert!(key.verify(b"msg", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let n_1024 = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        assert!(Rs256Key::from_components(&n_1024, "AQAB").is_none());
        assert!(Rs256Key::from_components("not base64!", "AQAB").is_none());
    }
}
