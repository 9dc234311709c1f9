//! Connection-string helpers.

/// Masks the password of a connection string so it can go into an error or a log.
///
/// Handles URLs (`postgres://user:secret@host/db`, `?password=secret`) and key/value
/// strings (`host=h password=secret`, `Password=secret;` in ADO strings).
pub fn mask_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest_start = scheme_end + 3;
        let rest = &url[rest_start..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let masked_authority = match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => format!("{}:***{}", &userinfo[..colon], &authority[at..]),
                    None => authority.to_owned(),
                }
            }
            None => authority.to_owned(),
        };
        let tail = mask_pairs(&rest[authority_end..], &['&', '?']);
        return format!("{}{}{}", &url[..rest_start], masked_authority, tail);
    }
    mask_pairs(url, &[' ', ';'])
}

/// Replaces the value of every `password=` pair, pairs being split by `separators`.
fn mask_pairs(text: &str, separators: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(pos) = find_password_key(&lower, separators) else {
            out.push_str(rest);
            return out;
        };
        let value_start = pos + "password=".len();
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value_end = rest[value_start..]
            .find(separators)
            .map_or(rest.len(), |i| value_start + i);
        rest = &rest[value_end..];
    }
}

/// Finds `password=` at the start of `lower` or right after a separator (or spaces).
fn find_password_key(lower: &str, separators: &[char]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = lower[from..].find("password=") {
        let at = from + i;
        let before = &lower[..at];
        let trimmed = before.trim_end_matches(' ');
        if trimmed.is_empty() || before.ends_with(separators) || trimmed.ends_with(separators) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn masks_url_passwords() {
        assert_eq!(
            mask_url("postgres://erp:s3cr3t@db.local:5432/erp"),
            "postgres://erp:***@db.local:5432/erp"
        );
        assert_eq!(
            mask_url("postgres://erp:p@ss@db/erp?sslmode=require&password=x2"),
            "postgres://erp:***@db/erp?sslmode=require&password=***"
        );
        assert_eq!(mask_url("postgres://db/erp"), "postgres://db/erp");
        assert_eq!(mask_url("sqlite://data/erp.db"), "sqlite://data/erp.db");
    }

    #[test]
    fn masks_key_value_passwords() {
        assert_eq!(
            mask_url("host=db user=erp password=hunter2 dbname=erp"),
            "host=db user=erp password=*** dbname=erp"
        );
        assert_eq!(
            mask_url("Server=tcp:db,1433;User Id=sa;Password=Str0ng!;TrustServerCertificate=true"),
            "Server=tcp:db,1433;User Id=sa;Password=***;TrustServerCertificate=true"
        );
    }
}
