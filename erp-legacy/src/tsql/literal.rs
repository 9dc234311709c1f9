//! T-SQL lexical rules: delimited identifiers and literals.
//!
//! Everything the builder writes that comes from data (identifier names, inlined values)
//! goes through this module, so the quoting rules live in one place:
//!
//! - identifiers: `[name]`, a `]` inside doubled (`]]`); nothing else is special;
//! - strings: `N'text'`, a `'` inside doubled (`''`). T-SQL has no backslash escapes, but it
//!   does have one backslash rule: a `\` directly followed by a line break (LF or CR LF)
//!   inside a string constant is a *line continuation*, and SQL Server drops both. A value
//!   holding that sequence is therefore split after the backslash into concatenated
//!   literals, the first cast to `NVARCHAR(MAX)` so that concatenating cannot truncate at
//!   4,000 characters;
//! - binary: `0x` followed by upper-case hex digits.

use std::fmt::{self, Write};

use super::error::TsqlError;

/// Longest identifier SQL Server accepts (`sysname` is `NVARCHAR(128)`), in UTF-16 units.
const MAX_IDENTIFIER_UTF16: usize = 128;

/// Writes `name` as a delimited identifier: `[name]` with every `]` doubled.
pub(super) fn write_identifier(out: &mut (impl Write + ?Sized), name: &str) -> fmt::Result {
    out.write_char('[')?;
    BracketEscaper(out).write_str(name)?;
    out.write_char(']')
}

/// Quotes `name` as a T-SQL delimited identifier: `[name]`, with `]` doubled.
///
/// Any text is safe inside the brackets once `]` is doubled, so this never fails; use it
/// for names that come from configuration or from the legacy schema. It does not check
/// that SQL Server would *accept* the name (length, NUL); [`upsert_batch`] does.
///
/// For example `order]items` becomes `[order]]items]`.
///
/// [`upsert_batch`]: super::upsert_batch
pub fn quote_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_identifier(&mut out, name);
    out
}

/// Checks that SQL Server can take `name` as an identifier once quoted: not empty, at most
/// 128 UTF-16 units, no NUL character.
pub(super) fn validate_identifier(name: &str) -> Result<(), TsqlError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.encode_utf16().count() > MAX_IDENTIFIER_UTF16 {
        "longer than 128 UTF-16 code units"
    } else if name.contains('\0') {
        "contains a NUL character"
    } else {
        return Ok(());
    };
    Err(TsqlError::InvalidIdentifier {
        name: name.to_owned(),
        reason,
    })
}

/// A [`Write`] adapter doubling `]`, so that `Display` values (such as sea-query's
/// identifiers) can be escaped while they are formatted, without an intermediate String.
pub(super) struct BracketEscaper<'a, W: Write + ?Sized>(pub(super) &'a mut W);

impl<W: Write + ?Sized> Write for BracketEscaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(']') {
            self.0.write_str(&rest[..=i])?;
            self.0.write_char(']')?;
            rest = &rest[i + 1..];
        }
        self.0.write_str(rest)
    }
}

/// Writes `text` as a Unicode string literal: `N'...'` with `'` doubled.
///
/// The `N` prefix keeps non-Latin text intact whatever the database's code page. See the
/// module docs for the backslash + line break case, which is written as
/// `(CAST(N'...\' AS NVARCHAR(MAX)) + N'<line break>...')`.
pub(super) fn write_nstring(out: &mut (impl Write + ?Sized), text: &str) -> fmt::Result {
    let segments = split_line_continuations(text);
    if segments.len() == 1 {
        return write_segment(out, text);
    }
    out.write_str("(CAST(")?;
    for (i, segment) in segments.iter().enumerate() {
        if i == 1 {
            out.write_str(" AS NVARCHAR(MAX))")?;
        }
        if i > 0 {
            out.write_str(" + ")?;
        }
        write_segment(out, segment)?;
    }
    out.write_char(')')
}

fn write_segment(out: &mut (impl Write + ?Sized), text: &str) -> fmt::Result {
    out.write_str("N'")?;
    let mut rest = text;
    while let Some(i) = rest.find('\'') {
        out.write_str(&rest[..=i])?;
        out.write_char('\'')?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)?;
    out.write_char('\'')
}

/// Splits `text` right after every backslash that is followed by LF or CR LF, so that no
/// segment contains a line continuation (a backslash at the very end of a segment is
/// followed by the closing quote, not by a line break).
fn split_line_continuations(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut segments = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let continuation = b == b'\\'
            && match bytes.get(i + 1) {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(i + 2) == Some(&b'\n'),
                _ => false,
            };
        if continuation {
            segments.push(&text[start..=i]);
            start = i + 1;
        }
    }
    segments.push(&text[start..]);
    segments
}

/// Writes `bytes` as a binary constant: `0x` and two upper-case hex digits per byte (`0x`
/// alone is the empty binary value).
pub(super) fn write_binary(out: &mut (impl Write + ?Sized), bytes: &[u8]) -> fmt::Result {
    out.write_str("0x")?;
    for b in bytes {
        write!(out, "{b:02X}")?;
    }
    Ok(())
}

/// Writes a float as a T-SQL `FLOAT` constant (scientific notation, `1.5E0`), so that it is
/// typed as FLOAT and not as a `DECIMAL` literal that may exceed 38 digits. T-SQL has no
/// NaN or infinity: those are written as-is and rejected by the server (and reported by
/// [`render`](super::render)).
pub(super) fn write_float(out: &mut (impl Write + ?Sized), value: f64) -> fmt::Result {
    if value.is_finite() {
        write!(out, "{value:E}")
    } else {
        super::report::unsupported(
            "non-finite float (NaN or infinity)",
            "FLOAT has no NaN or infinity in SQL Server; store NULL or a sentinel instead",
        );
        write!(out, "{value}")
    }
}

/// Same as [`write_float`] for `f32`, formatted with `f32` precision (`0.1f32` is `1E-1`,
/// not `1.0000000149011612E-1`).
pub(super) fn write_float32(out: &mut (impl Write + ?Sized), value: f32) -> fmt::Result {
    if value.is_finite() {
        write!(out, "{value:E}")
    } else {
        write_float(out, f64::from(value))
    }
}

/// Whether `value` is SQL NULL. `Value` has no such method and one variant per type,
/// some behind features: the variants this crate binds are matched directly (this runs
/// for every value of every statement, so it must not format strings); any other, from a
/// feature another crate turned on, is asked of the builder, which writes exactly `NULL`
/// for every NULL (a string "NULL" is written `N'NULL'`).
pub(super) fn is_null(value: &sea_query::Value) -> bool {
    use sea_query::{OptionEnum, QueryBuilder, Value as V};
    match value {
        V::Bool(v) => v.is_none(),
        V::TinyInt(v) => v.is_none(),
        V::SmallInt(v) => v.is_none(),
        V::Int(v) => v.is_none(),
        V::BigInt(v) => v.is_none(),
        V::TinyUnsigned(v) => v.is_none(),
        V::SmallUnsigned(v) => v.is_none(),
        V::Unsigned(v) => v.is_none(),
        V::BigUnsigned(v) => v.is_none(),
        V::Float(v) => v.is_none(),
        V::Double(v) => v.is_none(),
        V::String(v) => v.is_none(),
        V::Enum(v) => matches!(v, OptionEnum::None(_)),
        V::Char(v) => v.is_none(),
        V::Bytes(v) => v.is_none(),
        V::Json(v) => v.is_none(),
        V::ChronoDate(v) => v.is_none(),
        V::ChronoTime(v) => v.is_none(),
        V::ChronoDateTime(v) => v.is_none(),
        V::ChronoDateTimeUtc(v) => v.is_none(),
        V::ChronoDateTimeLocal(v) => v.is_none(),
        V::ChronoDateTimeWithTimeZone(v) => v.is_none(),
        V::Uuid(v) => v.is_none(),
        V::Decimal(v) => v.is_none(),
        #[allow(unreachable_patterns)]
        other => super::TsqlQueryBuilder.value_to_string(other) == "NULL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nstring(text: &str) -> String {
        let mut out = String::new();
        write_nstring(&mut out, text).unwrap();
        out
    }

    #[test]
    fn identifiers_double_closing_brackets_only() {
        assert_eq!(quote_identifier("a]b"), "[a]]b]");
        assert_eq!(quote_identifier("]]"), "[]]]]]");
        assert_eq!(quote_identifier("[x"), "[[x]");
        assert_eq!(quote_identifier("a b'\"c"), "[a b'\"c]");
        assert_eq!(quote_identifier("顧客"), "[顧客]");
    }

    #[test]
    fn strings_double_quotes_and_keep_backslashes() {
        assert_eq!(nstring(""), "N''");
        assert_eq!(nstring("it's"), "N'it''s'");
        assert_eq!(nstring(r"C:\dir\"), r"N'C:\dir\'");
        assert_eq!(nstring("a\\nb"), "N'a\\nb'");
        assert_eq!(nstring("--; DROP"), "N'--; DROP'");
        assert_eq!(nstring("line1\nline2"), "N'line1\nline2'");
    }

    #[test]
    fn backslash_before_line_break_is_split_out_of_the_literal() {
        assert_eq!(
            nstring("a\\\nb"),
            "(CAST(N'a\\' AS NVARCHAR(MAX)) + N'\nb')"
        );
        assert_eq!(
            nstring("a\\\r\nb\\\nc'"),
            "(CAST(N'a\\' AS NVARCHAR(MAX)) + N'\r\nb\\' + N'\nc''')"
        );
        // CR alone is no line break for the continuation rule.
        assert_eq!(nstring("a\\\rb"), "N'a\\\rb'");
        assert_eq!(nstring("\\\n"), "(CAST(N'\\' AS NVARCHAR(MAX)) + N'\n')");
    }

    #[test]
    fn binary_and_floats() {
        let mut out = String::new();
        write_binary(&mut out, &[0x00, 0xAB, 0x7f]).unwrap();
        assert_eq!(out, "0x00AB7F");
        out.clear();
        write_binary(&mut out, &[]).unwrap();
        assert_eq!(out, "0x");
        out.clear();
        write_float(&mut out, 0.1).unwrap();
        assert_eq!(out, "1E-1");
        out.clear();
        write_float32(&mut out, 0.1).unwrap();
        assert_eq!(out, "1E-1");
        out.clear();
        write_float(&mut out, -1234.5).unwrap();
        assert_eq!(out, "-1.2345E3");
    }

    #[test]
    fn identifier_validation() {
        assert!(validate_identifier("ok").is_ok());
        assert!(validate_identifier(&"x".repeat(128)).is_ok());
        assert!(validate_identifier("").is_err());
        assert!(validate_identifier(&"x".repeat(129)).is_err());
        assert!(validate_identifier("a\0b").is_err());
        // 64 characters outside the BMP are 128 UTF-16 units.
        assert!(validate_identifier(&"😀".repeat(64)).is_ok());
        assert!(validate_identifier(&"😀".repeat(65)).is_err());
    }
}
