//! `erp-auth`: the tower authentication layer of the ERP toolkit.
//!
//! **Status: not built yet.** This crate will hold the dual-auth `AuthLayer` (Entra ID /
//! Azure AD RS256 tokens through a JWKS cache, local HS256 tokens), user resolution,
//! passwords, sessions and logins, on top of the traits of [`erp_core`]. Until then it
//! exports nothing, so nothing can be mistaken for a working verifier.
