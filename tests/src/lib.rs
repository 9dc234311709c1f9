//! Workspace integration tests of the ERP toolkit live in `tests/tests/`: the reference
//! server in-process, on a real PostgreSQL (a schema per test), against wiremock fakes of
//! Azure AD, the external auth API and the IAM service.
