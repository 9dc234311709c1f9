use serde::{Deserialize, Deserializer};

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// True if any entry equals any of `accepted`.
    pub fn matches_any(&self, accepted: &[String]) -> bool {
        self.0.iter().any(|a| accepted.iter().any(|b| a == b))
    }

    /// The entries.
    pub fn values(&self) -> &[String] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => Audience(vec![s]),
            OneOrMany::Many(v) => Audience(v),
        })
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional. Anything
/// else (a string, `null`, a huge number) fails to deserialise, so the token is refused:
/// a malformed `exp` must never mean "no expiry" (CVE-2026-25537 in jsonwebtoken < 10.3).
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let secs = n
        .as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        })
        .ok_or_else(|| serde::de::Error::custom("not a NumericDate"))?;
    if !(0..=253_402_300_799).contains(&secs) {
        return Err(serde::de::Error::custom("NumericDate out of range"));
    }
    Ok(Some(secs))
}

/// The claims any of our verifiers reads: registered claims, Entra ID claims and the
/// claims of our local access tokens. Unknown claims are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default)]
    pub aud: Option<Audience>,
    /// Expiry (seconds since the epoch).
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    /// Not before.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    /// Issued at.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    /// Token id (our session id for local tokens).
    #[serde(default)]
    pub jti: Option<String>,

    /// Entra ID directory (tenant) id.
    #[serde(default)]
    pub tid: Option<String>,
    /// Entra ID object id of the user.
    #[serde(default)]
    pub oid: Option<String>,
    /// v2 sign-in name.
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// v1 user principal name.
    #[serde(default)]
    pub upn: Option<String>,
    /// v1 sign-in name.
    #[serde(default)]
    pub unique_name: Option<String>,
    /// E-mail (optional claim).
    #[serde(default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// App roles (Entra ID) or ERP roles (local tokens).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Group object ids.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Delegated scopes, space-separated.
    #[serde(default)]
    pub scp: Option<String>,
    /// Entra ID unique token id.
    #[serde(default)]
    pub uti: Option<String>,
    /// Token version (`1.0` / `2.0`).
    #[serde(default)]
    pub ver: Option<String>,
    /// Group overage in implicit-flow tokens.
    #[serde(default)]
    pub hasgroups: Option<bool>,
    /// Group overage in other tokens (`{"groups": "src1"}`).
    #[serde(default, rename = "_claim_names")]
    pub claim_names: Option<serde_json::Map<String, serde_json::Value>>,
    /// Entra ID token kind (optional claim): `app` for app-only tokens, `user` otherwise.
    #[serde(default)]
    pub idtyp: Option<String>,
    /// v2: the client application's id.
    #[serde(default)]
    pub azp: Option<String>,
    /// v1: the client application's id.
    #[serde(default)]
    pub appid: Option<String>,
    /// v1: the client application's display name (app-only tokens).
    #[serde(default)]
    pub app_displayname: Option<String>,
    /// Entra ID "e-mail domain owner verified" (optional claim `xms_edov`): the issuing
    /// directory verified the domain of the `email` claim. Sent as a boolean, sometimes
    /// as a string (`"1"`, `"true"`).
    #[serde(default)]
    pub xms_edov: Option<serde_json::Value>,
    /// ID tokens carry a `nonce`; access tokens never do.
    #[serde(default)]
    pub nonce: Option<serde_json::Value>,

    /// Our local tokens: the ERP tenant id.
    #[serde(default)]
    pub tenant: Option<String>,
}

impl Claims {
    /// True if the directory left groups out because there were too many (overage).
    pub fn has_group_overage(&self) -> bool {
        self.hasgroups == Some(true)
            || self
                .claim_names
                .as_ref()
                .is_some_and(|m| m.contains_key("groups"))
    }

    /// True for an app-only (client credentials) token: `idtyp=app`, or, without that
    /// optional claim, no delegated `scp` and an `oid` equal to the `sub` (a service
    /// principal acting as itself). `idtyp=user` is never app-only.
    pub fn is_app_only(&self) -> bool {
        match self.idtyp.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("app") => true,
            Some(_) => false,
            None => {
                self.scp.is_none()
                    && self
                        .oid
                        .as_deref()
                        .is_some_and(|oid| self.sub.as_deref() == Some(oid))
            }
        }
    }

    /// The delegated scopes (`scp`, space-separated).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scp
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// True if `scp` holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// True if the `roles` claim holds `role` (an app role / application permission).
    pub fn has_app_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The client application's id: `azp` (v2) or `appid` (v1).
    pub fn client_app_id(&self) -> Option<&str> {
        self.azp.as_deref().or(self.appid.as_deref())
    }

    /// True if the directory states it verified the domain of the `email` claim
    /// (`xms_edov`).
    pub fn email_domain_verified(&self) -> bool {
        match &self.xms_edov {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::Number(n)) => n.as_u64() == Some(1),
            Some(serde_json::Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    /// The best e-mail-like sign-in name: `email`, else `preferred_username`, else `upn`,
    /// else `unique_name`, whichever first contains an `@`.
    pub fn email_like(&self) -> Option<&str> {
        [
            &self.email,
            &self.preferred_username,
            &self.upn,
            &self.unique_name,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|v| v.contains('@'))
    }

    /// The sign-in name: `preferred_username`, `upn`, `unique_name` or `email`.
    pub fn username(&self) -> Option<&str> {
        [
            &self.preferred_username,
            &self.upn,
            &self.unique_name,
            &self.email,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|v| !v.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Claims, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn audience_is_one_or_many() {
        let c = parse(r#"{"aud":"api://x"}"#).unwrap();
        assert!(c.aud.unwrap().matches_any(&["api://x".into()]));
        let c = parse(r#"{"aud":["a","b"]}"#).unwrap();
        assert!(c.aud.as_ref().unwrap().matches_any(&["b".into()]));
        assert!(!c.aud.unwrap().matches_any(&["c".into()]));
    }

    #[test]
    fn malformed_dates_are_errors_not_absent() {
        assert_eq!(
            parse(r#"{"exp":1700000000}"#).unwrap().exp,
            Some(1_700_000_000)
        );
        assert_eq!(
            parse(r#"{"exp":1700000000.9}"#).unwrap().exp,
            Some(1_700_000_000)
        );
        for bad in [
            r#"{"exp":"1700000000"}"#,
            r#"{"exp":null}"#,
            r#"{"exp":1e300}"#,
            r#"{"exp":-5}"#,
            r#"{"nbf":true}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(parse("{}").unwrap().exp, None);
    }

    #[test]
    fn overage_and_names() {
        let c = parse(
            r#"{"_claim_names":{"groups":"src1"},"upn":"a@b.c","preferred_username":"Alice"}"#,
        )
        .unwrap();
        assert!(c.has_group_overage());
        assert_eq!(c.email_like(), Some("a@b.c"));
        assert_eq!(c.username(), Some("Alice"));
        assert!(parse(r#"{"hasgroups":true}"#).unwrap().has_group_overage());
        assert!(!parse("{}").unwrap().has_group_overage());
    }

    #[test]
    fn app_only_tokens_and_scopes() {
        let app = parse(r#"{"idtyp":"app","oid":"o","sub":"s","roles":["Sync.Run"]}"#).unwrap();
        assert!(app.is_app_only());
        assert!(app.has_app_role("Sync.Run"));
        // Without idtyp: no scp and oid == sub.
        assert!(parse(r#"{"oid":"o","sub":"o"}"#).unwrap().is_app_only());
        assert!(
            !parse(r#"{"oid":"o","sub":"o","scp":"x"}"#)
                .unwrap()
                .is_app_only()
        );
        assert!(!parse(r#"{"oid":"o","sub":"s"}"#).unwrap().is_app_only());
        assert!(
            !parse(r#"{"idtyp":"user","oid":"o","sub":"o"}"#)
                .unwrap()
                .is_app_only()
        );
        let user = parse(r#"{"scp":"Books.Read  access_as_user"}"#).unwrap();
        assert!(user.has_scope("access_as_user") && user.has_scope("Books.Read"));
        assert!(!user.has_scope("Books"));
    }

    #[test]
    fn xms_edov_forms() {
        for yes in [
            r#"{"xms_edov":true}"#,
            r#"{"xms_edov":"1"}"#,
            r#"{"xms_edov":"true"}"#,
            r#"{"xms_edov":1}"#,
        ] {
            assert!(parse(yes).unwrap().email_domain_verified(), "{yes}");
        }
        for no in [
            "{}",
            r#"{"xms_edov":false}"#,
            r#"{"xms_edov":"0"}"#,
            r#"{"xms_edov":null}"#,
        ] {
            assert!(!parse(no).unwrap().email_domain_verified(), "{no}");
        }
    }
}
