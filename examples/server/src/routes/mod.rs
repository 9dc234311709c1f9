//! The HTTP routes of the reference server.

pub mod auth;
pub mod legacy;
pub mod openapi;
