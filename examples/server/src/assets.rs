//! The sign-in page and the files it loads, embedded in the binary: no build step, no
//! CDN at run time. msal-browser is vendored in `static/vendor/` by `tools/msal/update.sh`.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
};

use crate::{
    AppState,
    routes::table::{Access::Public, RouteTable},
};

/// A year: the vendored files are only replaced by a new binary, and their names are not
/// fingerprinted, so a new MSAL build needs the version in the URL (see below).
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

/// The vendored msal-browser version, part of its URL so that a new build is fetched.
pub const MSAL_VERSION: &str = include_str!("../static/vendor/msal-browser.VERSION");

/// The page's routes (not API: they are not in [`crate::ROUTES`] or the OpenAPI document).
pub fn routes(table: RouteTable) -> RouteTable {
    let version = MSAL_VERSION.trim();
    table
        .get("/", Public, index)
        .get("/app.js", Public, app_js)
        .get("/app.css", Public, app_css)
        .get("/auth/redirect.html", Public, redirect_page)
        .get("/redirect.js", Public, redirect_js)
        .get(
            &format!("/vendor/{version}/msal-browser.min.js"),
            Public,
            msal,
        )
        .get(
            &format!("/vendor/{version}/msal-redirect-bridge.min.js"),
            Public,
            msal_bridge,
        )
        .get(
            &format!("/vendor/{version}/msal-browser.LICENSE"),
            Public,
            msal_license,
        )
}

/// The origin (`scheme://host[:port]`) of the Entra ID authority, if configured: the only
/// third-party origin the page may talk to or frame.
fn authority_origin(app: &AppState) -> Option<String> {
    let host = &app.config.azure.as_ref()?.authority_host;
    let url = reqwest::Url::parse(host).ok()?;
    Some(url.origin().ascii_serialization()).filter(|o| o != "null")
}

/// `script-src 'self'`: no inline script, no CDN. MSAL talks to the authority (metadata,
/// tokens) and renews silently in a hidden iframe of it.
fn page_csp(app: &AppState) -> HeaderValue {
    let authority = authority_origin(app)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let frame = if authority.is_empty() {
        "'none'".to_owned()
    } else {
        authority.trim_start().to_owned()
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{authority}; frame-src {frame}; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'; object-src 'none'"
    );
    HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

async fn index(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, page_csp(&app)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        include_str!("../static/index.html").replace("{{MSAL_VERSION}}", MSAL_VERSION.trim()),
    )
}

/// MSAL's redirect target: the bridge hands the response to the opener (popup) or the
/// parent (silent iframe of our own page), or finishes a full-page redirect.
async fn redirect_page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; frame-ancestors 'self'; base-uri 'none'",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        include_str!("../static/redirect.html").replace("{{MSAL_VERSION}}", MSAL_VERSION.trim()),
    )
}

fn script(body: &'static str, cache: &'static str) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
}

async fn app_js() -> impl IntoResponse {
    script(include_str!("../static/app.js"), "no-cache")
}

async fn redirect_js() -> impl IntoResponse {
    script(include_str!("../static/redirect.js"), "no-cache")
}

async fn app_css() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        include_str!("../static/app.css"),
    )
}

async fn msal() -> impl IntoResponse {
    script(
        include_str!("../static/vendor/msal-browser.min.js"),
        LONG_CACHE,
    )
}

async fn msal_bridge() -> impl IntoResponse {
    script(
        include_str!("../static/vendor/msal-redirect-bridge.min.js"),
        LONG_CACHE,
    )
}

async fn msal_license() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(LONG_CACHE)),
        ],
        include_str!("../static/vendor/msal-browser.LICENSE"),
    )
}
