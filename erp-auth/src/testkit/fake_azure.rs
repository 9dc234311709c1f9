use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

use super::RsaKey;
use crate::azure::{AzureAdConfig, AzureCloud};

#[derive(Default)]
struct State {
    /// Keys with an optional `issuer` override (else the authority's template).
    keys: Mutex<Vec<(Arc<RsaKey>, Option<String>)>>,
    down: AtomicBool,
    jwks_requests: AtomicUsize,
    discovery_requests: AtomicUsize,
    delay_ms: AtomicUsize,
    with_key_issuer: AtomicBool,
    token_requests: AtomicUsize,
}

/// The v2.0 token endpoint, for client credentials to Microsoft Graph only.
struct TokenEndpoint {
    state: Arc<State>,
    client_id: String,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.state.token_requests.fetch_add(1, Ordering::SeqCst);
        // Decode the form with the URL type wiremock already hands us.
        let mut as_query = request.url.clone();
        as_query.set_query(Some(&String::from_utf8_lossy(&request.body)));
        let form: std::collections::HashMap<String, String> =
            as_query.query_pairs().into_owned().collect();
        let field = |k: &str| form.get(k).map(String::as_str);
        let ok = field("grant_type") == Some("client_credentials")
            && field("client_id") == Some(self.client_id.as_str())
            && field("client_secret") == Some(FakeAzureAd::CLIENT_SECRET)
            && field("scope") == Some("https://graph.microsoft.com/.default");
        if !ok {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "access_token": super::FAKE_GRAPH_TOKEN,
        }))
    }
}

/// A fake Entra ID: `/{tenant}/v2.0/.well-known/openid-configuration` (the
/// `organizations` and `common` endpoints publish the `{tenantid}` template),
/// `/discovery/v2.0/keys` and a client-credentials token endpoint
/// `/{tenant}/oauth2/v2.0/token` (for [`FakeGraph`](super::FakeGraph)) on a local wiremock
/// server, with keys you control.
pub struct FakeAzureAd {
    server: MockServer,
    tenant_id: String,
    client_id: String,
    state: Arc<State>,
    /// The cloud whose issuer forms the fake's tokens carry (`None`: the fake's own URL).
    cloud: Option<AzureCloud>,
}

impl std::fmt::Debug for FakeAzureAd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAzureAd")
            .field("uri", &self.server.uri())
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

struct Discovery {
    state: Arc<State>,
    issuer_host: String,
    jwks_uri: String,
}

impl Respond for Discovery {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.state.discovery_requests.fetch_add(1, Ordering::SeqCst);
        if self.state.down.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        // As Entra ID does: the multi-tenant endpoints publish the `{tenantid}` template,
        // a directory's endpoint its own issuer.
        let tenant = request.url.path().split('/').nth(1).unwrap_or_default();
        let tenant = match tenant {
            "organizations" | "common" => "{tenantid}",
            other => other,
        };
        let issuer = format!("{}/{tenant}/v2.0", self.issuer_host);
        ResponseTemplate::new(200).set_body_json(json!({
            "issuer": issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": format!("{}/oauth2/v2.0/token", self.jwks_uri.trim_end_matches("/discovery/v2.0/keys")),
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
    }
}

struct Jwks {
    state: Arc<State>,
    key_issuer: String,
}

impl Respond for Jwks {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.state.jwks_requests.fetch_add(1, Ordering::SeqCst);
        if self.state.down.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        let with_issuer = self.state.with_key_issuer.load(Ordering::SeqCst);
        let keys: Vec<Value> = self
            .state
            .keys
            .lock()
            .expect("keys")
            .iter()
            .map(|(k, issuer)| {
                let issuer = issuer.as_deref().unwrap_or(self.key_issuer.as_str());
                k.jwk(with_issuer.then_some(issuer))
            })
            .collect();
        let delay = self.state.delay_ms.load(Ordering::SeqCst) as u64;
        ResponseTemplate::new(200)
            .set_body_json(json!({ "keys": keys }))
            .set_delay(std::time::Duration::from_millis(delay))
    }
}

impl FakeAzureAd {
    /// The client secret the fake's token endpoint accepts (`AZURE_CLIENT_SECRET`).
    pub const CLIENT_SECRET: &'static str = "fake-client-secret-for-tests";

    /// Requests made to the token endpoint so far.
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Starts the fake for directory `tenant_id` and API `client_id`, with one key `k1`.
    pub async fn start(tenant_id: &str, client_id: &str) -> Self {
        Self::start_inner(tenant_id, client_id, None).await
    }

    /// A fake standing in for a national cloud: it serves on localhost, but its
    /// discovery, keys and tokens carry `cloud`'s issuer forms (e.g.
    /// `https://login.microsoftonline.us/{tid}/v2.0`), as the real cloud's would.
    pub async fn start_in_cloud(
        tenant_id: &str,
        client_id: &str,
        cloud: impl Into<AzureCloud>,
    ) -> Self {
        Self::start_inner(tenant_id, client_id, Some(cloud.into())).await
    }

    async fn start_inner(tenant_id: &str, client_id: &str, cloud: Option<AzureCloud>) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State::default());
        state.with_key_issuer.store(true, Ordering::SeqCst);
        state
            .keys
            .lock()
            .expect("keys")
            .push((Arc::new(RsaKey::generate("k1")), None));
        let uri = server.uri();
        let issuer_host = cloud
            .as_ref()
            .map_or(uri.clone(), |c| c.issuer_host().to_owned());
        Mock::given(matchers::method("GET"))
            .and(matchers::path_regex(
                r"^/[^/]+/v2\.0/\.well-known/openid-configuration$",
            ))
            .respond_with(Discovery {
                state: Arc::clone(&state),
                issuer_host: issuer_host.clone(),
                jwks_uri: format!("{uri}/discovery/v2.0/keys"),
            })
            .mount(&server)
            .await;
        Mock::given(matchers::method("GET"))
            .and(matchers::path("/discovery/v2.0/keys"))
            .respond_with(Jwks {
                state: Arc::clone(&state),
                key_issuer: format!("{issuer_host}/{{tenantid}}/v2.0"),
            })
            .mount(&server)
            .await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path_regex(r"^/[^/]+/oauth2/v2\.0/token$"))
            .respond_with(TokenEndpoint {
                state: Arc::clone(&state),
                client_id: client_id.to_owned(),
            })
            .mount(&server)
            .await;
        Self {
            server,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            state,
            cloud,
        }
    }

    /// The base URL, to use as `AZURE_AUTHORITY_HOST`.
    pub fn authority_host(&self) -> String {
        self.server.uri()
    }

    /// A verifier configuration pointing at this fake (and, for a national-cloud fake,
    /// expecting that cloud's issuer forms).
    pub fn config(&self) -> AzureAdConfig {
        self.config_for(&self.tenant_id)
    }

    /// Like [`config`](Self::config) for another `tenant` setting, e.g. `organizations`.
    pub fn config_for(&self, tenant: &str) -> AzureAdConfig {
        let config =
            AzureAdConfig::new(tenant, &self.client_id).with_authority_host(self.authority_host());
        match &self.cloud {
            Some(cloud) => config.with_cloud(cloud.clone()),
            None => config,
        }
    }

    /// The directory id.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The v2 issuer of `tid`.
    pub fn v2_issuer(&self, tid: &str) -> String {
        match &self.cloud {
            Some(cloud) => format!("{}/{tid}/v2.0", cloud.issuer_host()),
            None => format!("{}/{tid}/v2.0", self.server.uri()),
        }
    }

    /// The v1 issuer of `tid`.
    pub fn v1_issuer(&self, tid: &str) -> String {
        format!("{}{tid}/", self.v1_prefix())
    }

    fn v1_prefix(&self) -> &str {
        self.cloud
            .as_ref()
            .map_or("https://sts.windows.net/", |c| c.v1_issuer_prefix())
    }

    /// The current signing key (the last added).
    pub fn current_key(&self) -> Arc<RsaKey> {
        Arc::clone(
            &self
                .state
                .keys
                .lock()
                .expect("keys")
                .last()
                .expect("a key")
                .0,
        )
    }

    /// Publishes a new key (rotation); returns it.
    pub fn add_key(&self, kid: &str) -> Arc<RsaKey> {
        let key = Arc::new(RsaKey::generate(kid));
        self.state
            .keys
            .lock()
            .expect("keys")
            .push((Arc::clone(&key), None));
        key
    }

    /// Publishes a key whose JWKS `issuer` is `issuer` (another cloud or tenant).
    pub fn add_key_with_issuer(&self, kid: &str, issuer: &str) -> Arc<RsaKey> {
        let key = Arc::new(RsaKey::generate(kid));
        self.state
            .keys
            .lock()
            .expect("keys")
            .push((Arc::clone(&key), Some(issuer.to_owned())));
        key
    }

    /// Stops publishing the key `kid`.
    pub fn remove_key(&self, kid: &str) {
        self.state
            .keys
            .lock()
            .expect("keys")
            .retain(|(k, _)| k.kid() != kid);
    }

    /// Makes discovery and JWKS answer 503 (IdP outage) or serve again.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Delays JWKS answers, to make concurrent requests overlap a fetch.
    pub fn set_jwks_delay(&self, delay: std::time::Duration) {
        self.state
            .delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// Whether JWKS entries carry Azure's `issuer` field (default true).
    pub fn set_key_issuer(&self, enabled: bool) {
        self.state.with_key_issuer.store(enabled, Ordering::SeqCst);
    }

    /// Every request the fake received so far, oldest first, headers included: e.g. the
    /// trace context an outgoing call carried.
    pub async fn received_requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// JWKS requests served so far.
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// A builder for a valid v2 access token for this API, signed with the current key.
    pub fn token(&self) -> AzureTokenBuilder {
        let now = chrono::Utc::now().timestamp();
        AzureTokenBuilder {
            v1_issuer_prefix: self.v1_prefix().to_owned(),
            key: self.current_key(),
            header: json!({"typ": "JWT", "alg": "RS256", "kid": self.current_key().kid()}),
            claims: json!({
                "aud": self.client_id,
                "iss": self.v2_issuer(&self.tenant_id),
                "iat": now, "nbf": now, "exp": now + 3600,
                "tid": self.tenant_id,
                "oid": "00000000-0000-0000-0000-00000000a11c",
                "sub": "subject-alice",
                "preferred_username": "alice@contoso.example",
                "name": "Alice Chan",
                "scp": "access_as_user",
                "ver": "2.0",
                "uti": "uti-1",
            }),
        }
    }

    /// A valid v2 token of directory `tid` (another directory of a multi-tenant app).
    pub fn token_for_tenant(&self, tid: &str) -> AzureTokenBuilder {
        self.token()
            .claim("tid", tid)
            .claim("iss", self.v2_issuer(tid))
    }

    /// A valid app-only (client credentials) token of the daemon `app_id` whose service
    /// principal is `oid`, with the application permissions `roles`.
    pub fn app_token(&self, app_id: &str, oid: &str, roles: &[&str]) -> AzureTokenBuilder {
        self.token()
            .claim("scp", Value::Null)
            .claim("preferred_username", Value::Null)
            .claim("name", Value::Null)
            .claim("idtyp", "app")
            .claim("oid", oid)
            .claim("sub", oid)
            .claim("azp", app_id)
            .claim("roles", json!(roles))
    }
}

/// Builds an Entra ID style token; every field can be overridden.
#[derive(Debug, Clone)]
pub struct AzureTokenBuilder {
    v1_issuer_prefix: String,
    key: Arc<RsaKey>,
    header: Value,
    claims: Value,
}

impl AzureTokenBuilder {
    /// Sets (or, with `Value::Null`, removes) a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        let map = self.claims.as_object_mut().expect("claims object");
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.to_owned(), value);
        }
        self
    }

    /// Sets (or removes) a header field.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        let map = self.header.as_object_mut().expect("header object");
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.to_owned(), value);
        }
        self
    }

    /// Makes it a v1 token (`https://sts.windows.net/{tid}/`).
    pub fn v1(self) -> Self {
        let tid = self.claims["tid"].as_str().unwrap_or_default().to_owned();
        let iss = format!("{}{tid}/", self.v1_issuer_prefix);
        self.claim("iss", iss)
            .claim("ver", "1.0")
            .claim("upn", "alice@contoso.example")
            .claim("preferred_username", Value::Null)
    }

    /// Signs with another key (its `kid` goes into the header).
    pub fn signed_with(mut self, key: Arc<RsaKey>) -> Self {
        self.header["kid"] = json!(key.kid());
        self.key = key;
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    /// Signs it.
    pub fn build(&self) -> String {
        self.key.sign(&self.header, &self.claims)
    }
}
