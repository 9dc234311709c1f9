//! Test fakes (feature `testkit`): real RSA keys, real signed tokens, and a wiremock
//! Entra ID serving discovery and JWKS. For this crate's tests and for services that
//! embed the layer and want to test it the same way.

mod fake_azure;
mod fake_graph;
mod keys;
pub mod load;

pub use fake_azure::{AzureTokenBuilder, FakeAzureAd};
pub use fake_graph::{FAKE_GRAPH_TOKEN, FakeGraph};
pub use keys::{RsaKey, sign_hs256, unsigned_token};
