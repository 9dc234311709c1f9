//! Input rules shared by the domain types; every repository applies the same ones.

use crate::{Error, Result};

/// Longest username accepted; longer input is almost always garbage or an attack.
const MAX_USERNAME_CHARS: usize = 128;
/// RFC 5321 limit for a forward path.
const MAX_EMAIL_CHARS: usize = 254;

/// Trims and checks a username: 1..=128 characters, no control characters.
///
/// Any script is allowed ("ymirliu 劉念萱", "김민준"): ERP users are named as their
/// directory names them.
pub(crate) fn validate_username(field: &str, raw: &str) -> Result<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_USERNAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_USERNAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

/// Trims and loosely checks an e-mail address (one `@`, something on each side).
pub(crate) fn validate_email(field: &str, raw: &str) -> Result<String> {
    let value = raw.trim();
    if value.chars().count() > MAX_EMAIL_CHARS {
        return Err(Error::invalid(
            field,
            format!("longer than {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let mut parts = value.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::invalid(field, "not an e-mail address"));
    };
    if local.is_empty()
        || domain.is_empty()
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(field, "not an e-mail address"));
    }
    Ok(value.to_owned())
}

/// Checks a free-text field (display name, directory id): bounded, no control characters.
pub(crate) fn validate_text(field: &str, raw: &str, max_chars: usize) -> Result<String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("longer than {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

/// The case-insensitive lookup key for usernames and e-mails.
///
/// Computed in Rust rather than with SQL `LOWER()` so PostgreSQL, SQLite (whose `LOWER`
/// is ASCII-only) and the in-memory store agree on every script.
pub(crate) fn normalize_key(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_keep_any_script_and_reject_control_chars() {
        assert_eq!(
            validate_username("username", "  ymirliu 劉念萱 ").unwrap(),
            "ymirliu 劉念萱"
        );
        assert_eq!(validate_username("username", "김민준").unwrap(), "김민준");
        assert!(validate_username("username", "   ").is_err());
        assert!(validate_username("username", "a\u{0}b").is_err());
        assert!(validate_username("username", &"x".repeat(129)).is_err());
    }

    #[test]
    fn emails_need_exactly_one_at() {
        assert!(validate_email("email", "a@b.example").is_ok());
        for bad in ["", "ab", "a@", "@b", "a@b@c", "a b@c"] {
            assert!(validate_email("email", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn keys_fold_case_beyond_ascii() {
        assert_eq!(normalize_key(" ÄBC "), "äbc");
        assert_eq!(normalize_key("Ymirliu 劉念萱"), "ymirliu 劉念萱");
    }
}
