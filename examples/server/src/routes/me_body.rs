//! The `GET /auth/me` body, written straight into a buffer.
//!
//! It is the hottest authenticated answer, and through `serde_json` it cost about 3 400
//! instructions, more than the auth layer's cached path: every key and every value goes
//! through the per-byte escape loop, ids are formatted through `Display`, and `Role` and
//! `SessionId` serialise through an owned `String` (`#[serde(into = "String")]`). Here the
//! keys are constants, ids are hex-encoded into a stack buffer, and a string is copied as
//! it is when no byte of it needs escaping; one that does (a quote, a backslash, a control
//! character in a display name) goes through `serde_json` itself, so the output is the one
//! `serde_json` would write. The tests compare the two byte for byte.

use erp_core::Principal;

/// The JSON object of `GET /auth/me` (DESIGN.md): `id`, `kind`, `username`,
/// `display_name`, `email`, `roles`, `tenant`, `auth_method`, `session_id`.
pub(crate) fn write(p: &Principal) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain_len(p));
    out.extend_from_slice(b"{\"id\":");
    uuid(&mut out, p.user_id.as_uuid());
    out.extend_from_slice(b",\"kind\":");
    name(&mut out, p.kind.as_str());
    out.extend_from_slice(b",\"username\":");
    string(&mut out, &p.username);
    out.extend_from_slice(b",\"display_name\":");
    optional(&mut out, p.display_name.as_deref());
    out.extend_from_slice(b",\"email\":");
    optional(&mut out, p.email.as_deref());
    out.extend_from_slice(b",\"roles\":[");
    for (i, role) in p.roles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(&mut out, role.as_str());
    }
    out.extend_from_slice(b"],\"tenant\":");
    uuid(&mut out, p.tenant_id.as_uuid());
    out.extend_from_slice(b",\"auth_method\":");
    name(&mut out, p.auth_method.as_str());
    out.extend_from_slice(b",\"session_id\":");
    optional(&mut out, p.session_id.as_ref().map(|s| s.as_str()));
    out.push(b'}');
    out
}

/// The body's exact length when no string needs escaping (else a little short, and the
/// buffer grows). Exact, the buffer becomes the response's `Bytes` without a second
/// allocation, and is never reallocated on the way.
fn plain_len(p: &Principal) -> usize {
    const KEYS: usize = r#"{"id":,"kind":,"username":,"display_name":,"email":,"roles":[],"tenant":,"auth_method":,"session_id":}"#.len();
    const UUID: usize = 36 + 2;
    let quoted = |s: &str| s.len() + 2;
    let optional = |s: Option<&str>| s.map_or(4, quoted);
    KEYS + 2 * UUID
        + quoted(p.kind.as_str())
        + quoted(&p.username)
        + optional(p.display_name.as_deref())
        + optional(p.email.as_deref())
        + p.roles.iter().map(|r| quoted(r.as_str())).sum::<usize>()
        + p.roles.len().saturating_sub(1) // the commas
        + quoted(p.auth_method.as_str())
        + optional(p.session_id.as_ref().map(|s| s.as_str()))
}

fn uuid(out: &mut Vec<u8>, id: uuid::Uuid) {
    let mut buf = uuid::Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// One of our own enum names (`user`, `azure_ad`: lower-case identifiers, nothing to
/// escape; the tests hold every variant to that).
fn name(out: &mut Vec<u8>, s: &'static str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        if serde_json::to_writer(&mut *out, s).is_err() {
            // Writing a `str` into a `Vec` cannot fail; should it ever, the body is still
            // valid JSON.
            out.extend_from_slice(b"null");
        }
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether `s` holds a byte `serde_json` escapes (`"`, `\`, U+0000..U+001F); everything
/// else, non-ASCII included, it writes as it is. The check folds rather than stopping at
/// the first such byte so that it compiles to a vector loop.
fn needs_escape(s: &[u8]) -> bool {
    s.iter().fold(false, |escape, &b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn enum_names_need_no_escaping() {
        use erp_core::{AuthMethod, PrincipalKind};
        let kinds = [PrincipalKind::User, PrincipalKind::Service].map(|k| k.as_str());
        let methods = [
            AuthMethod::LocalPassword,
            AuthMethod::LocalJwt,
            AuthMethod::AzureAd,
            AuthMethod::ExternalApi,
            AuthMethod::IamService,
            AuthMethod::Cookie,
        ]
        .map(|m| m.as_str());
        for name in kinds.iter().chain(&methods) {
            assert!(!super::needs_escape(name.as_bytes()), "{name}");
        }
    }

    #[test]
    fn every_byte_is_classified_as_serde_json_does() {
        for b in 0u8..=0x7f {
            for len in [1, 7, 8, 9, 17] {
                for at in [0, len - 1] {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let s = String::from_utf8(s).unwrap();
                    let escaped = serde_json::to_string(&s).unwrap().len() != s.len() + 2;
                    assert_eq!(
                        super::needs_escape(s.as_bytes()),
                        escaped,
                        "{b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    use erp_core::{AuthMethod, Principal, PrincipalKind, Role, SessionId, TenantId, UserId};

    use super::write;

    /// What the handler wrote before, through `serde_json`.
    fn reference(p: &Principal) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": p.user_id,
            "kind": p.kind,
            "username": p.username,
            "display_name": p.display_name,
            "email": p.email,
            "roles": p.roles,
            "tenant": p.tenant_id,
            "auth_method": p.auth_method,
            "session_id": p.session_id,
        }))
        .unwrap()
    }

    fn principal(username: &str, display_name: Option<&str>, roles: &[&str]) -> Principal {
        Principal {
            user_id: UserId::new(),
            kind: PrincipalKind::User,
            tenant_id: TenantId::new(),
            username: username.to_owned(),
            display_name: display_name.map(str::to_owned),
            email: Some(format!("{username}@contoso.example")),
            roles: roles.iter().map(|r| Role::new(*r).unwrap()).collect(),
            auth_method: AuthMethod::AzureAd,
            session_id: None,
            issued_at: None,
            expires_at: None,
        }
    }

    /// The same bytes as `serde_json` (with `json!`'s sorted keys put back in our order).
    fn assert_same(p: &Principal) {
        let ours: serde_json::Value = serde_json::from_slice(&write(p)).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&reference(p)).unwrap();
        assert_eq!(ours, theirs);
        let expected = format!(
            "{{\"id\":{},\"kind\":{},\"username\":{},\"display_name\":{},\"email\":{},\"roles\":{},\"tenant\":{},\"auth_method\":{},\"session_id\":{}}}",
            theirs["id"],
            theirs["kind"],
            theirs["username"],
            theirs["display_name"],
            theirs["email"],
            theirs["roles"],
            theirs["tenant"],
            theirs["auth_method"],
            theirs["session_id"],
        );
        let body = write(p);
        // Sized exactly unless a string needed escaping.
        if !expected.contains('\\') {
            assert_eq!(body.len(), body.capacity(), "{expected}");
        }
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }

    #[test]
    fn plain_values_match_serde_json() {
        assert_same(&principal(
            "alice",
            Some("Alice Example"),
            &["admin", "pic"],
        ));
        assert_same(&principal("bob", None, &[]));
        let mut service = principal("svc", None, &["reader"]);
        service.kind = PrincipalKind::Service;
        service.email = None;
        service.auth_method = AuthMethod::LocalJwt;
        service.session_id = Some(SessionId::generate());
        assert_same(&service);
    }

    #[test]
    fn strings_that_need_escaping_match_serde_json() {
        for name in [
            "quote \" inside",
            "back\\slash",
            "tab\tand newline\n",
            "nul \u{0} and unit separator \u{1f}",
            "del \u{7f} stays raw",
            "Zoë Ñandú 日本語 🙂",
            "",
            "a longer name, eight bytes at a time, with a \" at byte 46",
            "another one long enough for words, a control \u{1} in it",
            "and one whose last word ends in a backslash\\",
            "exactly16bytes\"!",
        ] {
            assert_same(&principal("carol", Some(name), &["admin"]));
            assert_same(&principal(name, None, &[]));
        }
    }
}
