use std::fmt;

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use erp_core::{SessionId, TenantId};
use http::{HeaderMap, HeaderValue, header};

use crate::{AuthError, local::MIN_SECRET_BYTES};

/// Settings of the session cookies.
#[derive(Clone)]
pub struct CookieConfig {
    keys: Vec<(String, hmac::Key)>,
    secure: bool,
    session_cookie: String,
    csrf_cookie: String,
    csrf_header: http::HeaderName,
}

impl fmt::Debug for CookieConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieConfig")
            .field(
                "kids",
                &self.keys.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("secure", &self.secure)
            .field("session_cookie", &self.session_cookie)
            .finish_non_exhaustive()
    }
}

impl CookieConfig {
    /// Cookies signed with `secret` under `kid` (`SESSION_SIGN_KEY`, at least 32 bytes).
    pub fn new(kid: &str, secret: &[u8]) -> Result<Self, AuthError> {
        Self {
            keys: Vec::new(),
            secure: true,
            session_cookie: "erp_session".into(),
            csrf_cookie: "erp_csrf".into(),
            csrf_header: http::HeaderName::from_static("x-csrf-token"),
        }
        .with_key(kid, secret)
    }

    /// Adds a verification key; the first key signs, so signing keys rotate by adding the
    /// new key first and dropping the old one once its cookies have expired.
    pub fn with_key(mut self, kid: &str, secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthError::Config(format!(
                "the cookie signing key {kid:?} is shorter than {MIN_SECRET_BYTES} bytes"
            )));
        }
        if kid.is_empty()
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AuthError::Config(
                "a cookie key id must be [A-Za-z0-9_-]+".into(),
            ));
        }
        self.keys
            .push((kid.to_owned(), hmac::Key::new(hmac::HMAC_SHA256, secret)));
        Ok(self)
    }

    /// `Secure` attribute (default on; `SESSION_COOKIE_SECURE=false` for plain-http development).
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }
}

/// The `Set-Cookie` values of a sign-in, and the CSRF token the client must echo.
#[derive(Debug, Clone)]
pub struct IssuedCookies {
    /// `Set-Cookie` for the HttpOnly session cookie.
    pub session: HeaderValue,
    /// `Set-Cookie` for the CSRF cookie (readable by scripts, which copy it into the
    /// `X-CSRF-Token` header).
    pub csrf: HeaderValue,
    /// The CSRF token itself.
    pub csrf_token: String,
}

/// Signs and checks session cookies and their CSRF tokens.
///
/// The session cookie is `v1.<kid>.<tenant>.<session id>.<HMAC>`: it carries the session
/// id (the session itself lives in the store, where it can be revoked). The CSRF token
/// is an HMAC of the session under a separate label — a signed double-submit token
/// bound to the session, as OWASP recommends over a naive double submit.
#[derive(Debug, Clone)]
pub struct SessionCookies {
    config: CookieConfig,
}

fn mac(key: &hmac::Key, label: &str, tenant: TenantId, session: &SessionId) -> String {
    let tag = hmac::sign(key, format!("{label}|{tenant}|{session}").as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl SessionCookies {
    /// Cookies per `config`.
    pub fn new(config: CookieConfig) -> Self {
        Self { config }
    }

    /// The cookies that open `session` in a browser, valid until `expires_at`.
    pub fn issue(
        &self,
        tenant: TenantId,
        session: &SessionId,
        expires_at: DateTime<Utc>,
    ) -> IssuedCookies {
        let (kid, key) = &self.config.keys[0];
        let value = format!(
            "v1.{kid}.{}.{session}.{}",
            tenant.as_uuid().simple(),
            mac(key, "session", tenant, session)
        );
        let csrf_token = mac(key, "csrf", tenant, session);
        let max_age = (expires_at - Utc::now()).num_seconds().max(0);
        let secure = if self.config.secure { "; Secure" } else { "" };
        let session_cookie = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.config.session_cookie
        );
        let csrf_cookie = format!(
            "{}={csrf_token}; Path=/; Max-Age={max_age}; SameSite=Lax{secure}",
            self.config.csrf_cookie
        );
        IssuedCookies {
            // Only ASCII built from validated parts: always valid header values.
            session: HeaderValue::from_str(&session_cookie).unwrap_or(HeaderValue::from_static("")),
            csrf: HeaderValue::from_str(&csrf_cookie).unwrap_or(HeaderValue::from_static("")),
            csrf_token,
        }
    }

    /// `Set-Cookie` values that delete both cookies (logout).
    pub fn clear(&self) -> [HeaderValue; 2] {
        let secure = if self.config.secure { "; Secure" } else { "" };
        [&self.config.session_cookie, &self.config.csrf_cookie].map(|name| {
            HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; SameSite=Lax{secure}"))
                .unwrap_or(HeaderValue::from_static(""))
        })
    }

    /// The session named by the request's session cookie, if it carries a valid one.
    /// `Ok(None)`: no session cookie. `Err`: a cookie that is present but not ours.
    pub fn session_from(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(TenantId, SessionId)>, AuthError> {
        let Some(value) = self.cookie_value(headers, &self.config.session_cookie) else {
            return Ok(None);
        };
        let invalid = AuthError::MalformedToken("the session cookie is invalid");
        let mut parts = value.split('.');
        let (Some("v1"), Some(kid), Some(tenant), Some(session), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid);
        };
        let tenant: TenantId = uuid::Uuid::try_parse(tenant)
            .map(TenantId::from_uuid)
            .map_err(|_| AuthError::MalformedToken("the session cookie is invalid"))?;
        let session = SessionId::new(session)
            .map_err(|_| AuthError::MalformedToken("the session cookie is invalid"))?;
        let key = self
            .config
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key)
            .ok_or(AuthError::UnknownKey)?;
        let expected = mac(key, "session", tenant, &session);
        if ct_eq(expected.as_bytes(), tag.as_bytes()) {
            Ok(Some((tenant, session)))
        } else {
            Err(AuthError::InvalidSignature)
        }
    }

    /// True if the request's CSRF header carries the token bound to this session.
    pub fn csrf_valid(&self, headers: &HeaderMap, tenant: TenantId, session: &SessionId) -> bool {
        let Some(sent) = headers
            .get(&self.config.csrf_header)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        self.config.keys.iter().any(|(_, key)| {
            ct_eq(
                mac(key, "csrf", tenant, session).as_bytes(),
                sent.as_bytes(),
            )
        })
    }

    fn cookie_value<'a>(&self, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Methods that change state and therefore need the CSRF token when cookie-authenticated.
pub(crate) fn is_unsafe(method: &http::Method) -> bool {
    !matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS | http::Method::TRACE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies() -> SessionCookies {
        SessionCookies::new(CookieConfig::new("c1", &[9; 32]).unwrap())
    }

    fn request_with(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        h
    }

    #[test]
    fn issued_cookies_verify_and_carry_the_right_attributes() {
        let c = cookies();
        let (t, s) = (TenantId::new(), SessionId::generate());
        let issued = c.issue(t, &s, Utc::now() + chrono::Duration::hours(1));
        let set = issued.session.to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Secure"),
            "{set}"
        );
        assert!(!issued.csrf.to_str().unwrap().contains("HttpOnly"));
        let value = set.split(';').next().unwrap();
        let headers = request_with(&format!("theme=dark; {value}"));
        assert_eq!(c.session_from(&headers).unwrap(), Some((t, s.clone())));
        let mut h = headers.clone();
        h.insert(
            "x-csrf-token",
            HeaderValue::from_str(&issued.csrf_token).unwrap(),
        );
        assert!(c.csrf_valid(&h, t, &s));
        assert!(!c.csrf_valid(&headers, t, &s), "missing header");
        assert!(
            !c.csrf_valid(&h, t, &SessionId::generate()),
            "token of another session"
        );
    }

    #[test]
    fn tampered_cookies_are_refused() {
        let c = cookies();
        let (t, s) = (TenantId::new(), SessionId::generate());
        let set = c
            .issue(t, &s, Utc::now())
            .session
            .to_str()
            .unwrap()
            .to_owned();
        let value = set.split(';').next().unwrap().to_owned();
        let other = SessionId::generate();
        let swapped = value.replace(s.as_str(), other.as_str());
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        for bad in [
            swapped,
            String::from_utf8(flipped).unwrap(),
            "erp_session=garbage".into(),
            "erp_session=v1.c9.x.y.z".into(),
        ] {
            assert!(c.session_from(&request_with(&bad)).is_err(), "{bad}");
        }
        assert_eq!(c.session_from(&HeaderMap::new()).unwrap(), None);
        let insecure = SessionCookies::new(
            CookieConfig::new("c1", &[9; 32])
                .unwrap()
                .with_secure(false),
        );
        assert!(
            !insecure
                .issue(t, &s, Utc::now())
                .session
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(CookieConfig::new("c1", &[1; 16]).is_err());
    }
}
