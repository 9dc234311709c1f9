//! Collects the unsupported features met while a statement is rendered.
//!
//! `QueryBuilder` methods cannot return errors, so the builder cannot refuse a statement.
//! Instead, where it meets something T-SQL cannot express, it calls [`unsupported`] and
//! writes SQL that SQL Server rejects (usually the PostgreSQL form of the construct), so a
//! plain `build` never silently changes the meaning of a statement. [`render`] turns the
//! reports into an error before anything reaches the server.
//!
//! The collector is thread-local because the builder is a stateless unit struct (that is
//! what sea-query's generic `build(&impl QueryBuilder)` API gets), and rendering is
//! synchronous, so the reports of one `render` call cannot mix with another's. Outside a
//! [`collect`] scope, reports are dropped at the cost of one thread-local lookup.
//!
//! [`render`]: super::render

use std::cell::RefCell;

use super::error::TsqlError;

thread_local! {
    static COLLECTED: RefCell<Option<Vec<TsqlError>>> = const { RefCell::new(None) };
}

/// Records that the statement being rendered uses `feature`, which T-SQL lacks.
pub(super) fn unsupported(feature: &'static str, hint: &'static str) {
    COLLECTED.with(|c| {
        if let Some(found) = c.borrow_mut().as_mut() {
            found.push(TsqlError::Unsupported { feature, hint });
        }
    });
}

/// Runs `f` and returns its result with the features reported while it ran.
pub(super) fn collect<T>(f: impl FnOnce() -> T) -> (T, Vec<TsqlError>) {
    /// Restores the enclosing scope's collector even if `f` panics, so that a panic
    /// caught further up cannot leave this thread collecting forever.
    struct Scope(Option<Vec<TsqlError>>);
    impl Drop for Scope {
        fn drop(&mut self) {
            let outer = self.0.take();
            COLLECTED.with(|c| *c.borrow_mut() = outer);
        }
    }

    let outer = COLLECTED.with(|c| c.borrow_mut().replace(Vec::new()));
    let scope = Scope(outer);
    let out = f();
    let found = COLLECTED
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    drop(scope);
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_outside_a_scope_are_dropped_and_scopes_nest() {
        unsupported("a", "b");
        let ((), outer) = collect(|| {
            unsupported("outer", "");
            let ((), inner) = collect(|| unsupported("inner", ""));
            assert_eq!(inner.len(), 1);
            unsupported("outer again", "");
        });
        let names: Vec<_> = outer
            .iter()
            .map(|e| match e {
                TsqlError::Unsupported { feature, .. } => *feature,
                _ => "",
            })
            .collect();
        assert_eq!(names, ["outer", "outer again"]);
    }

    #[test]
    fn a_panic_does_not_leave_the_thread_collecting() {
        let caught = std::panic::catch_unwind(|| {
            collect(|| -> () { panic!("boom") });
        });
        assert!(caught.is_err());
        assert!(COLLECTED.with(|c| c.borrow().is_none()));
    }
}
