//! `/auth/*` and `/admin/*`.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension, Json,
    extract::{ConnectInfo, Path, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use erp_auth::{
    Authenticated,
    login::{LoginRequest, LoginResult},
};
use erp_core::{SessionId, TenantId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{AppState, config::AuthMode, error::ApiError};

type S = State<Arc<AppState>>;

/// `GET /auth/config`: what the browser app needs to sign in. The answer depends on the
/// configuration only, so it is serialised once, when the router is built, and each
/// request gets a reference-counted copy (a fresh `json!` tree per request was the
/// larger part of this route's cost).
#[derive(Clone, Debug)]
pub struct ConfigBody(axum::body::Bytes);

impl ConfigBody {
    /// The body for `cfg`.
    pub fn new(cfg: &crate::config::ServerConfig) -> Self {
        Self(axum::body::Bytes::from(config_document(cfg).to_string()))
    }
}

impl IntoResponse for ConfigBody {
    fn into_response(self) -> Response {
        json_bytes(self.0)
    }
}

/// An already serialised JSON body as a response (what axum's `Json` would answer,
/// without serialising again). The head is built here whole, sized for the request id
/// still to come: axum's own `Content-Length` (formatted, validated, inserted after the
/// header map grew) was about 480 instructions a response.
fn json_bytes(body: impl Into<axum::body::Bytes>) -> Response {
    let body = body.into();
    let mut headers = axum::http::HeaderMap::with_capacity(3);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let mut response = Response::new(axum::body::Body::from(body));
    *response.headers_mut() = headers;
    response
}

fn config_document(cfg: &crate::config::ServerConfig) -> Value {
    let msal = match &cfg.azure {
        Some(az) => {
            let host = az.authority_host.trim_end_matches('/');
            // Microsoft's clouds get MSAL's Entra ID mode; any other authority (a proxy,
            // a standards OpenID provider) is named by its v2 issuer, which is where its
            // discovery document lives, and must be listed as known to MSAL.
            let microsoft = erp_auth::azure::AzureCloud::is_microsoft_login_host(host);
            let (authority, protocol_mode) = if microsoft {
                (format!("{host}/{}", az.tenant_id), "AAD")
            } else {
                (format!("{host}/{}/v2.0", az.tenant_id), "OIDC")
            };
            let known: Vec<String> = reqwest::Url::parse(host)
                .ok()
                .and_then(|u| {
                    u.host_str()
                        .map(|h| u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
                })
                .into_iter()
                .collect();
            json!({
                "enabled": true,
                "client_id": az.client_id,
                "tenant_id": az.tenant_id,
                "authority": authority,
                "protocol_mode": protocol_mode,
                "known_authorities": known,
                "scopes": [format!("api://{}/access_as_user", az.client_id)],
            })
        }
        None => json!({ "enabled": false }),
    };
    let mut modes = vec![match (cfg.auth_mode, cfg.external.is_some()) {
        (AuthMode::IamService, _) => "iam_service",
        (_, true) => "external",
        _ => "local",
    }];
    if cfg.azure.is_some() {
        modes.push("msal");
    }
    json!({ "msal": msal, "login_modes": modes })
}

/// The login body (the password never reaches `Debug`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    tenant: Option<String>,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// The client as `TRUSTED_PROXIES` lets us see it: the peer, or the client a trusted
/// proxy forwarded (see [`crate::client_ip`]).
fn client(
    app: &AppState,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
) -> crate::client_ip::Client {
    let peer = connect.map(|Extension(ConnectInfo(addr))| addr);
    app.config.trusted_proxies.resolve(peer, headers)
}

/// A `Set-Cookie` value, made `Secure` when a trusted proxy says the browser used HTTPS
/// (even with `SESSION_COOKIE_SECURE=false`, which is about the server's own listener).
fn cookie_for(client: crate::client_ip::Client, cookie: HeaderValue) -> HeaderValue {
    if client.https {
        crate::client_ip::make_secure(cookie)
    } else {
        cookie
    }
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect())
}

fn tokens_json(r: &LoginResult) -> Value {
    json!({
        "access_token": r.access_token,
        "token_type": "Bearer",
        "expires_in": (r.expires_at - chrono::Utc::now()).num_seconds().max(0),
        "expires_at": r.expires_at,
        "refresh_at": r.refresh_at,
        "refresh_token": r.refresh_token.expose(),
        "refresh_expires_at": r.refresh_expires_at,
        "session_id": r.session_id,
        "auth_method": r.auth_method,
        "user": r.user,
        "upstream_expires_at": r.upstream_expires_at,
    })
}

/// `POST /auth/login`: tokens in the body, and the session cookies for browsers.
pub async fn login(
    State(app): S,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|_| {
        ApiError::Validation("the body must be {\"username\", \"password\"} as JSON")
    })?;
    let client = client(&app, connect, &headers);
    let result = app
        .login
        .login(LoginRequest {
            tenant: body.tenant,
            username: body.username,
            password: body.password,
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: user_agent(&headers),
        })
        .await?;
    let cookies = app.cookies.issue(
        result.user.tenant_id,
        &result.session_id,
        result.refresh_expires_at,
    );
    let mut response = Json(tokens_json(&result)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_for(client, cookies.session));
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_for(client, cookies.csrf));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The refresh body (the token never reaches `Debug`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

impl std::fmt::Debug for RefreshBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshBody(<redacted>)")
    }
}

/// `POST /auth/refresh`: a rotated pair; a reused token revokes its family.
pub async fn refresh(
    State(app): S,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Json<RefreshBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) =
        body.map_err(|_| ApiError::Validation("the body must be {\"refresh_token\"} as JSON"))?;
    let ip = client(&app, connect, &headers).ip.map(|ip| ip.to_string());
    let result = app
        .login
        .refresh(&body.refresh_token, ip.as_deref())
        .await?;
    let mut response = Json(tokens_json(&result)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /auth/me`.
pub async fn me(req: axum::extract::Request) -> Response {
    // Borrowed from the principal the auth layer put on the request rather than cloned
    // out by the `Authenticated` extractor, and written by `me_body` rather than through
    // serde: together most of this route's cost above the auth layer (docs/performance.md).
    let Some(p) = req.extensions().get::<erp_core::Principal>() else {
        return erp_auth::MissingPrincipal.into_response();
    };
    json_bytes(super::me_body::write(p))
}

/// `POST /auth/logout`: revokes the session (or, for an Entra ID token, that token until
/// it expires) and clears the cookies.
pub async fn logout(
    State(app): S,
    Authenticated(p): Authenticated,
    claims: Option<Extension<erp_auth::TokenClaims>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client = client(&app, connect, &headers);
    let mut revoked = app.login.logout(&p).await?;
    if let Some(Extension(claims)) = &claims {
        revoked |= app.authenticator.revoke_token(&p, claims).await?;
    }
    let mut response = Json(json!({ "revoked": revoked })).into_response();
    for cookie in app.cookies.clear() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie_for(client, cookie));
    }
    Ok(response)
}

/// `GET /auth/sessions`: my active sessions.
pub async fn sessions(
    State(app): S,
    Authenticated(p): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let list = app
        .guard
        .store()
        .list_active(p.tenant_id, p.user_id, chrono::Utc::now())
        .await?;
    let items: Vec<Value> = list
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "created_at": s.created_at, "expires_at": s.expires_at,
                "last_seen_at": s.last_seen_at, "ip": s.ip, "user_agent": s.user_agent,
                "auth_method": s.auth_method, "current": p.session_id.as_ref() == Some(&s.id),
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `DELETE /auth/sessions/{jti}`: ends one of my sessions.
pub async fn delete_session(
    State(app): S,
    Authenticated(p): Authenticated,
    Path(jti): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = SessionId::new(jti).map_err(|_| ApiError::Validation("not a session id"))?;
    let session = app.guard.store().get(p.tenant_id, &id).await?;
    // Another user's session is indistinguishable from a missing one.
    if session.is_none_or(|s| s.user_id != p.user_id) {
        return Err(ApiError::NotFound("session"));
    }
    let revoked = app.guard.revoke_session(p.tenant_id, &id).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

/// `POST /admin/users/{id}/sessions/revoke` (role admin, own tenant).
pub async fn revoke_user(
    State(app): S,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user: UserId = id
        .parse()
        .map_err(|_| ApiError::Validation("not a user id"))?;
    let revoked = app.guard.revoke_user(p.tenant_id, user).await?;
    app.authenticator.invalidate_user(p.tenant_id, user);
    Ok(Json(json!({ "revoked_sessions": revoked })))
}

/// `POST /admin/tenants/{id}/sessions/revoke` (role admin, own tenant only).
pub async fn revoke_tenant(
    State(app): S,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant: TenantId = id
        .parse()
        .map_err(|_| ApiError::Validation("not a tenant id"))?;
    if tenant != p.tenant_id {
        return Err(ApiError::Forbidden);
    }
    let revoked = app.guard.revoke_tenant(tenant).await?;
    app.authenticator.invalidate_tenant(tenant);
    Ok(Json(json!({ "revoked_sessions": revoked })))
}
