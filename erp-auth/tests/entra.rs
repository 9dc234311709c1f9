//! Issue 15: Entra ID as a registered API. Refusals and explicit typing, safe identity
//! linking, scopes and app roles, app-only tokens, multi-tenant apps and national
//! clouds, through the layer against a wiremock Entra ID (real RSA keys, real JWTs).

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use erp_auth::{azure::AzureCloud, testkit::FakeAzureAd};
use erp_core::{
    AuditSink, AuthEvent, AuthEventKind, NewTenant, NewUser, TenantRepository, UserRepository,
};
use http::StatusCode;
use serde_json::{Value, json};

const THIRD_TID: &str = "0c0c0c0c-1111-4222-8333-444444444444";
const DAEMON_OID: &str = "00000000-0000-0000-0000-0000000da301";
const DAEMON_APP: &str = "11111111-aaaa-4bbb-8ccc-000000000001";

fn users(env: &Env) -> &dyn UserRepository {
    &env.store
}

fn tenants(env: &Env) -> &dyn TenantRepository {
    &env.store
}

fn challenge(reply: &Reply) -> String {
    reply.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn get(env: &Env, path: &str, token: &str) -> Reply {
    call(&env.app, path, Some(&format!("Bearer {token}"))).await
}

// ---- 1. refusals and explicit typing ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_outside_the_allowed_list_is_401_invalid_token() {
    let env = env().await;
    let token = env.fake.token_for_tenant(OTHER_TID).build();
    let reply = bearer(&env.app, &token).await;
    assert_401(&reply, "TOKEN_INVALID");
    assert!(challenge(&reply).contains("error=\"invalid_token\""));
    assert_eq!(
        reply.body["detail"],
        "the token's directory is not allowed for this API"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_jwt_and_at_jwt_types_are_access_tokens() {
    let env = env().await;
    for typ in [Value::Null, json!("JWT"), json!("jwt"), json!("at+jwt")] {
        let token = env.fake.token().header("typ", typ.clone()).build();
        let reply = bearer(&env.app, &token).await;
        assert_eq!(reply.status, StatusCode::OK, "typ {typ}: {:?}", reply.body);
    }
    for typ in ["JWE", "id_token+jwt", "logout+jwt", "secevent+jwt", ""] {
        let token = env.fake.token().header("typ", typ).build();
        let reply = bearer(&env.app, &token).await;
        assert_401(&reply, "TOKEN_INVALID");
        assert_eq!(
            reply.body["detail"], "the token type is not an access token",
            "{typ}"
        );
    }
}

// ---- 2. safe identity -------------------------------------------------------------------

/// A local administrator whose e-mail an attacker puts into a token.
async fn local_admin(env: &Env) -> erp_core::User {
    users(env)
        .create(
            env.tenant.id,
            NewUser::new("boss")
                .with_email("boss@contoso.example")
                .with_roles(["admin".parse().unwrap()]),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_email_claim_never_links_an_account() {
    let env = env().await;
    let boss = local_admin(&env).await;
    // A directory user who set their e-mail to the administrator's (nOAuth).
    let token = env
        .fake
        .token()
        .claim("oid", "00000000-0000-0000-0000-00000000bad1")
        .claim("preferred_username", "mallory@contoso.example")
        .claim("email", "boss@contoso.example")
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_ne!(reply.body["user_id"], boss.id.to_string(), "not the admin");
    assert_eq!(reply.body["roles"], json!(["viewer"]));
    assert_eq!(
        reply.body["email"],
        Value::Null,
        "an unverified e-mail is not kept"
    );
    let boss = users(&env)
        .by_id(env.tenant.id, boss.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(boss.azure_oid, None, "the local account was not linked");

    // Without auto-provisioning it is a 403, still no link.
    let env = env_with(Options {
        auto_provision: false,
        ..Options::default()
    })
    .await;
    local_admin(&env).await;
    let token = env
        .fake
        .token()
        .claim("email", "boss@contoso.example")
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["code"], "USER_NOT_PROVISIONED");
}

#[tokio::test(flavor = "multi_thread")]
async fn xms_edov_or_a_configured_domain_of_the_bound_directory_links() {
    // xms_edov: the directory verified the e-mail's domain.
    let env = env().await;
    let boss = local_admin(&env).await;
    let token = env
        .fake
        .token()
        .claim("email", "Boss@Contoso.example")
        .claim("xms_edov", true)
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(
        reply.body["user_id"],
        boss.id.to_string(),
        "{:?}",
        reply.body
    );

    // A domain configured as verified for the directory bound to the tenant.
    let env = env_with(Options {
        resolver: Box::new(|r, _| r.with_verified_domains(TID, ["contoso.example"])),
        ..Options::default()
    })
    .await;
    let boss = local_admin(&env).await;
    let token = env
        .fake
        .token()
        .claim("preferred_username", "boss@contoso.example")
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_eq!(
        reply.body["user_id"],
        boss.id.to_string(),
        "{:?}",
        reply.body
    );

    // The same domain declared for another directory proves nothing for this one.
    let env = env_with(Options {
        resolver: Box::new(|r, _| r.with_verified_domains(OTHER_TID, ["contoso.example"])),
        ..Options::default()
    })
    .await;
    let boss = local_admin(&env).await;
    let token = env
        .fake
        .token()
        .claim("preferred_username", "boss@contoso.example")
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_ne!(
        reply.body["user_id"],
        boss.id.to_string(),
        "{:?}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn never_across_directories() {
    // OTHER_TID is allowed but bound to no ERP tenant, so its users land in the default
    // tenant, which belongs to TID: even a verified e-mail of OTHER_TID links nothing there.
    let env = env_with(Options {
        azure: Box::new(|c| c.with_allowed_tenants([TID, OTHER_TID])),
        resolver: Box::new(|r, t| {
            r.with_default_tenant(Some(t.id))
                .with_verified_domains(OTHER_TID, ["contoso.example"])
        }),
        ..Options::default()
    })
    .await;
    let boss = local_admin(&env).await;
    let token = env
        .fake
        .token_for_tenant(OTHER_TID)
        .claim("oid", "00000000-0000-0000-0000-00000000077e")
        .claim("preferred_username", "boss@contoso.example")
        .claim("email", "boss@contoso.example")
        .claim("xms_edov", true)
        .build();
    let reply = bearer(&env.app, &token).await;
    assert_ne!(
        reply.body["user_id"],
        boss.id.to_string(),
        "{:?}",
        reply.body
    );
    let boss = users(&env)
        .by_id(env.tenant.id, boss.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(boss.azure_oid, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_default_tenant_of_one_directory_refuses_unbound_others() {
    let env = env_with(Options {
        azure: Box::new(|c| c.with_allowed_tenants([TID, OTHER_TID, THIRD_TID])),
        resolver: Box::new(|r, t| {
            r.with_default_tenant(Some(t.id))
                .with_default_directory(Some(TID.into()))
        }),
        ..Options::default()
    })
    .await;
    assert_eq!(
        bearer(&env.app, &env.fake.token().build()).await.status,
        StatusCode::OK
    );
    let other = env.fake.token_for_tenant(OTHER_TID).build();
    let reply = bearer(&env.app, &other).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "TENANT_NOT_PROVISIONED");
    // Bound to its own ERP tenant, the directory's users land there.
    let own = tenants(&env)
        .create(NewTenant::new("other", "Other").with_azure_tenant_id(OTHER_TID))
        .await
        .unwrap();
    let reply = bearer(&env.app, &other).await;
    assert_eq!(
        reply.body["tenant_id"],
        own.id.to_string(),
        "{:?}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_roles_come_from_each_token_local_grants_stay() {
    let env = env().await;
    let with_role = env
        .fake
        .token()
        .claim("roles", json!(["Finance.Admin"]))
        .build();
    let reply = bearer(&env.app, &with_role).await;
    assert_eq!(reply.body["roles"], json!(["admin"]), "{:?}", reply.body);
    let user_id: erp_core::UserId = reply.body["user_id"].as_str().unwrap().parse().unwrap();
    let stored = users(&env)
        .by_id(env.tenant.id, user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.roles.is_empty(),
        "directory roles are not stored: {:?}",
        stored.roles
    );
    assert_eq!(get(&env, "/admin", &with_role).await.status, StatusCode::OK);

    // The app role was removed in Entra ID: the next token has no admin.
    let without = env.fake.token().claim("uti", "uti-2").build();
    let reply = bearer(&env.app, &without).await;
    assert_eq!(reply.body["roles"], json!(["viewer"]));
    assert_eq!(
        get(&env, "/admin", &without).await.status,
        StatusCode::FORBIDDEN
    );

    // A role granted locally stays, next to what the token grants.
    env.store
        .set_roles(env.tenant.id, user_id, &["accountant".parse().unwrap()])
        .await
        .unwrap();
    let reply = bearer(&env.app, &without).await;
    assert_eq!(
        reply.body["roles"],
        json!(["accountant"]),
        "no default role needed"
    );
    let reply = bearer(&env.app, &with_role).await;
    assert_eq!(reply.body["roles"], json!(["accountant", "admin"]));
}

// ---- 3. scopes and app permissions ---------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn scope_and_app_role_guards() {
    let env = env().await;
    let reader = env
        .fake
        .token()
        .claim("scp", "access_as_user Books.Read")
        .build();
    let writer = env.fake.token().claim("scp", "Books.ReadWrite").build();
    let plain = env.fake.token().build();
    assert_eq!(get(&env, "/scoped", &reader).await.status, StatusCode::OK);
    assert_eq!(
        get(&env, "/handler-scope", &reader).await.status,
        StatusCode::OK
    );
    for path in ["/scoped", "/handler-scope"] {
        let denied = get(&env, path, &plain).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(denied.body["code"], "FORBIDDEN");
        assert_eq!(
            challenge(&denied),
            "Bearer realm=\"erp\", error=\"insufficient_scope\", error_description=\"a required scope or app role is missing\", scope=\"Books.Read\""
        );
    }
    assert_eq!(
        get(&env, "/any-scope", &writer).await.status,
        StatusCode::OK
    );
    let denied = get(&env, "/any-scope", &plain).await;
    assert!(challenge(&denied).ends_with("scope=\"Books.Read Books.ReadWrite\""));

    // Application permissions are `roles`, not `scp`.
    let daemon = env
        .fake
        .app_token(DAEMON_APP, DAEMON_OID, &["Sync.Run"])
        .build();
    assert_eq!(get(&env, "/app-role", &daemon).await.status, StatusCode::OK);
    assert_eq!(
        get(&env, "/scoped", &daemon).await.status,
        StatusCode::FORBIDDEN
    );
    let scp_named_like_role = env.fake.token().claim("scp", "Sync.Run").build();
    assert_eq!(
        get(&env, "/app-role", &scp_named_like_role).await.status,
        StatusCode::FORBIDDEN
    );

    // A local token carries no Entra ID permissions, whatever its roles claim says.
    let user = users(&env)
        .create(env.tenant.id, NewUser::new("local-user"))
        .await
        .unwrap();
    let local = env
        .issuer
        .issue(&erp_auth::local::TokenRequest {
            user_id: user.id,
            tenant_id: env.tenant.id,
            session_id: erp_core::SessionId::generate(),
            roles: vec!["admin".parse().unwrap()],
        })
        .unwrap();
    assert_eq!(bearer(&env.app, &local.token).await.status, StatusCode::OK);
    let reply = get(&env, "/app-role", &local.token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    // No credential at all: 401, not 403.
    let reply = call(&env.app, "/scoped", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn required_scopes_apply_to_every_delegated_token() {
    let env = env_with(Options {
        azure: Box::new(|c| c.with_required_scopes(["access_as_user", "Books.Read"])),
        ..Options::default()
    })
    .await;
    assert_eq!(
        bearer(&env.app, &env.fake.token().build()).await.status,
        StatusCode::OK
    );
    let other = env.fake.token().claim("scp", "Books.Read").build();
    assert_eq!(
        bearer(&env.app, &other).await.status,
        StatusCode::OK,
        "any one suffices"
    );
    let none = env.fake.token().claim("scp", "User.Read").build();
    let reply = bearer(&env.app, &none).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert!(challenge(&reply).ends_with("scope=\"access_as_user Books.Read\""));
    // App-only tokens carry no scp: guarded by app roles instead.
    let daemon = env
        .fake
        .app_token(DAEMON_APP, DAEMON_OID, &["Sync.Run"])
        .build();
    assert_eq!(bearer(&env.app, &daemon).await.status, StatusCode::OK);
}

// ---- 4. app-only tokens ---------------------------------------------------------------

#[derive(Default)]
struct Captured(Mutex<Vec<AuthEvent>>);

#[async_trait::async_trait]
impl AuditSink for Captured {
    async fn record(&self, event: &AuthEvent) -> erp_core::Result<()> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn app_only_tokens_are_services_never_users() {
    let audit = Arc::new(Captured::default());
    let env = env_with(Options {
        role_map: "Finance.Admin=admin,Sync.Run=admin",
        audit: Some(audit.clone()),
        ..Options::default()
    })
    .await;
    let boss = local_admin(&env).await;
    // A daemon whose token carries the administrator's e-mail.
    let daemon = env
        .fake
        .app_token(DAEMON_APP, DAEMON_OID, &["Sync.Run"])
        .claim("email", "boss@contoso.example")
        .claim("xms_edov", true)
        .claim("preferred_username", "boss@contoso.example")
        .build();
    let reply = bearer(&env.app, &daemon).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["kind"], "service");
    assert_eq!(reply.body["username"], format!("app:{DAEMON_APP}"));
    assert_eq!(reply.body["roles"], json!(["admin"]), "from its app role");
    assert_eq!(reply.body["email"], Value::Null);
    assert_ne!(reply.body["user_id"], boss.id.to_string());
    assert_eq!(get(&env, "/admin", &daemon).await.status, StatusCode::OK);
    assert_eq!(
        users(&env).list(env.tenant.id, 0, 100).await.unwrap().len(),
        1,
        "no user was provisioned for the service"
    );
    let boss = users(&env)
        .by_id(env.tenant.id, boss.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(boss.azure_oid, None);

    // Audited as a service.
    let events = audit.0.lock().unwrap().clone();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|e| e.kind == AuthEventKind::ServiceAccess)
    );
    assert_eq!(
        events[0].username.as_deref(),
        Some(&*format!("app:{DAEMON_APP}"))
    );

    // Without idtyp: no scp and oid == sub is app-only too. Unmapped app roles grant
    // nothing, and services never get the default role.
    let bare = env
        .fake
        .app_token(DAEMON_APP, DAEMON_OID, &["Reports.Read"])
        .claim("idtyp", Value::Null)
        .build();
    let reply = bearer(&env.app, &bare).await;
    assert_eq!(reply.body["kind"], "service", "{:?}", reply.body);
    assert_eq!(reply.body["roles"], json!([]));
    assert_eq!(
        get(&env, "/admin", &bare).await.status,
        StatusCode::FORBIDDEN
    );

    // People are users.
    let reply = bearer(&env.app, &env.fake.token().build()).await;
    assert_eq!(reply.body["kind"], "user");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_is_auto_provisioned_never_even_when_provisioning_is_off_it_works() {
    let env = env_with(Options {
        auto_provision: false,
        role_map: "Sync.Run=admin",
        ..Options::default()
    })
    .await;
    let daemon = env
        .fake
        .app_token(DAEMON_APP, DAEMON_OID, &["Sync.Run"])
        .build();
    let reply = bearer(&env.app, &daemon).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["kind"], "service");
    assert!(
        users(&env)
            .list(env.tenant.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- 6. multi-tenant apps -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn multi_tenant_apps_check_the_template_and_the_allowed_list() {
    for endpoint in ["organizations", "common"] {
        let env = env_with(Options {
            tenant_setting: Some(endpoint),
            azure: Box::new(|c| c.with_allowed_tenants([TID, OTHER_TID])),
            ..Options::default()
        })
        .await;
        let fabrikam = tenants(&env)
            .create(NewTenant::new("fabrikam", "Fabrikam").with_azure_tenant_id(OTHER_TID))
            .await
            .unwrap();
        // Each directory's users land in the ERP tenant bound to it.
        let reply = bearer(&env.app, &env.fake.token().build()).await;
        assert_eq!(reply.status, StatusCode::OK, "{endpoint}: {:?}", reply.body);
        assert_eq!(reply.body["tenant_id"], env.tenant.id.to_string());
        let other = env.fake.token_for_tenant(OTHER_TID).build();
        let reply = bearer(&env.app, &other).await;
        assert_eq!(reply.status, StatusCode::OK, "{endpoint}: {:?}", reply.body);
        assert_eq!(reply.body["tenant_id"], fabrikam.id.to_string());
        // v1 tokens of an allowed directory too.
        let v1 = env.fake.token_for_tenant(OTHER_TID).v1().build();
        assert_eq!(bearer(&env.app, &v1).await.status, StatusCode::OK);
        // A directory not in the list: 401.
        let third = env.fake.token_for_tenant(THIRD_TID).build();
        assert_401(&bearer(&env.app, &third).await, "TOKEN_INVALID");
        // The issuer must be the template filled with the token's own tid.
        let forged = env
            .fake
            .token_for_tenant(OTHER_TID)
            .claim("iss", env.fake.v2_issuer(TID))
            .build();
        assert_401(&bearer(&env.app, &forged).await, "TOKEN_INVALID");
        let literal = env
            .fake
            .token_for_tenant(OTHER_TID)
            .claim("iss", env.fake.v2_issuer("{tenantid}"))
            .build();
        assert_401(&bearer(&env.app, &literal).await, "TOKEN_INVALID");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn any_directory_with_a_star_still_needs_an_erp_tenant() {
    let env = env_with(Options {
        tenant_setting: Some("organizations"),
        azure: Box::new(|c| c.with_allowed_tenants(["*"])),
        ..Options::default()
    })
    .await;
    let third = env.fake.token_for_tenant(THIRD_TID).build();
    let reply = bearer(&env.app, &third).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "TENANT_NOT_PROVISIONED");
    let bound = tenants(&env)
        .create(NewTenant::new("third", "Third").with_azure_tenant_id(THIRD_TID))
        .await
        .unwrap();
    let reply = bearer(&env.app, &third).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["tenant_id"], bound.id.to_string());
    let tenants = tenants(&env).list().await.unwrap();
    assert_eq!(tenants.len(), 2);
}

// ---- 7. national clouds ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn us_government_and_china_clouds_have_their_issuer_forms() {
    for (cloud, v2_host, v1_prefix, wrong_v1) in [
        (
            AzureCloud::US_GOVERNMENT,
            "https://login.microsoftonline.us",
            "https://sts.windows.net/",
            "https://sts.chinacloudapi.cn/",
        ),
        (
            AzureCloud::CHINA,
            "https://login.partner.microsoftonline.cn",
            "https://sts.chinacloudapi.cn/",
            "https://sts.windows.net/",
        ),
    ] {
        let fake = FakeAzureAd::start_in_cloud(TID, CLIENT_ID, cloud).await;
        let env = env_with(Options {
            fake: Some(fake),
            ..Options::default()
        })
        .await;
        let v2 = env.fake.token().build();
        assert_eq!(
            env.fake.token().claims()["iss"],
            format!("{v2_host}/{TID}/v2.0")
        );
        let reply = bearer(&env.app, &v2).await;
        assert_eq!(reply.status, StatusCode::OK, "{v2_host}: {:?}", reply.body);
        let v1 = env.fake.token().v1().build();
        assert_eq!(
            env.fake.token().v1().claims()["iss"],
            format!("{v1_prefix}{TID}/")
        );
        assert_eq!(
            bearer(&env.app, &v1).await.status,
            StatusCode::OK,
            "{v1_prefix}"
        );
        // The public cloud's v2 issuer and the other cloud's v1 issuer are strangers.
        for iss in [
            format!("https://login.microsoftonline.com/{TID}/v2.0"),
            format!("{wrong_v1}{TID}/"),
        ] {
            let token = env.fake.token().claim("iss", iss.clone()).build();
            assert_401(&bearer(&env.app, &token).await, "TOKEN_INVALID");
        }
        // Multi-tenant in that cloud: the template is the cloud's.
        let mt = erp_auth::azure::AzureAdVerifier::new(
            env.fake
                .config_for("organizations")
                .with_allowed_tenants([TID, OTHER_TID]),
        )
        .unwrap();
        let store = erp_core::memory::MemoryStore::new();
        TenantRepository::create(
            &store,
            NewTenant::new("o", "O").with_azure_tenant_id(OTHER_TID),
        )
        .await
        .unwrap();
        let auth = erp_auth::Authenticator::builder(
            erp_auth::resolve::UserResolver::new(Arc::new(store.clone()), Arc::new(store))
                .with_auto_provision(true),
        )
        .with_azure(mt)
        .build()
        .unwrap();
        let other = env.fake.token_for_tenant(OTHER_TID).build();
        auth.authenticate(&other).await.unwrap();
    }
}
