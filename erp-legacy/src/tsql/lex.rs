//! Just enough of T-SQL's lexical structure to edit statement text safely: which parts
//! are code, and which sit inside a string literal, a delimited identifier or a comment.
//!
//! Two editors need it: custom expressions (`?` becomes the next value) and NULL
//! inlining (`@Pn` becomes `NULL`). Both must leave a `?` or an `@P1` inside `N'..'`,
//! `[..]`, `".."`, `-- ..` or `/* .. */` alone, or they would change data, not code.

/// A run of statement text: code, or something whose characters are not code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    /// Keywords, names, operators, placeholders.
    Code(&'a str),
    /// A string literal, a delimited identifier or a comment, delimiters included.
    Opaque(&'a str),
}

#[derive(Clone, Copy)]
enum State {
    Code,
    /// Inside a quoted run that ends at this character (`'`, `"` or `]`); the
    /// character doubled is an escaped one and does not end it.
    Quoted(char),
    LineComment,
    /// Block comments nest in T-SQL: `/* a /* b */ still comment */`.
    BlockComment(u32),
}

/// Splits `sql` into code and opaque segments; concatenated, they give `sql` back.
///
/// An unterminated string, identifier or comment runs to the end of the text, as the
/// server would read it.
pub(super) fn segments(sql: &str) -> Vec<Segment<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut state = State::Code;
    let mut start = 0;
    let mut i = 0;
    // Every delimiter is ASCII, so byte positions next to one are char boundaries.
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            State::Code => {
                let opens = match (c, next) {
                    (b'\'', _) => Some((State::Quoted('\''), 1)),
                    (b'"', _) => Some((State::Quoted('"'), 1)),
                    (b'[', _) => Some((State::Quoted(']'), 1)),
                    (b'-', Some(b'-')) => Some((State::LineComment, 2)),
                    (b'/', Some(b'*')) => Some((State::BlockComment(1), 2)),
                    _ => None,
                };
                if let Some((opened, len)) = opens {
                    if i > start {
                        out.push(Segment::Code(&sql[start..i]));
                    }
                    start = i;
                    state = opened;
                    i += len;
                    continue;
                }
            }
            State::Quoted(end) if c == end as u8 => {
                if next == Some(c) {
                    i += 2;
                    continue;
                }
                out.push(Segment::Opaque(&sql[start..=i]));
                start = i + 1;
                state = State::Code;
            }
            State::LineComment if c == b'\n' => {
                out.push(Segment::Opaque(&sql[start..=i]));
                start = i + 1;
                state = State::Code;
            }
            State::BlockComment(depth) => match (c, next) {
                (b'/', Some(b'*')) => {
                    state = State::BlockComment(depth + 1);
                    i += 2;
                    continue;
                }
                (b'*', Some(b'/')) => {
                    i += 2;
                    if depth == 1 {
                        out.push(Segment::Opaque(&sql[start..i]));
                        start = i;
                        state = State::Code;
                    } else {
                        state = State::BlockComment(depth - 1);
                    }
                    continue;
                }
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    if start < sql.len() {
        out.push(match state {
            State::Code => Segment::Code(&sql[start..]),
            _ => Segment::Opaque(&sql[start..]),
        });
    }
    out
}

/// Whether `c` can continue a T-SQL name or variable (`@P1x` is not `@P1`).
pub(super) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '$')
}

#[cfg(test)]
mod tests {
    use super::Segment::{Code, Opaque};
    use super::*;

    #[test]
    fn splits_code_from_strings_identifiers_and_comments() {
        let sql = "SELECT N'it''s @P1', [a]]b], \"q\"\"r\" -- c @P2\nFROM t /* x /* y */ z */ WHERE a = @P3";
        assert_eq!(
            segments(sql),
            [
                Code("SELECT N"),
                Opaque("'it''s @P1'"),
                Code(", "),
                Opaque("[a]]b]"),
                Code(", "),
                Opaque("\"q\"\"r\""),
                Code(" "),
                Opaque("-- c @P2\n"),
                Code("FROM t "),
                Opaque("/* x /* y */ z */"),
                Code(" WHERE a = @P3"),
            ]
        );
    }

    #[test]
    fn unterminated_runs_reach_the_end_and_nothing_is_lost() {
        for sql in [
            "a 'open @P1",
            "a [open",
            "a -- to end",
            "a /* open /* */",
            "",
            "plain",
        ] {
            let joined: String = segments(sql)
                .iter()
                .map(|s| match s {
                    Code(t) | Opaque(t) => *t,
                })
                .collect();
            assert_eq!(joined, sql);
        }
        assert_eq!(segments("x 'open @P1"), [Code("x "), Opaque("'open @P1")]);
        assert_eq!(
            segments("ü'€'ß"),
            [Code("ü"), Opaque("'€'"), Code("ß")],
            "multi-byte text around delimiters"
        );
    }
}
