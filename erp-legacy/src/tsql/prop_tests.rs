//! Property test: whatever the identifiers and strings, nothing escapes its quoting.
//!
//! Random names and values drawn from an alphabet heavy in quoting characters are rendered
//! (inlined, with `to_string`, and parameterised, with `build`); a small tokenizer that
//! follows SQL Server's lexical rules then reads the SQL back. Every identifier and string
//! must come back as exactly one token holding exactly the original text, and the SQL must
//! contain no other identifiers, strings or comments.

use sea_query::{Alias, Expr, ExprTrait, Query, QueryBuilder, Value, Values};

use super::{TsqlQueryBuilder, upsert_batch};

/// Characters that break naive quoting, plus some ordinary ones.
const ALPHABET: &[char] = &[
    '\'', '\'', ']', ']', '[', '"', '\\', '\\', ';', '-', '-', '/', '*', '\n', '\r', '\0', '?',
    '@', 'N', 'x', ' ', 'é', '中', '😀', '\u{2028}', '\u{FEFF}',
];

/// xorshift64*: deterministic, no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn text(&mut self, min_len: usize, max_len: usize) -> String {
        let len = min_len + self.below(max_len - min_len + 1);
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// `[...]`, decoded.
    Ident(String),
    /// `N'...'` (or a concatenation of them, see `merge_concatenations`), decoded.
    Str(String),
    /// `'...'` without `N`: only dates, times and UUIDs are written that way.
    PlainStr(String),
    Param(u32),
    Word(String),
    Number(String),
    Binary(String),
    Symbol(char),
}

/// Reads T-SQL the way SQL Server does, for the subset the builder writes. Errors on
/// anything that must not appear outside quotes: comments, double-quoted identifiers,
/// unterminated literals.
fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' => i += 1,
            '[' => {
                let (text, end) = read_quoted(&chars, i + 1, ']', false)?;
                tokens.push(Token::Ident(text));
                i = end;
            }
            'N' if chars.get(i + 1) == Some(&'\'') => {
                let (text, end) = read_quoted(&chars, i + 2, '\'', true)?;
                tokens.push(Token::Str(text));
                i = end;
            }
            '\'' => {
                let (text, end) = read_quoted(&chars, i + 1, '\'', true)?;
                tokens.push(Token::PlainStr(text));
                i = end;
            }
            '-' if chars.get(i + 1) == Some(&'-') => return Err(format!("comment at {i}")),
            '/' if chars.get(i + 1) == Some(&'*') => return Err(format!("comment at {i}")),
            '"' => return Err(format!("double quote outside a literal at {i}")),
            '0' if chars.get(i + 1) == Some(&'x') => {
                let start = i;
                i += 2;
                while i < chars.len() && chars[i].is_ascii_hexdigit() {
                    i += 1;
                }
                tokens.push(Token::Binary(chars[start..i].iter().collect()));
            }
            '@' if chars.get(i + 1) == Some(&'P') => {
                let start = i + 2;
                i = start;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let n: String = chars[start..i].iter().collect();
                tokens.push(Token::Param(
                    n.parse().map_err(|_| format!("bad param at {start}"))?,
                ));
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_alphabetic() || c == '@' || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "@_".contains(chars[i]))
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            c if "(),.;=<>*+".contains(c) => {
                tokens.push(Token::Symbol(c));
                i += 1;
            }
            other => return Err(format!("unexpected {other:?} outside quotes at {i}")),
        }
    }
    Ok(merge_concatenations(tokens))
}

/// Reads a quoted token's content from `start` up to its closing `close` (a doubled
/// `close` stands for one). In string literals, a backslash followed by LF or CR LF is a
/// line continuation: SQL Server drops all of it.
fn read_quoted(
    chars: &[char],
    start: usize,
    close: char,
    is_string: bool,
) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut i = start;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!("unterminated literal from {start}"));
        };
        if c == close {
            if chars.get(i + 1) == Some(&close) {
                text.push(close);
                i += 2;
                continue;
            }
            return Ok((text, i + 1));
        }
        if is_string && c == '\\' {
            match (chars.get(i + 1), chars.get(i + 2)) {
                (Some('\n'), _) => {
                    i += 2;
                    continue;
                }
                (Some('\r'), Some('\n')) => {
                    i += 3;
                    continue;
                }
                _ => {}
            }
        }
        text.push(c);
        i += 1;
    }
}

/// Folds `( CAST ( Str AS NVARCHAR ( MAX ) ) + Str + ... )`, the form a string with a
/// backslash before a line break is written in, into one string token.
fn merge_concatenations(tokens: Vec<Token>) -> Vec<Token> {
    use Token::{Str, Symbol, Word};
    let word = |w: &str| Word(w.to_owned());
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let head = [Symbol('('), word("CAST"), Symbol('(')];
        let after_first = [
            word("AS"),
            word("NVARCHAR"),
            Symbol('('),
            word("MAX"),
            Symbol(')'),
            Symbol(')'),
        ];
        if tokens[i..].starts_with(&head)
            && matches!(tokens.get(i + 3), Some(Str(_)))
            && tokens[i + 4..].starts_with(&after_first)
        {
            let Some(Str(first)) = tokens.get(i + 3) else {
                unreachable!()
            };
            let mut text = first.clone();
            let mut j = i + 10;
            while let (Some(Symbol('+')), Some(Str(next))) = (tokens.get(j), tokens.get(j + 1)) {
                text.push_str(next);
                j += 2;
            }
            if tokens.get(j) == Some(&Symbol(')')) {
                out.push(Str(text));
                i = j + 1;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

fn idents(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Ident(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

fn strings(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Str(s) | Token::PlainStr(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

fn params(tokens: &[Token]) -> Vec<u32> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Param(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[test]
fn tokenizer_follows_sql_server_rules() {
    let tokens = tokenize("SELECT [a]]b], N'it''s', N'x\\\ny' FROM [t]").unwrap();
    assert_eq!(idents(&tokens), ["a]b", "t"]);
    assert_eq!(strings(&tokens), ["it's", "xy"]);
    assert!(tokenize("SELECT 1 -- x").is_err());
    assert!(tokenize("SELECT N'open").is_err());
    assert!(tokenize("SELECT \"a\"").is_err());
    let merged = tokenize("(CAST(N'a\\' AS NVARCHAR(MAX)) + N'\nb' + N'c')").unwrap();
    assert_eq!(merged, [Token::Str("a\\\nbc".to_owned())]);
}

#[test]
fn random_identifiers_and_strings_never_escape_their_quotes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..5_000 {
        let table = rng.text(1, 10);
        let (c1, c2, alias) = (rng.text(1, 10), rng.text(1, 10), rng.text(1, 10));
        let (s1, s2, s3) = (rng.text(0, 12), rng.text(0, 12), rng.text(0, 12));

        // SELECT, values inlined.
        let select = Query::select()
            .expr_as(Expr::col(Alias::new(&c1)), Alias::new(&alias))
            .expr(Expr::val(s1.as_str()))
            .from(Alias::new(&table))
            .and_where(Expr::col(Alias::new(&c2)).eq(s2.as_str()))
            .and_where(Expr::col(Alias::new(&c1)).like(s3.as_str()))
            .limit(3)
            .to_owned();
        let sql = select.to_string(TsqlQueryBuilder);
        let tokens = tokenize(&sql).unwrap_or_else(|e| panic!("round {round}: {e}\n{sql:?}"));
        assert_eq!(
            idents(&tokens),
            [&c1, &alias, &table, &c2, &c1],
            "round {round}: {sql:?}"
        );
        assert_eq!(strings(&tokens), [&s1, &s2, &s3], "round {round}: {sql:?}");

        // The same, parameterised: no strings at all, one placeholder per value.
        let (sql, Values(values)) = select.build(TsqlQueryBuilder);
        let tokens = tokenize(&sql).unwrap_or_else(|e| panic!("round {round}: {e}\n{sql:?}"));
        assert_eq!(idents(&tokens), [&c1, &alias, &table, &c2, &c1]);
        assert!(strings(&tokens).is_empty(), "round {round}: {sql:?}");
        assert_eq!(
            params(&tokens),
            (1..=values.len() as u32).collect::<Vec<_>>()
        );

        // INSERT with OUTPUT, values inlined.
        let insert = Query::insert()
            .into_table(Alias::new(&table))
            .columns([Alias::new(&c1), Alias::new(&c2)])
            .values_panic([s1.as_str().into(), s2.as_str().into()])
            .returning_col(Alias::new(&c1))
            .to_owned();
        let sql = insert.to_string(TsqlQueryBuilder);
        let tokens = tokenize(&sql).unwrap_or_else(|e| panic!("round {round}: {e}\n{sql:?}"));
        assert_eq!(
            idents(&tokens),
            [&table, &c1, &c2, &c1],
            "round {round}: {sql:?}"
        );
        assert_eq!(strings(&tokens), [&s1, &s2], "round {round}: {sql:?}");

        // upsert_batch: identifiers only, parameters numbered from 1. (It refuses NUL in
        // names, as SQL Server would.)
        let no_nul = |s: &str| s.replace('\0', "0");
        let (table, c1, set_column) = (no_nul(&table), no_nul(&c1), no_nul(&c2) + "_");
        let (sql, Values(values)) = upsert_batch(
            &table,
            &[(c1.as_str(), Value::from(s1.as_str()))],
            &[(set_column.as_str(), Value::from(s2.as_str()))],
        )
        .unwrap();
        let tokens = tokenize(&sql).unwrap_or_else(|e| panic!("round {round}: {e}\n{sql:?}"));
        assert_eq!(
            idents(&tokens),
            [&table, &set_column, &c1, &table, &c1, &set_column],
            "round {round}: {sql:?}"
        );
        assert!(strings(&tokens).is_empty());
        assert_eq!(values.len(), 2);
        assert_eq!(params(&tokens), [1, 2, 2, 1]);

        // NULLs written into the text (render): the quoted names and an inlined string,
        // which may hold "@P1" and every quoting character, come back intact; the values
        // left are numbered 1.. in order; each NULL became the keyword, nothing else.
        let mask = rng.below(8);
        let value = |bit: usize| {
            if mask & (1 << bit) != 0 {
                Value::String(None)
            } else {
                Value::from(s3.as_str())
            }
        };
        let literal = TsqlQueryBuilder.value_to_string(&Value::from(s2.as_str()));
        let select = Query::select()
            .column(Alias::new(&c1))
            .from(Alias::new(&table))
            .and_where(Expr::col(Alias::new(&c1)).eq(value(0)))
            .and_where(Expr::cust(format!("{literal} = N'@P1'")))
            .and_where(Expr::col(Alias::new(&c2)).eq(value(1)))
            .and_where(Expr::col(Alias::new(&alias)).eq(value(2)))
            .to_owned();
        let (sql, Values(values)) = super::render(&select.into()).unwrap();
        let tokens = tokenize(&sql).unwrap_or_else(|e| panic!("round {round}: {e}\n{sql:?}"));
        assert_eq!(
            idents(&tokens),
            [&c1, &table, &c1, &c2, &alias],
            "round {round}: {sql:?}"
        );
        assert_eq!(strings(&tokens), [&s2, "@P1"], "round {round}: {sql:?}");
        let nulls = mask.count_ones() as usize;
        assert_eq!(values.len(), 3 - nulls, "round {round}");
        assert!(values.iter().all(|v| *v == Value::from(s3.as_str())));
        assert_eq!(
            params(&tokens),
            (1..=(3 - nulls) as u32).collect::<Vec<_>>(),
            "round {round}: {sql:?}"
        );
        let null_words = tokens
            .iter()
            .filter(|t| **t == Token::Word("NULL".into()))
            .count();
        assert_eq!(null_words, nulls, "round {round}: {sql:?}");
    }
}
