//! For test suites (this workspace's and those of services built on it): saying that a
//! test did not run.

use std::io::Write;

/// Says on the process's standard error that the calling test is skipped and why, as
/// one `skipped: <test>: <reason>` line (the test's name is its thread's, as the
/// standard harness names them).
///
/// The test harness captures `eprintln!` of passing tests, so a skip said that way is
/// never seen and the test looks like it ran; this writes past the capture, and CI's
/// summary counts the lines (`.ci/run`). The caller then returns: the harness still
/// reports the test `ok`.
///
/// ```
/// fn server_url() -> Option<String> {
///     let url = std::env::var("MY_TEST_SERVER").ok();
///     if url.is_none() {
///         erp_core::testing::skipped("my_test: MY_TEST_SERVER not set");
///     }
///     url
/// }
/// # let _ = server_url();
/// ```
pub fn skipped(reason: impl std::fmt::Display) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {reason}");
}
