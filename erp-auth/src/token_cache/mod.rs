//! The verified-token cache: a token seen and verified once is not verified again.
//!
//! Clients send the same access token on every request for its lifetime. The cache maps
//! the exact token text to what its verification established (claims, the key that
//! signed it, the resolved principal), so a repeat costs a hash lookup instead of an RSA
//! operation. Nothing is weakened:
//!
//! - a token differing in any byte is a different key (lookups compare the full text);
//! - `exp`/`nbf` are checked on every request, and an entry never outlives `exp` nor the
//!   max TTL;
//! - an entry dies with its signing key: it holds a `Weak` to the key, and a key that
//!   leaves the JWKS (or the key ring) drops;
//! - session, user and tenant revocation are checked on every request, after the cache;
//! - the principal is re-resolved from the store after `user_ttl` (default 30 s) or at
//!   once after [`Authenticator::invalidate_user`](crate::Authenticator::invalidate_user).

mod entry;
mod store;

pub(crate) use entry::{KeyHandle, Verified};
pub(crate) use store::TokenCache;
pub use store::{TokenCacheConfig, TokenCacheStats};
