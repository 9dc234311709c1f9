//! Fuzzes the bearer-credential path of `erp-auth`: the `Authorization` header through
//! `AuthService` (header parsing, JWT splitting and decoding, issuer routing, both
//! verifiers, user resolution) and the same bytes straight into
//! `Authenticator::authenticate`.
//!
//! Input layout: byte 0 picks the mode.
//! - odd: the rest of the input is the header value (prefixed with `Bearer ` when bit 1
//!   of byte 0 is set) and, lossily decoded, the token given to `authenticate`;
//! - even: a valid local token is issued at start-up and one of its three parts is
//!   spliced with the rest of the input (byte 1 picks the part and how, byte 2 an
//!   offset), so the fuzzer reaches the JSON, `kid`/`alg`/`typ`, signature and claim
//!   checks behind a well-formed token.
//!
//! Checked for every input: the service never errors and never panics, answers only
//! 200/401/403/503, every 401 carries `WWW-Authenticate`, a 200 reached the inner
//! service with a `Principal`, and when header and token are the same credential the
//! layer and `authenticate` agree on success.
#![no_main]

use std::{
    convert::Infallible,
    future::{Ready, ready},
    sync::{Arc, LazyLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use erp_auth::{
    AuthLayer, AuthService, Authenticator,
    azure::{AzureAdConfig, AzureAdVerifier},
    local::{KeyRing, LocalJwtConfig, LocalJwtVerifier, LocalTokenIssuer, TokenRequest},
    resolve::UserResolver,
};
use erp_core::{
    NewTenant, NewUser, Principal, Role, SessionId, TenantRepository, UserRepository,
    memory::MemoryStore,
};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Empty;
use libfuzzer_sys::fuzz_target;
use tower::{Layer, ServiceExt, service_fn, util::ServiceFn};

/// The fixed test secret (not a real secret anywhere).
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const AZURE_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

type InnerFn = fn(Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>>;
type Svc = AuthService<ServiceFn<InnerFn>>;

/// The inner service: reached only after authentication, which must have left a
/// `Principal` in the extensions.
fn inner(req: Request<()>) -> Ready<Result<Response<Empty<Bytes>>, Infallible>> {
    assert!(
        req.extensions().get::<Principal>().is_some(),
        "the inner service was called without a principal"
    );
    ready(Ok(Response::new(Empty::new())))
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    authenticator: Authenticator,
    service: Svc,
    /// The three dot-separated parts of a valid local token.
    valid_parts: [String; 3],
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let store = MemoryStore::new();
    let (tenant, user) = runtime.block_on(async {
        let tenant = TenantRepository::create(
            &store,
            NewTenant::new("acme", "Acme").with_azure_tenant_id(AZURE_TENANT),
        )
        .await
        .expect("tenant");
        let user = UserRepository::create(
            &store,
            tenant.id,
            NewUser::new("alice")
                .with_email("alice@example.com")
                .with_azure_oid("00000000-0000-0000-0000-00000000a11c")
                .with_roles([Role::new("admin").expect("role")]),
        )
        .await
        .expect("user");
        (tenant, user)
    });

    let keys = || KeyRing::new("k1", SECRET).expect("key ring");
    let local = LocalJwtVerifier::new(LocalJwtConfig::new(keys()));
    // A lifetime far beyond any fuzzing session: the spliced token must stay valid.
    let issuer = LocalTokenIssuer::new(
        LocalJwtConfig::new(keys()).with_access_ttl(Duration::from_secs(10 * 365 * 86_400)),
    );
    let token = issuer
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: tenant.id,
            session_id: SessionId::new("fuzz-session-0000000001").expect("session id"),
            roles: user.roles.clone(),
        })
        .expect("token")
        .token;
    let mut parts = token.split('.').map(str::to_owned);
    let valid_parts = [
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    ];

    // No network: a lookup of an unknown key tries the closed port once an hour at most.
    let azure = AzureAdVerifier::new(
        AzureAdConfig::new(AZURE_TENANT, "client-id")
            .with_authority_host("http://127.0.0.1:9")
            .with_min_refresh_interval(Duration::from_secs(3600))
            .with_http_timeout(Duration::from_millis(500)),
    )
    .expect("azure verifier");

    let store = Arc::new(store);
    let authenticator = Authenticator::builder(UserResolver::new(store.clone(), store))
        .with_local(local)
        .with_azure(azure)
        .build()
        .expect("authenticator");
    let service = AuthLayer::new(authenticator.clone()).layer(service_fn(inner as InnerFn));

    // The unmodified token must pass, or the splicing mode explores nothing useful.
    let fixture = Fixture {
        runtime,
        authenticator,
        service,
        valid_parts,
    };
    let status = fixture.check(format!("Bearer {token}").as_bytes(), Some(&token));
    assert_eq!(status, Some(StatusCode::OK), "the valid token was refused");
    fixture
});

impl Fixture {
    /// Runs one credential through the layer and, if given, `authenticate`. Returns the
    /// layer's status (`None` when the bytes are not a valid header value).
    fn check(&self, header_bytes: &[u8], token: Option<&str>) -> Option<StatusCode> {
        self.runtime.block_on(async {
            let direct = match token {
                Some(t) => Some(self.authenticator.authenticate(t).await.is_ok()),
                None => None,
            };
            let value = HeaderValue::from_bytes(header_bytes).ok()?;
            let request = Request::builder()
                .uri("/fuzz")
                .header(header::AUTHORIZATION, value)
                .body(())
                .expect("request");
            let response = match self.service.clone().oneshot(request).await {
                Ok(r) => r,
                Err(e) => match e {},
            };
            let status = response.status();
            assert!(
                matches!(status.as_u16(), 200 | 401 | 403 | 503),
                "unexpected status {status}"
            );
            if status == StatusCode::UNAUTHORIZED {
                assert!(
                    response.headers().contains_key(header::WWW_AUTHENTICATE),
                    "401 without WWW-Authenticate"
                );
            }
            // Same credential both ways (`Bearer <token>` with a token the header parser
            // keeps verbatim): both must agree on success.
            if let (Some(ok), Some(t)) = (direct, token)
                && header_bytes.strip_prefix(b"Bearer ") == Some(t.as_bytes())
                && !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_graphic())
            {
                assert_eq!(
                    ok,
                    status == StatusCode::OK,
                    "authenticate() and the layer disagree ({status})"
                );
            }
            Some(status)
        })
    }

    /// The valid token with one part spliced with `data`.
    fn splice(&self, data: &[u8]) -> String {
        let (selector, offset, rest) = match data {
            [s, o, rest @ ..] => (*s, *o as usize, rest),
            [s] => (*s, 0, &[][..]),
            [] => (0, 0, &[][..]),
        };
        let part = (selector % 3) as usize;
        let mut parts = self.valid_parts.clone();
        let original = &self.valid_parts[part];
        parts[part] = match (selector / 3) % 5 {
            // Replace the part with the raw bytes.
            0 => String::from_utf8_lossy(rest).into_owned(),
            // Replace the part with the base64url of the bytes (JSON / signature bytes).
            1 => URL_SAFE_NO_PAD.encode(rest),
            // Overwrite the decoded part from `offset` on, re-encode: near-valid JSON.
            2 => {
                let mut decoded = URL_SAFE_NO_PAD.decode(original).unwrap_or_default();
                let at = offset.min(decoded.len());
                let end = (at + rest.len()).min(decoded.len());
                decoded.splice(at..end, rest.iter().copied());
                URL_SAFE_NO_PAD.encode(decoded)
            }
            // Insert into the decoded part at `offset`, re-encode.
            3 => {
                let mut decoded = URL_SAFE_NO_PAD.decode(original).unwrap_or_default();
                let at = offset.min(decoded.len());
                decoded.splice(at..at, rest.iter().copied());
                URL_SAFE_NO_PAD.encode(decoded)
            }
            // Insert the raw bytes into the encoded part at `offset`.
            _ => {
                let mut s = original.clone();
                let at = offset.min(s.len());
                s.insert_str(at, &String::from_utf8_lossy(rest));
                s
            }
        };
        parts.join(".")
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let Some((&mode, rest)) = data.split_first() else {
        fixture.check(b"", Some(""));
        return;
    };
    if mode % 2 == 0 {
        let token = fixture.splice(rest);
        fixture.check(format!("Bearer {token}").as_bytes(), Some(&token));
    } else {
        let token = String::from_utf8_lossy(rest);
        let header_bytes = if mode & 2 != 0 {
            [b"Bearer ".as_slice(), rest].concat()
        } else {
            rest.to_vec()
        };
        fixture.check(&header_bytes, Some(&token));
    }
});
