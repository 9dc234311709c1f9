//! Integration tests of the ERP toolkit live in `tests/tests/`.
