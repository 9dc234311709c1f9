//! The ADO.NET connection string, read the way tiberius reads it: split into pairs
//! (for `Server` and the password's position), and masked so no error or `Debug`
//! output shows the password.

use std::ops::Range;

/// One `key=value` pair of a connection string.
#[derive(Debug)]
pub(super) struct Pair {
    /// Lower-cased, trimmed key.
    pub(super) key: String,
    /// Unquoted value.
    pub(super) value: String,
    /// Byte range of the value as written (quotes included).
    raw: Range<usize>,
}

/// Splits an ADO.NET connection string with tiberius's quoting rules (`'..'`, `".."`
/// with doubled quotes, `{..}`, `==` for a literal `=` in a key).
pub(super) fn parse_pairs(input: &str) -> Result<Vec<Pair>, &'static str> {
    let b = input.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut pairs = Vec::new();
    while i < n {
        while i < n && (b[i] == b';' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut key = String::new();
        loop {
            if i >= n || b[i] == b';' {
                return Err("key-value pairs must be joined by `=`");
            }
            if b[i] == b'=' {
                if i + 1 < n && b[i + 1] == b'=' {
                    key.push('=');
                    i += 2;
                    continue;
                }
                i += 1;
                break;
            }
            // Keys are ASCII in practice; anything else is kept byte-wise for matching.
            key.push(char::from(b[i]));
            i += 1;
        }
        let key = key.trim().to_ascii_lowercase();
        while i < n && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let value = if i < n && (b[i] == b'\'' || b[i] == b'"') {
            let quote = b[i];
            i += 1;
            let mut v = Vec::new();
            loop {
                if i >= n {
                    return Err("unclosed quote in the connection string");
                }
                if b[i] == quote {
                    if i + 1 < n && b[i + 1] == quote {
                        v.push(quote);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(b[i]);
                i += 1;
            }
            String::from_utf8_lossy(&v).into_owned()
        } else if i < n && b[i] == b'{' {
            i += 1;
            let from = i;
            while i < n && b[i] != b'}' {
                i += 1;
            }
            if i >= n {
                return Err("unclosed brace in the connection string");
            }
            i += 1;
            input[from..i - 1].to_owned()
        } else {
            while i < n && b[i] != b';' {
                i += 1;
            }
            input[start..i].trim_end().to_owned()
        };
        let end = i;
        // Skip what may follow a quoted value up to the separator.
        while i < n && b[i] != b';' {
            i += 1;
        }
        pairs.push(Pair {
            key,
            value,
            raw: start..end,
        });
    }
    Ok(pairs)
}

/// Masks the password of an ADO.NET connection string (`Password=`/`PWD=`, quoted
/// values included). Stricter than `erp_core::sql::mask_url`, which stops at the
/// first `;` even inside a quoted password. A string that cannot be parsed is cut
/// after the first password key.
pub(crate) fn mask_connection_string(input: &str) -> String {
    let is_secret = |key: &str| key == "password" || key == "pwd";
    match parse_pairs(input) {
        Ok(pairs) => {
            let mut out = String::with_capacity(input.len());
            let mut at = 0;
            for pair in pairs.iter().filter(|p| is_secret(&p.key)) {
                out.push_str(&input[at..pair.raw.start]);
                out.push_str("***");
                at = pair.raw.end;
            }
            out.push_str(&input[at..]);
            out
        }
        Err(_) => {
            let lower = input.to_ascii_lowercase();
            let cut = ["password", "pwd"]
                .iter()
                .filter_map(|k| lower.find(k))
                .min();
            match cut {
                Some(pos) => format!("{}***", &input[..pos]),
                None => input.to_owned(),
            }
        }
    }
}

/// Removes any password value of `ado` that a driver message might have echoed.
pub(super) fn redact(message: &str, ado: &str) -> String {
    let mut out = message.to_owned();
    if let Ok(pairs) = parse_pairs(ado) {
        for pair in pairs
            .iter()
            .filter(|p| (p.key == "password" || p.key == "pwd") && p.value.len() >= 3)
        {
            out = out.replace(&pair.value, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_quoted_and_braced_passwords() {
        assert_eq!(
            mask_connection_string("Server=db;Password='a;b''c';User Id=u"),
            "Server=db;Password=***;User Id=u"
        );
        assert_eq!(
            mask_connection_string("server=db;pwd={x;y};uid=u"),
            "server=db;pwd=***;uid=u"
        );
        assert_eq!(
            mask_connection_string("Server=db;Password=\"unclosed;User Id=u"),
            "Server=db;***"
        );
        // Same answer as erp-core's helper on the simple case.
        let simple = "Server=tcp:db,1433;User Id=sa;Password=Str0ng!;TrustServerCertificate=true";
        assert_eq!(
            mask_connection_string(simple),
            erp_core::sql::mask_url(simple)
        );
    }
}
