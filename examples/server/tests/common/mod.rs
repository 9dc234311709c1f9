//! Helpers shared by the server's integration tests (each test file includes this module
//! with `mod common;` and uses what it needs).
#![allow(dead_code, unreachable_pub)]

pub use erp_server::testkit::PgSchema;
