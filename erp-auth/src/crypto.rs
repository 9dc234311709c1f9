//! The signature backend.

/// Selects aws-lc-rs as jsonwebtoken's crypto provider. jsonwebtoken picks it from its
/// features alone, but panics on every verification if another crate in the build also
/// enables `rust_crypto`; installing it explicitly removes that trap. Idempotent.
pub(crate) fn ensure_provider() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}
