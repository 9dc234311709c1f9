//! Entra ID tokens through the layer, against a wiremock Entra ID with real RSA keys.

mod common;

use std::time::Duration;

use common::*;
use erp_auth::testkit::{RsaKey, sign_hs256, unsigned_token};
use erp_core::{NewUser, UserRepository};
use http::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn valid_v2_and_v1_tokens_are_accepted() {
    let env = env().await;
    let reply = bearer(&env.app, &env.fake.token().build()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["auth_method"], "azure_ad");
    assert_eq!(reply.body["username"], "alice@contoso.example");
    assert_eq!(reply.body["display_name"], "Alice Chan");
    assert_eq!(reply.body["tenant_id"], env.tenant.id.to_string());

    let v1 = env
        .fake
        .token()
        .v1()
        .claim("aud", format!("api://{CLIENT_ID}"))
        .build();
    let reply = bearer(&env.app, &v1).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["username"], "alice@contoso.example",
        "same user, found by oid"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audience_arrays_match_if_any_entry_matches() {
    let env = env().await;
    let token = env
        .fake
        .token()
        .claim("aud", json!(["https://graph.microsoft.com", CLIENT_ID]))
        .build();
    assert_eq!(bearer(&env.app, &token).await.status, StatusCode::OK);
    let token = env
        .fake
        .token()
        .claim("aud", json!(["https://graph.microsoft.com"]))
        .build();
    assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_key_is_fetched_once_and_accepted() {
    let env = env().await;
    assert_eq!(
        bearer(&env.app, &env.fake.token().build()).await.status,
        StatusCode::OK
    );
    let before = env.fake.jwks_requests();
    let k2 = env.fake.add_key("k2");
    let token = env.fake.token().signed_with(k2).build();
    assert_eq!(bearer(&env.app, &token).await.status, StatusCode::OK);
    assert_eq!(env.fake.jwks_requests(), before + 1, "exactly one refetch");
    assert_eq!(bearer(&env.app, &token).await.status, StatusCode::OK);
    assert_eq!(
        env.fake.jwks_requests(),
        before + 1,
        "then served from the cache"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_requests_with_a_new_kid_make_one_fetch() {
    let env = env().await;
    env.fake.set_jwks_delay(Duration::from_millis(300));
    let before = env.fake.jwks_requests();
    let token = env
        .fake
        .token()
        .signed_with(env.fake.add_key("k-new"))
        .build();
    let replies = futures::future::join_all((0..1000).map(|_| {
        let app = env.app.clone();
        let token = token.clone();
        tokio::spawn(async move { bearer(&app, &token).await.status })
    }))
    .await;
    for r in replies {
        assert_eq!(r.unwrap(), StatusCode::OK);
    }
    assert_eq!(env.fake.jwks_requests(), before + 1, "single flight");
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_down_cached_keys_keep_working_unknown_kid_is_401() {
    let env = env().await;
    let good = env.fake.token().build();
    assert_eq!(bearer(&env.app, &good).await.status, StatusCode::OK);
    env.fake.set_down(true);
    assert_eq!(
        bearer(&env.app, &good).await.status,
        StatusCode::OK,
        "last known good keys"
    );
    let stranger = RsaKey::generate("unknown-kid");
    let token = env
        .fake
        .token()
        .signed_with(std::sync::Arc::new(stranger))
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_401(&reply, "TOKEN_INVALID");
    assert!(
        env.auth
            .azure()
            .unwrap()
            .jwks()
            .metrics()
            .failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_down_from_the_start_is_503_not_401_or_500() {
    let fake = erp_auth::testkit::FakeAzureAd::start(TID, CLIENT_ID).await;
    fake.set_down(true);
    let verifier = erp_auth::azure::AzureAdVerifier::start(fake.config())
        .await
        .unwrap();
    let store = erp_core::memory::MemoryStore::new();
    let auth = erp_auth::Authenticator::builder(erp_auth::resolve::UserResolver::new(
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(store),
    ))
    .with_azure(verifier)
    .build()
    .unwrap();
    let err = auth.authenticate(&fake.token().build()).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kid_floods_are_rate_limited() {
    let env = env_with(Options {
        azure: Box::new(|c| c.with_min_refresh_interval(Duration::from_secs(60))),
        ..Options::default()
    })
    .await;
    let before = env.fake.jwks_requests();
    for i in 0..20 {
        let key = std::sync::Arc::new(RsaKey::generate(format!("random-{i}")));
        let token = env.fake.token().signed_with(key).build();
        assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    }
    // The start-up fetch was less than a minute ago: no fetch at all for the flood.
    assert_eq!(env.fake.jwks_requests(), before);
    assert_eq!(
        bearer(&env.app, &env.fake.token().build()).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn time_issuer_audience_and_tenant_are_enforced() {
    let env = env().await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            env.fake.token().claim("exp", now - 3600).build(),
            "TOKEN_EXPIRED",
        ),
        (
            env.fake.token().claim("nbf", now + 3600).build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake
                .token()
                .claim("exp", serde_json::Value::Null)
                .build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake.token().claim("exp", "9999999999").build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake.token().claim("aud", "api://someone-else").build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake
                .token()
                .claim("iss", "https://evil.example/v2.0")
                .build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake
                .token()
                .claim("iss", format!("https://sts.windows.net/{OTHER_TID}/"))
                .build(),
            "TOKEN_INVALID",
        ),
        (
            env.fake
                .token()
                .claim("oid", serde_json::Value::Null)
                .build(),
            "TOKEN_INVALID",
        ),
    ];
    for (token, code) in cases {
        assert_401(&bearer(&env.app, &token).await, code);
    }
    // Expired within the leeway is still fine.
    let token = env.fake.token().claim("exp", now - 30).build();
    assert_eq!(bearer(&env.app, &token).await.status, StatusCode::OK);
    // A directory that is not allowed: the token is not valid for this API (401).
    let token = env
        .fake
        .token()
        .claim("tid", OTHER_TID)
        .claim("iss", env.fake.v2_issuer(OTHER_TID))
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_401(&reply, "TOKEN_INVALID");
    assert!(
        reply.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""),
        "{:?}",
        reply.headers
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_and_graph_tokens_are_not_access_tokens() {
    let env = env().await;
    let id_token = env
        .fake
        .token()
        .claim("scp", serde_json::Value::Null)
        .claim("nonce", "abc123")
        .build();
    assert_401(&bearer(&env.app, &id_token).await, "TOKEN_INVALID");
    let no_scope = env
        .fake
        .token()
        .claim("scp", serde_json::Value::Null)
        .build();
    assert_401(&bearer(&env.app, &no_scope).await, "TOKEN_INVALID");
    let graph = env.fake.token().header("nonce", "graph-nonce").build();
    assert_401(&bearer(&env.app, &graph).await, "TOKEN_INVALID");
    // An app-role-only token (no scp) is an access token.
    let app_role = env
        .fake
        .token()
        .claim("scp", serde_json::Value::Null)
        .claim("roles", json!(["Finance.Admin"]))
        .build();
    assert_eq!(bearer(&env.app, &app_role).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn algorithm_confusion_is_refused() {
    let env = env().await;
    let claims = env.fake.token().claims().clone();
    // alg: none
    assert_401(
        &bearer(&env.app, &unsigned_token(&claims)).await,
        "TOKEN_INVALID",
    );
    let none_with_sig = format!("{}c2ln", unsigned_token(&claims));
    assert_401(&bearer(&env.app, &none_with_sig).await, "TOKEN_INVALID");
    // HS256 signed with the RSA public key (DER and JWK modulus) as the HMAC secret.
    let key = env.fake.current_key();
    for secret in [key.public_der(), key.components().0.into_bytes()] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": key.kid()});
        let token = sign_hs256(&secret, &header, &claims);
        assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    }
    // RS512 and ES256 claims on the Azure issuer.
    for alg in ["RS512", "ES256", "PS256"] {
        let token = env.fake.token().header("alg", alg).build();
        assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_headers_are_inert() {
    let env = env().await;
    let before = env.fake.jwks_requests();
    for kid in ["../../etc/passwd", "' OR 1=1 --", "k1\u{0}", "%2e%2e%2f"] {
        let token = env.fake.token().header("kid", kid).build();
        assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    }
    let attacker = std::sync::Arc::new(RsaKey::generate("k1"));
    let (n, e) = attacker.components();
    // Self-asserted keys and key URLs are ignored: still verified against the real JWKS.
    let token = env
        .fake
        .token()
        .signed_with(std::sync::Arc::clone(&attacker))
        .header("jku", "https://evil.example/keys")
        .header("x5u", "https://evil.example/cert")
        .header("jwk", json!({"kty": "RSA", "kid": "k1", "n": n, "e": e}))
        .build();
    assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    assert!(
        env.fake.jwks_requests() <= before + 4,
        "no fetch per hostile kid beyond the refetches"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tampering_truncation_and_garbage() {
    let env = env().await;
    let good = env.fake.token().build();
    let parts: Vec<&str> = good.split('.').collect();
    let forged_claims = env
        .fake
        .token()
        .claim("oid", "00000000-0000-0000-0000-0000000000ad")
        .claims()
        .clone();
    let forged_payload = base64_url(&forged_claims.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let mut sig = parts[2].to_owned().into_bytes();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let bad_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).unwrap()
    );
    let cases = [
        tampered,
        bad_sig,
        good[..good.len() - 10].to_owned(),
        good[..good.len() / 2].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        String::from("."),
        String::from("not-a-jwt"),
        String::from("a.b.c"),
        format!("{good}.extra"),
    ];
    for token in cases {
        let reply = bearer(&env.app, &token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{token:?}: {:?}",
            reply.body
        );
    }
    for header in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer  "] {
        let reply = call(&env.app, "/me", Some(header)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header:?}");
    }
    let missing = call(&env.app, "/me", None).await;
    assert_401(&missing, "TOKEN_INVALID");
    assert_eq!(missing.headers["www-authenticate"], "Bearer realm=\"erp\"");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_64_kib_credential_is_refused_early() {
    let env = env().await;
    let huge = format!("Bearer {}", "A".repeat(64 * 1024));
    let reply = call(&env.app, "/me", Some(&huge)).await;
    assert_401(&reply, "TOKEN_INVALID");
    assert_eq!(reply.body["detail"], "the credential is too large");
    assert_eq!(env.fake.jwks_requests(), 1, "nothing fetched for it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_from_another_issuer_does_not_validate() {
    let env = env().await;
    let k1 = env.fake.current_key();
    // A key the JWKS states belongs to another tenant, and one of another cloud.
    let other_tenant = env
        .fake
        .add_key_with_issuer("other-tenant", &env.fake.v2_issuer(OTHER_TID));
    let other_cloud = env.fake.add_key_with_issuer(
        "other-cloud",
        "https://login.microsoftonline.us/{tenantid}/v2.0",
    );
    for key in [other_tenant, other_cloud] {
        let token = env.fake.token().signed_with(key).build();
        assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
    }
    // The authority's own template key signs v2 and v1 tokens of our tenant.
    let v2 = env.fake.token().signed_with(k1.clone()).build();
    assert_eq!(bearer(&env.app, &v2).await.status, StatusCode::OK);
    let v1 = env.fake.token().signed_with(k1).v1().build();
    assert_eq!(bearer(&env.app, &v1).await.status, StatusCode::OK);
    // Keys without an issuer field (most clouds) are not checked further.
    env.fake.set_key_issuer(false);
    let k3 = env.fake.add_key("k3");
    assert_eq!(
        bearer(&env.app, &env.fake.token().signed_with(k3).build())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_linked_by_email_provisioned_or_refused() {
    // Linking: an existing local user with the token's verified e-mail gets the oid.
    let env = env_with(Options {
        auto_provision: false,
        ..Options::default()
    })
    .await;
    let local = env
        .store
        .create(
            env.tenant.id,
            NewUser::new("alice").with_email("ALICE@contoso.example"),
        )
        .await
        .unwrap();
    let verified = env
        .fake
        .token()
        .claim("email", "alice@contoso.example")
        .claim("xms_edov", true)
        .build();
    let reply = bearer(&env.app, &verified).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["user_id"], local.id.to_string());
    let linked = env
        .store
        .by_id(env.tenant.id, local.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        linked.azure_oid.as_deref(),
        Some("00000000-0000-0000-0000-00000000a11c")
    );

    // Not provisioned and auto-provisioning off: 403 USER_NOT_PROVISIONED.
    let stranger = env
        .fake
        .token()
        .claim("oid", "00000000-0000-0000-0000-0000000000b0")
        .claim("preferred_username", "bob@contoso.example")
        .build();
    let reply = bearer(&env.app, &stranger).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "USER_NOT_PROVISIONED");

    // Deactivated: 403 ACCOUNT_DISABLED.
    env.store.deactivate(env.tenant.id, local.id).await.unwrap();
    let reply = bearer(&env.app, &env.fake.token().build()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "ACCOUNT_DISABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_provisioning_maps_roles_and_guards_use_them() {
    let env = env().await;
    let plain = env.fake.token().build();
    let reply = bearer(&env.app, &plain).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["roles"], json!(["viewer"]), "default role");
    assert_eq!(
        call(&env.app, "/admin", Some(&format!("Bearer {plain}")))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let admin = env
        .fake
        .token()
        .claim("oid", "00000000-0000-0000-0000-0000000000ad")
        .claim("preferred_username", "root@contoso.example")
        .claim("roles", json!(["Finance.Admin"]))
        .build();
    let reply = call(&env.app, "/admin", Some(&format!("Bearer {admin}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = call(&env.app, "/books", Some(&format!("Bearer {admin}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let denied = call(&env.app, "/books", Some(&format!("Bearer {plain}"))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["code"], "FORBIDDEN");
    assert!(
        denied.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn group_overage_is_flagged_not_silently_ignored() {
    let env = env().await;
    let overage = env
        .fake
        .token()
        .claim("_claim_names", json!({"groups": "src1"}))
        .build();
    let reply = call(&env.app, "/claims", Some(&format!("Bearer {overage}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["group_overage"], true);
    let normal = env.fake.token().claim("groups", json!(["g-1"])).build();
    let reply = call(&env.app, "/claims", Some(&format!("Bearer {normal}"))).await;
    assert_eq!(reply.body["group_overage"], false);
    assert_eq!(reply.body["groups"], json!(["g-1"]));
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}
