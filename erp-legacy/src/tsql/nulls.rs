//! NULL values travel in the statement text, never as parameters.
//!
//! tiberius sends a `None` string, binary, decimal or date/time parameter as TDS type
//! NULLTYPE (0x1F). SQL Server accepts that; Babelfish for PostgreSQL, and so Aurora's
//! T-SQL endpoint, refuses the whole call (error 8009, "Data type 0x1F is unknown"). A
//! typed NULL cannot be forced through tiberius, so the one form both servers take is
//! the keyword itself: `WHERE [a] = @P1 AND [b] = @P2` with `(NULL, 5)` becomes
//! `WHERE [a] = NULL AND [b] = @P1` with `(5)`. The keyword is the only text written:
//! no value ever becomes SQL, so this stays as injection-proof as binding.

use sea_query::{Value, Values};

use super::lex::{Segment, is_name_char, segments};
use super::literal::is_null;

/// Replaces each `@Pn` whose value is NULL with the keyword `NULL` and renumbers the
/// other placeholders, so the values that remain are bound as `@P1..` in order.
///
/// Placeholders inside string literals, delimited identifiers and comments are left
/// alone, and so is a placeholder number with no value (the server reports it). A
/// placeholder may appear several times (as in [`upsert_batch`](super::upsert_batch)).
/// Without NULL values the text is returned unchanged.
///
/// ```
/// use erp_legacy::tsql::inline_nulls;
/// use sea_query::{Value, Values};
///
/// let (sql, Values(values)) = inline_nulls(
///     "UPDATE [t] SET [note] = @P1 WHERE [id] = @P2 AND [tag] <> N'@P1'",
///     Values(vec![Value::String(None), Value::Int(Some(7))]),
/// );
/// assert_eq!(sql, "UPDATE [t] SET [note] = NULL WHERE [id] = @P1 AND [tag] <> N'@P1'");
/// assert_eq!(values, [Value::Int(Some(7))]);
/// ```
pub fn inline_nulls(sql: &str, values: Values) -> (String, Values) {
    let nulls: Vec<bool> = values.0.iter().map(is_null).collect();
    if !nulls.contains(&true) {
        return (sql.to_owned(), values);
    }
    // New number of each old placeholder (1-based), or None for NULL.
    let mut renumbered = Vec::with_capacity(nulls.len());
    let mut next = 0;
    for null in &nulls {
        renumbered.push((!*null).then(|| {
            next += 1;
            next
        }));
    }
    let mut out = String::with_capacity(sql.len());
    let mut prev = None;
    for segment in segments(sql) {
        match segment {
            Segment::Opaque(text) => {
                out.push_str(text);
                prev = text.chars().last();
            }
            Segment::Code(text) => prev = rewrite_code(text, prev, &renumbered, &mut out),
        }
    }
    let kept = values
        .0
        .into_iter()
        .zip(nulls)
        .filter_map(|(v, null)| (!null).then_some(v))
        .collect::<Vec<Value>>();
    (out, Values(kept))
}

/// Rewrites the placeholders of one code segment into `out`; returns its last char.
fn rewrite_code(
    text: &str,
    mut prev: Option<char>,
    renumbered: &[Option<usize>],
    out: &mut String,
) -> Option<char> {
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        out.push_str(before);
        if let Some(c) = before.chars().last() {
            prev = Some(c);
        }
        let candidate = &rest[at..];
        match placeholder(candidate, prev) {
            Some((number, len)) => {
                match number.checked_sub(1).and_then(|i| renumbered.get(i)) {
                    Some(Some(new)) => {
                        out.push_str("@P");
                        out.push_str(&new.to_string());
                    }
                    Some(None) => out.push_str("NULL"),
                    None => out.push_str(&candidate[..len]),
                }
                prev = candidate[..len].chars().last();
                rest = &candidate[len..];
            }
            None => {
                out.push('@');
                prev = Some('@');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    rest.chars().last().or(prev)
}

/// `@Pn` (any case of `P`) at the start of `text`, as a whole name: its number and length.
fn placeholder(text: &str, prev: Option<char>) -> Option<(usize, usize)> {
    if prev.is_some_and(is_name_char) {
        return None;
    }
    let digits = text
        .strip_prefix("@P")
        .or_else(|| text.strip_prefix("@p"))?;
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || digits[len..].chars().next().is_some_and(is_name_char) {
        return None;
    }
    Some((digits[..len].parse().ok()?, 2 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(sql: &str, values: Vec<Value>) -> (String, Vec<Value>) {
        let (sql, Values(values)) = inline_nulls(sql, Values(values));
        (sql, values)
    }

    #[test]
    fn nulls_become_keywords_and_the_rest_is_renumbered() {
        let (sql, values) = inline(
            "INSERT INTO [t] ([a], [b], [c], [d]) VALUES (@P1, @P2, @P3, @P4)",
            vec![
                Value::String(None),
                Value::Int(Some(1)),
                Value::ChronoDateTime(None),
                "x".into(),
            ],
        );
        assert_eq!(
            sql,
            "INSERT INTO [t] ([a], [b], [c], [d]) VALUES (NULL, @P1, NULL, @P2)"
        );
        assert_eq!(values, [Value::Int(Some(1)), "x".into()]);
    }

    #[test]
    fn every_null_type_is_inlined() {
        for null in [
            Value::Bool(None),
            Value::Int(None),
            Value::BigUnsigned(None),
            Value::Double(None),
            Value::String(None),
            Value::Bytes(None),
            Value::Uuid(None),
            Value::Decimal(None),
            Value::ChronoDate(None),
            Value::ChronoTime(None),
            Value::ChronoDateTimeUtc(None),
            Value::Json(None),
        ] {
            let (sql, values) = inline("SELECT @P1 AS x", vec![null.clone()]);
            assert_eq!(sql, "SELECT NULL AS x", "{null:?}");
            assert!(values.is_empty());
        }
        // The text "NULL" is a value, not a NULL.
        let (sql, values) = inline("SELECT @P1", vec!["NULL".into()]);
        assert_eq!((sql.as_str(), values.len()), ("SELECT @P1", 1));
    }

    #[test]
    fn repeated_placeholders_and_two_digit_numbers() {
        let mut values: Vec<Value> = (1..=11).map(|i| Value::Int(Some(i))).collect();
        values[0] = Value::String(None);
        let (sql, kept) = inline(
            "UPDATE [t] SET [a] = @P1, [k] = @P11 WHERE [id] = @P10; IF @@ROWCOUNT = 0 INSERT INTO [t] VALUES (@P10, @P1)",
            values,
        );
        assert_eq!(
            sql,
            "UPDATE [t] SET [a] = NULL, [k] = @P10 WHERE [id] = @P9; IF @@ROWCOUNT = 0 INSERT INTO [t] VALUES (@P9, NULL)"
        );
        assert_eq!(kept.len(), 10);
        assert_eq!(kept[0], Value::Int(Some(2)));
    }

    #[test]
    fn quoted_text_comments_and_other_names_are_left_alone() {
        let (sql, values) = inline(
            "SELECT N'@P1', [@P1], \"@P1\", @P1x, x@P1, @@P1, @P1 -- @P1\n/* @P1 */ @p2, @P9",
            vec![Value::String(None), 5.into()],
        );
        assert_eq!(
            sql,
            "SELECT N'@P1', [@P1], \"@P1\", @P1x, x@P1, @@P1, NULL -- @P1\n/* @P1 */ @P1, @P9"
        );
        assert_eq!(values, [5.into()]);
    }

    #[test]
    fn without_nulls_nothing_changes() {
        let sql = "SELECT @P1, N'it''s'";
        let (out, values) = inline(sql, vec![1.into()]);
        assert_eq!(out, sql);
        assert_eq!(values, [1.into()]);
    }
}
