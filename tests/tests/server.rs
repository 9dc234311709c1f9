//! The reference server in-process on a real PostgreSQL (one schema per test) against
//! wiremock fakes of Azure AD, the external auth API and the IAM service.

use std::collections::HashMap;

use axum::{Router, body::Body};
use erp_auth::testkit::{FakeAzureAd, FakeGraph, RsaKey};
use erp_server::{AppState, config::ServerConfig, router, testkit::PgSchema};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate, matchers};

/// A server on its own PostgreSQL schema, dropped with the harness (even on failure).
struct Harness {
    app: Router,
    pg: PgSchema,
    admin: tokio_postgres::Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(vars: &[(&str, String)]) -> Self {
        let pg = PgSchema::new("erp_it").await;
        let admin = pg.client().await;
        let dir = tempfile::tempdir().unwrap();
        let mut env: HashMap<&str, String> = vars.iter().cloned().collect();
        env.insert("DATABASE_URL", pg.url.clone());
        env.insert("SESSION_COOKIE_SECURE", "false".into());
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        let app = router(AppState::build(config).await.unwrap());
        Harness {
            app,
            pg,
            admin,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, json, _) =
            erp_server::testkit::call(&self.app, method, path, token, body).await;
        (status, json)
    }

    /// Like [`call`](Self::call) with the `WWW-Authenticate` header.
    async fn challenge(&self, path: &str, token: &str) -> (StatusCode, Value, String) {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let (status, body, headers) = erp_server::testkit::send(&self.app, req).await;
        let challenge = headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, body, challenge)
    }

    async fn exec(&self, sql: &str) {
        self.admin
            .batch_execute(&sql.replace("{schema}", &self.pg.schema))
            .await
            .unwrap();
    }

    async fn count(&self, sql: &str) -> i64 {
        self.admin
            .query_one(&sql.replace("{schema}", &self.pg.schema), &[])
            .await
            .unwrap()
            .get(0)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn azure_ad_tokens_provision_users_and_map_roles() {
    let azure = FakeAzureAd::start("11111111-2222-3333-4444-555555555555", "api://erp").await;
    let h = Harness::start(&[
        ("AZURE_TENANT_ID", azure.tenant_id().to_owned()),
        ("AZURE_CLIENT_ID", "api://erp".into()),
        ("AZURE_AUTHORITY_HOST", azure.authority_host()),
        ("AZURE_AUTO_PROVISION", "true".into()),
        ("AZURE_DEFAULT_ROLE", "pic".into()),
        ("AZURE_ROLE_MAP", "Finance.Admin=admin".into()),
    ])
    .await;

    let (status, config) = h.call("GET", "/auth/config", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(config.to_string().contains("api://erp"), "{config}");

    // A directory user with a mapped app role: provisioned, admin.
    let admin = azure
        .token()
        .claim("roles", json!(["Finance.Admin"]))
        .build();
    let (status, me) = h.call("GET", "/auth/me", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_method"], "azure_ad");
    assert_eq!(me["display_name"], "Alice Chan");
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(
        h.count("SELECT count(*) FROM {schema}.users").await,
        1,
        "the directory user was provisioned once"
    );
    // An admin-only route with that token.
    let (status, body) = h
        .call("POST", "/api/v1/mssql/sync", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Another user without a mapped role gets the default role, not admin.
    let bob = azure
        .token()
        .claim("oid", "00000000-0000-0000-0000-000000000b0b")
        .claim("preferred_username", "bob@contoso.example")
        .claim("name", "Bob")
        .build();
    let (status, me) = h.call("GET", "/auth/me", Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["roles"], json!(["pic"]));
    let (status, body) = h.call("POST", "/api/v1/mssql/sync", Some(&bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Another directory account claiming Alice's e-mail is not merged into her user.
    let impostor = azure
        .token()
        .claim("oid", "00000000-0000-0000-0000-00000000bad0")
        .build();
    let (status, body) = h.call("GET", "/auth/me", Some(&impostor), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "USER_NOT_PROVISIONED");

    // Forged, foreign and expired tokens are refused with problem+json.
    let forged = azure
        .token()
        .signed_with(std::sync::Arc::new(RsaKey::generate(
            azure.current_key().kid(),
        )))
        .build();
    let wrong_audience = azure.token().claim("aud", "api://other").build();
    let expired = azure.token().claim("exp", 1_000_000_000).build();
    for (name, token) in [
        ("forged", forged),
        ("wrong audience", wrong_audience),
        ("expired", expired),
    ] {
        let (status, body) = h.call("GET", "/auth/me", Some(&token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert!(body["code"].as_str().is_some(), "{name}: {body}");
    }

    let (status, health) = h.call("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["checks"]["jwks"]["status"], "ok", "{health}");
    assert_eq!(
        health["checks"]["database"]["backend"], "postgres",
        "{health}"
    );
}

/// The external API of the DESIGN contract: any user with password "correct" is valid;
/// user "boom" makes it fail with 500.
struct FakeExternal;

impl Respond for FakeExternal {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let user = body["username"].as_str().unwrap_or_default();
        if user == "boom" {
            return ResponseTemplate::new(500);
        }
        if body["password"] == "correct" {
            ResponseTemplate::new(200).set_body_json(json!({
                "success": true, "message": "ok",
                "data": {
                    "access_token": "upstream-access", "id_token": "upstream-id",
                    "expires_in": 3600, "token_type": "Bearer",
                    "userInfo": {"id": format!("ext-{user}"), "name": "Jane Doe", "email": "jane@corp.example",
                                 "jobTitle": "Clerk", "officeLocation": "HK", "businessPhones": []},
                    "issuedAt": "2026-11-23T05:00:00Z", "expiresAt": "2026-11-23T06:00:00Z"
                },
                "timestamp": "2026-11-23T05:00:00Z"
            }))
        } else {
            ResponseTemplate::new(401).set_body_json(json!({
                "success": false, "error": "bad password", "code": "INVALID_CREDENTIALS", "timestamp": "x"
            }))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn external_auth_api_logins() {
    let upstream = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/api/auth/login"))
        .respond_with(FakeExternal)
        .mount(&upstream)
        .await;
    let h = Harness::start(&[
        ("USE_EXTERNAL_AUTH", "true".into()),
        ("EXTERNAL_AUTH_API_URL", upstream.uri()),
        ("EXTERNAL_AUTH_TIMEOUT", "2s".into()),
    ])
    .await;

    let login = json!({"username": "jane", "password": "correct"});
    let (status, body) = h.call("POST", "/auth/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, me) = h.call("GET", "/auth/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Jane Doe");
    assert_eq!(
        h.count("SELECT count(*) FROM {schema}.users WHERE external_user_id = 'ext-jane'")
            .await,
        1,
        "the external user was upserted"
    );

    let wrong = json!({"username": "jane", "password": "nope"});
    let (status, body) = h.call("POST", "/auth/login", None, Some(wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "INVALID_CREDENTIALS");

    let boom = json!({"username": "boom", "password": "correct"});
    let (status, body) = h.call("POST", "/auth/login", None, Some(boom)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "UPSTREAM_UNAVAILABLE");
    assert!(
        !body.to_string().contains("correct"),
        "no password in responses: {body}"
    );

    let (_, health) = h.call("GET", "/health", None, None).await;
    assert_eq!(
        health["checks"]["external_auth"]["status"], "ok",
        "{health}"
    );
    // The upstream failing: reported, but the server still serves local logins.
    Mock::given(matchers::method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&upstream)
        .await;
    let (status, health) = h.call("GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "local logins still work: {health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(
        health["checks"]["external_auth"]["status"], "down",
        "{health}"
    );
}

/// The IAM service of the DESIGN contract: "good" tokens belong to kim, who may read
/// books; "broken" makes it answer 500.
struct FakeIam;

impl Respond for FakeIam {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match (request.url.path(), auth) {
            ("/auth/userinfo", "Bearer good") => ResponseTemplate::new(200).set_body_json(json!({
                "id": "iam-42", "username": "kim", "email": "kim@corp.example", "name": "Kim",
                "roles": ["accountant"]
            })),
            (_, "Bearer broken") => ResponseTemplate::new(500),
            _ => ResponseTemplate::new(401),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_service_mode() {
    let iam = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(FakeIam)
        .mount(&iam)
        .await;
    let h = Harness::start(&[
        ("AUTH_MODE", "iam_service".into()),
        ("IAM_SERVICE_URL", iam.uri()),
    ])
    .await;

    let (status, me) = h.call("GET", "/auth/me", Some("good"), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_method"], "iam_service");
    assert_eq!(me["username"], "kim");
    assert_eq!(me["roles"], json!(["accountant"]));

    let (status, body) = h.call("GET", "/auth/me", Some("stolen"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The IAM failing is never an open door.
    let (status, body) = h.call("GET", "/auth/me", Some("broken"), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "UPSTREAM_UNAVAILABLE");

    let (_, health) = h.call("GET", "/health", None, None).await;
    assert_eq!(health["checks"]["iam_service"]["status"], "ok", "{health}");
}

const HOME_TID: &str = "11111111-2222-3333-4444-555555555555";
const PARTNER_TID: &str = "66666666-7777-4888-8999-aaaaaaaaaaaa";
const STRANGER_TID: &str = "0c0c0c0c-1111-4222-8333-444444444444";

/// Issue 15 through the reference server's environment: a daemon (app-only token) with
/// an app role mapped to admin runs the sync; it is a service, never a user.
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_with_an_admin_app_role_runs_the_sync_as_a_service() {
    let azure = FakeAzureAd::start(HOME_TID, "api://erp").await;
    let h = Harness::start(&[
        ("AZURE_TENANT_ID", HOME_TID.into()),
        ("AZURE_CLIENT_ID", "api://erp".into()),
        ("AZURE_AUTHORITY_HOST", azure.authority_host()),
        ("AZURE_AUTO_PROVISION", "true".into()),
        ("AZURE_ROLE_MAP", "Sync.Run=admin".into()),
        ("AZURE_REQUIRED_SCOPES", "access_as_user".into()),
    ])
    .await;
    let daemon = azure
        .app_token(
            "22222222-aaaa-4bbb-8ccc-000000000001",
            "00000000-0000-0000-0000-0000000da301",
            &["Sync.Run"],
        )
        .claim("email", "admin@contoso.example")
        .build();
    let (status, me) = h.call("GET", "/auth/me", Some(&daemon), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["kind"], "service");
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["email"], Value::Null);
    let (status, body) = h
        .call("POST", "/api/v1/mssql/sync", Some(&daemon), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.count("SELECT count(*) FROM {schema}.users WHERE azure_oid IS NOT NULL")
            .await,
        0,
        "no user was provisioned for the daemon"
    );
    assert!(
        h.count("SELECT count(*) FROM {schema}.audit_events WHERE kind = 'service_access'")
            .await
            >= 1,
        "audited as a service"
    );
    // Without the app role: no admin.
    let weak = azure
        .app_token(
            "22222222-aaaa-4bbb-8ccc-000000000002",
            "00000000-0000-0000-0000-0000000da302",
            &["Reports.Read"],
        )
        .build();
    let (status, _) = h
        .call("POST", "/api/v1/mssql/sync", Some(&weak), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // AZURE_REQUIRED_SCOPES: a delegated token without the scope is 403 insufficient_scope.
    let (status, me) = h
        .call("GET", "/auth/me", Some(&azure.token().build()), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["kind"], "user");
    let no_scope = azure.token().claim("scp", "User.Read").build();
    let (status, body, challenge) = h.challenge("/auth/me", &no_scope).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.ends_with("scope=\"access_as_user\""),
        "{challenge}"
    );
}

/// Multi-tenant app: AZURE_TENANT_ID=organizations with AZURE_ALLOWED_TENANTS; a
/// directory bound to an ERP tenant places its users there; a stranger is 401; verified
/// domains link; group overage through a fake Graph with AZURE_CLIENT_SECRET.
#[tokio::test(flavor = "multi_thread")]
async fn a_multi_tenant_app_with_bound_directories_and_group_overage() {
    let azure = FakeAzureAd::start(HOME_TID, "api://erp").await;
    let graph = FakeGraph::start().await;
    let h = Harness::start(&[
        ("AZURE_TENANT_ID", "organizations".into()),
        ("AZURE_ALLOWED_TENANTS", format!("{HOME_TID},{PARTNER_TID}")),
        ("AZURE_CLIENT_ID", "api://erp".into()),
        ("AZURE_AUTHORITY_HOST", azure.authority_host()),
        ("AZURE_AUTO_PROVISION", "true".into()),
        ("AZURE_ROLE_MAP", "g-fin=accountant".into()),
        ("AZURE_CLIENT_SECRET", FakeAzureAd::CLIENT_SECRET.into()),
        ("AZURE_GRAPH_HOST", graph.host()),
        ("AZURE_GROUPS_CACHE_TTL", "15m".into()),
        (
            "AZURE_VERIFIED_DOMAINS",
            format!("{PARTNER_TID}=partner.example"),
        ),
    ])
    .await;
    // `tenant create --azure-tenant-id` binds the partner directory to an ERP tenant.
    let partner = uuid::Uuid::now_v7();
    h.exec(&format!(
        "INSERT INTO {{schema}}.tenants (id, slug, name, azure_tenant_id, is_active, created_at, updated_at) \
         VALUES ('{partner}', 'partner', 'Partner', '{PARTNER_TID}', true, now(), now())"
    ))
    .await;
    let user = uuid::Uuid::now_v7();
    h.exec(&format!(
        "INSERT INTO {{schema}}.users (id, tenant_id, username, username_key, email, email_key, is_active, created_at, updated_at) \
         VALUES ('{user}', '{partner}', 'pat', 'pat', 'pat@partner.example', 'pat@partner.example', true, now(), now())"
    ))
    .await;

    // The partner's user with a verified domain is linked to the local account, in the
    // partner's ERP tenant; their groups come from Graph (overage).
    let oid = "00000000-0000-0000-0000-0000000000fa";
    graph.set_groups(oid, &["g-other", "g-fin"]);
    let pat = azure
        .token_for_tenant(PARTNER_TID)
        .claim("oid", oid)
        .claim("preferred_username", "pat@partner.example")
        .claim("_claim_names", json!({"groups": "src1"}))
        .build();
    let (status, me) = h.call("GET", "/auth/me", Some(&pat), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["tenant"], partner.to_string());
    assert_eq!(me["id"], user.to_string(), "linked by a verified domain");
    assert_eq!(me["roles"], json!(["accountant"]), "from Graph");

    // An allowed directory bound to no ERP tenant: a multi-tenant app's default tenant
    // belongs to no directory, so its users are not let in (403).
    let (status, body) = h
        .call("GET", "/auth/me", Some(&azure.token().build()), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "TENANT_NOT_PROVISIONED");

    // A directory outside AZURE_ALLOWED_TENANTS: 401 invalid_token.
    let stranger = azure.token_for_tenant(STRANGER_TID).build();
    let (status, body, challenge) = h.challenge("/auth/me", &stranger).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // Graph down: a valid user still gets in, without the group roles.
    graph.set_down(true);
    let other = azure
        .token_for_tenant(PARTNER_TID)
        .claim("oid", "00000000-0000-0000-0000-0000000000fb")
        .claim("preferred_username", "sam@partner.example")
        .claim("_claim_names", json!({"groups": "src1"}))
        .build();
    let (status, me) = h.call("GET", "/auth/me", Some(&other), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["roles"], json!([]));
    let (_, metrics) = h.call("GET", "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap_or_default()
            .contains("erp_auth_graph_lookups_total"),
        "{metrics}"
    );
}
