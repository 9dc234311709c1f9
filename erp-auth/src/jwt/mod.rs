//! JSON Web Token handling shared by the verifiers.
//!
//! A token is parsed once (`CompactJwt::parse`): split, header and payload decoded,
//! nothing verified yet. The router reads `alg` and `iss` from it to pick exactly one
//! verifier; that verifier checks the signature over the original bytes with its one
//! algorithm and then the claims. `jku`, `x5u`, `jwk` and `x5c` headers are never read:
//! keys come only from our own configuration and the issuer's JWKS.

mod claims;
mod compact;
mod time;

pub use claims::{Audience, Claims};
pub(crate) use compact::CompactJwt;
pub use compact::Header;
pub(crate) use time::check_times;
