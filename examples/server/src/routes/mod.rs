//! The HTTP routes of the reference server.

pub mod auth;
pub mod legacy;
mod me_body;
pub mod openapi;
pub mod table;
