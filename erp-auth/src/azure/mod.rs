//! Microsoft Entra ID (Azure AD) access tokens: OIDC discovery, a JWKS cache that never
//! fetches on the hot path, and RS256 validation of v1 and v2 tokens.

mod cloud;
mod config;
mod discovery;
mod graph;
mod jwks;
mod verifier;

pub use cloud::{AzureCloud, CloudConst};
pub use config::AzureAdConfig;
pub(crate) use config::is_scope_token;
pub use graph::{GraphConfig, GraphGroups, GraphMetrics};
pub(crate) use jwks::SigningKey as SigningKeyRef;
pub use jwks::{JwksCache, JwksMetrics};
pub use verifier::AzureAdVerifier;
