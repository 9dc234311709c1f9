//! Locally issued HS256 tokens through the layer.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use erp_auth::{
    local::{KeyRing, LocalJwtConfig, LocalTokenIssuer, TokenRequest},
    testkit::sign_hs256,
};
use erp_core::{NewUser, Role, SessionId, TenantRepository, UserRepository};
use http::StatusCode;
use serde_json::json;

async fn user_token(env: &Env, roles: &[&str]) -> (String, erp_core::User) {
    let roles: Vec<Role> = roles.iter().map(|r| r.parse().unwrap()).collect();
    let user = UserRepository::create(
        &env.store,
        env.tenant.id,
        NewUser::new("ymirliu 劉念萱")
            .with_display_name("劉念萱")
            .with_roles(roles.clone()),
    )
    .await
    .unwrap();
    let issued = env
        .issuer
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: env.tenant.id,
            session_id: SessionId::generate(),
            roles,
        })
        .unwrap();
    (issued.token, user)
}

#[tokio::test(flavor = "multi_thread")]
async fn issued_tokens_authenticate_with_current_roles() {
    let env = env().await;
    let (token, user) = user_token(&env, &["accountant"]).await;
    let reply = bearer(&env.app, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["auth_method"], "local_jwt");
    assert_eq!(reply.body["display_name"], "劉念萱");
    assert_eq!(reply.body["roles"], json!(["accountant"]));
    assert!(reply.body["session_id"].is_string());
    let auth = format!("Bearer {token}");
    assert_eq!(
        call(&env.app, "/books", Some(&auth)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&env.app, "/admin", Some(&auth)).await.status,
        StatusCode::FORBIDDEN
    );

    // Roles are read from the store on each request, not trusted from the token.
    env.store
        .set_roles(env.tenant.id, user.id, &["admin".parse().unwrap()])
        .await
        .unwrap();
    assert_eq!(
        call(&env.app, "/admin", Some(&auth)).await.status,
        StatusCode::OK
    );

    env.store.deactivate(env.tenant.id, user.id).await.unwrap();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "ACCOUNT_DISABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_tenant_is_refused() {
    let env = env().await;
    let (token, _) = user_token(&env, &[]).await;
    env.store.set_active(env.tenant.id, false).await.unwrap();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "TENANT_DISABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_rotation_keeps_old_tokens_valid_until_the_old_key_is_removed() {
    let env = env().await;
    let (old_token, user) = user_token(&env, &[]).await;
    // New ring: a new signing key first, the old one still verifying.
    let rotated = LocalJwtConfig::new(
        KeyRing::new("k-2027", b"the-next-secret-0123456789abcdefghij")
            .unwrap()
            .with_key("k-2026", SECRET)
            .unwrap(),
    );
    let new_issuer = LocalTokenIssuer::new(rotated.clone());
    let new_token = new_issuer
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: env.tenant.id,
            session_id: SessionId::generate(),
            roles: vec![],
        })
        .unwrap()
        .token;
    let resolver = erp_auth::resolve::UserResolver::new(
        std::sync::Arc::new(env.store.clone()),
        std::sync::Arc::new(env.store.clone()),
    );
    let both = erp_auth::Authenticator::builder(resolver.clone())
        .with_local(erp_auth::local::LocalJwtVerifier::new(rotated))
        .build()
        .unwrap();
    assert!(both.authenticate(&old_token).await.is_ok());
    assert!(both.authenticate(&new_token).await.is_ok());
    let only_new = erp_auth::Authenticator::builder(resolver)
        .with_local(erp_auth::local::LocalJwtVerifier::new(LocalJwtConfig::new(
            KeyRing::new("k-2027", b"the-next-secret-0123456789abcdefghij").unwrap(),
        )))
        .build()
        .unwrap();
    assert!(only_new.authenticate(&new_token).await.is_ok());
    let err = only_new.authenticate(&old_token).await.unwrap_err();
    assert_eq!(err.code(), "TOKEN_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_confused_local_tokens_are_refused() {
    let env = env().await;
    let (_, user) = user_token(&env, &["admin"]).await;
    let now = Utc::now().timestamp();
    let claims = json!({
        "iss": "erp-toolkit", "aud": "erp-api", "sub": user.id.to_string(),
        "tenant": env.tenant.id.to_string(), "jti": SessionId::generate().to_string(),
        "iat": now, "nbf": now, "exp": now + 600, "roles": ["admin"],
    });
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k-2026"});
    // The reference: hand-made with the right secret, accepted.
    assert_eq!(
        bearer(&env.app, &sign_hs256(SECRET, &header, &claims))
            .await
            .status,
        StatusCode::OK
    );
    let wrong_secret = sign_hs256(b"another-secret-0123456789abcdefghijkl", &header, &claims);
    let no_typ = sign_hs256(SECRET, &json!({"alg": "HS256", "kid": "k-2026"}), &claims);
    let unknown_kid = sign_hs256(
        SECRET,
        &json!({"alg": "HS256", "typ": "at+jwt", "kid": "k-old"}),
        &claims,
    );
    let no_kid = sign_hs256(SECRET, &json!({"alg": "HS256", "typ": "at+jwt"}), &claims);
    let mut expired = claims.clone();
    expired["exp"] = json!(now - 3600);
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("someone-else");
    let mut no_jti = claims.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut azure_iss = claims.clone();
    azure_iss["iss"] = json!(format!("https://sts.windows.net/{TID}/"));
    azure_iss["tid"] = json!(TID);
    let mut other_tenant = claims.clone();
    let other = TenantRepository::create(&env.store, erp_core::NewTenant::new("other", "Other"))
        .await
        .unwrap();
    other_tenant["tenant"] = json!(other.id.to_string());
    let cases = [
        (wrong_secret, "TOKEN_INVALID"),
        (no_typ, "TOKEN_INVALID"),
        (unknown_kid, "TOKEN_INVALID"),
        (no_kid, "TOKEN_INVALID"),
        (sign_hs256(SECRET, &header, &expired), "TOKEN_EXPIRED"),
        (sign_hs256(SECRET, &header, &other_aud), "TOKEN_INVALID"),
        (sign_hs256(SECRET, &header, &no_jti), "TOKEN_INVALID"),
        // Our secret, Azure's issuer: routed to the Azure verifier, which takes RS256 only.
        (sign_hs256(SECRET, &header, &azure_iss), "TOKEN_INVALID"),
    ];
    for (token, code) in cases {
        assert_401(&bearer(&env.app, &token).await, code);
    }
    // A valid signature for a user of tenant A presented as tenant B: the user is not there.
    let reply = bearer(&env.app, &sign_hs256(SECRET, &header, &other_tenant)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // RS256 claiming our issuer is never checked with our HMAC keys.
    let rs = env.fake.current_key().sign(
        &json!({"alg": "RS256", "kid": "k-2026", "typ": "at+jwt"}),
        &claims,
    );
    assert_401(&bearer(&env.app, &rs).await, "TOKEN_INVALID");
}

#[test]
fn short_secrets_and_bad_kids_are_refused() {
    assert!(KeyRing::new("k", &[7; 31]).is_err());
    assert!(KeyRing::new("k", &[7; 32]).is_ok());
    assert!(KeyRing::new("", &[7; 32]).is_err());
    assert!(
        KeyRing::new("k", &[7; 32])
            .unwrap()
            .with_key("k", &[8; 32])
            .is_err(),
        "duplicate kid"
    );
    let ring = KeyRing::new("k", &[7; 40]).unwrap();
    assert!(
        !format!("{ring:?}").contains("7, 7"),
        "no secret bytes in Debug"
    );
}

#[test]
fn issued_tokens_carry_the_contract_claims() {
    let issuer = LocalTokenIssuer::new(local_config().with_access_ttl(Duration::from_secs(300)));
    let issued = issuer
        .issue(&TokenRequest {
            user_id: erp_core::UserId::new(),
            tenant_id: erp_core::TenantId::new(),
            session_id: SessionId::generate(),
            roles: vec!["admin".parse().unwrap()],
        })
        .unwrap();
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some("k-2026"));
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(&issued.token)
        .unwrap()
        .claims;
    for name in [
        "iss", "aud", "sub", "tenant", "jti", "iat", "nbf", "exp", "roles",
    ] {
        assert!(claims.get(name).is_some(), "missing {name}");
    }
    assert_eq!((issued.expires_at - issued.issued_at).num_seconds(), 300);
    assert_eq!(
        (issued.expires_at - issued.refresh_at(Duration::from_secs(60))).num_seconds(),
        60
    );
    assert_eq!(
        issued.refresh_at(Duration::from_secs(3600)),
        issued.issued_at,
        "never before issue"
    );
}
