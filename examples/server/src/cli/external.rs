//! `erp-server external probe`: one call to the external auth API, reported field by field
//! against the contract. It stores nothing and opens no database connection, so it works
//! while the database is down (the usual moment to ask whether the upstream is to blame).

use erp_auth::login::{ExternalAuthClient, ExternalAuthConfig, ExternalError, ExternalProbe};
use serde_json::Value;

use super::{BoxError, out};
use crate::config::ServerConfig;

/// The contract's fields (DESIGN.md, "External auth API"), as JSON pointers; tokens are
/// the ones shown masked.
const FIELDS: &[(&str, Shown)] = &[
    ("/success", Shown::Plain),
    ("/message", Shown::Plain),
    ("/data/access_token", Shown::Masked),
    ("/data/id_token", Shown::Masked),
    ("/data/expires_in", Shown::Plain),
    ("/data/token_type", Shown::Plain),
    ("/data/userInfo/id", Shown::Plain),
    ("/data/userInfo/name", Shown::Plain),
    ("/data/userInfo/email", Shown::Plain),
    ("/data/userInfo/jobTitle", Shown::Plain),
    ("/data/userInfo/officeLocation", Shown::Plain),
    ("/data/userInfo/businessPhones", Shown::Plain),
    ("/data/issuedAt", Shown::Plain),
    ("/data/expiresAt", Shown::Plain),
    ("/timestamp", Shown::Plain),
];

/// On a rejection the API sends these instead of `data`.
const ERROR_FIELDS: &[&str] = &["/success", "/error", "/code", "/timestamp"];

#[derive(Clone, Copy)]
enum Shown {
    Plain,
    Masked,
}

/// A token's first 6 characters and its length: enough to tell two apart, useless to
/// replay.
fn mask(token: &str) -> String {
    let head: String = token.chars().take(6).collect();
    format!("{head}… ({} chars)", token.chars().count())
}

fn show(value: &Value, shown: Shown) -> String {
    match (value, shown) {
        (Value::String(s), Shown::Masked) => mask(s),
        (_, Shown::Masked) => "(not a string)".into(),
        (Value::String(s), Shown::Plain) => format!("{s:?}"),
        (other, Shown::Plain) => {
            let text = other.to_string();
            if text.chars().count() > 200 {
                format!("{}…", text.chars().take(200).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn report_fields(body: &Value, fields: impl Iterator<Item = (&'static str, Shown)>) {
    for (pointer, shown) in fields {
        match body.pointer(pointer) {
            Some(Value::Null) | None => out(format!("  missing  {pointer}")),
            Some(v) => out(format!("  present  {pointer} = {}", show(v, shown))),
        }
    }
}

fn client(config: &ServerConfig) -> Result<ExternalAuthClient, BoxError> {
    let ext = config.external.as_ref().ok_or(
        "the external auth API is not configured: set USE_EXTERNAL_AUTH=true and \
         EXTERNAL_AUTH_API_URL (EXTERNAL_AUTH_ENDPOINT, EXTERNAL_AUTH_TIMEOUT optional)",
    )?;
    let config = ExternalAuthConfig::new(&ext.url, &ext.endpoint)?.with_timeout(ext.timeout);
    Ok(ExternalAuthClient::new(config)?)
}

/// Runs the probe: `Ok` when the API vouched for the user in the contract's shape.
pub(super) async fn probe(
    config: &ServerConfig,
    username: &str,
    password: &str,
) -> Result<(), BoxError> {
    let username = username.trim();
    if username.is_empty() {
        return Err("--username is empty".into());
    }
    let ext = config.external.as_ref();
    let client = client(config)?;
    let target = ext
        .map(|e| format!("{}{}", e.url, e.endpoint))
        .unwrap_or_default();
    out(format!("POST {target} as {username:?}"));
    let ExternalProbe {
        status,
        body,
        outcome,
    } = client
        .probe(username, password)
        .await
        .map_err(|e| match e {
            ExternalError::Unavailable(why) => {
                format!("no answer from the external auth API: {why}")
            }
            other => other.to_string(),
        })?;
    out(format!("HTTP status {status}"));
    match &body {
        // A contract answer, or one that is meant to be but falls short: every field.
        Some(body) if matches!(outcome, Ok(_) | Err(ExternalError::Malformed(_))) => {
            report_fields(body, FIELDS.iter().copied())
        }
        Some(body) => report_fields(body, ERROR_FIELDS.iter().map(|f| (*f, Shown::Plain))),
        None => out("  the body is not JSON"),
    }
    let user = outcome.map_err(|e| match e {
        ExternalError::InvalidCredentials => {
            format!(
                "rejected credentials: the external auth API refused {username:?} (HTTP {status})"
            )
        }
        ExternalError::Unavailable(why) => format!("the external auth API is unavailable: {why}"),
        ExternalError::Malformed(why) => format!("the answer does not follow the contract: {why}"),
    })?;
    // What the login would store (DirectoryUser): checked here the same way, so a value
    // the store would refuse shows now rather than as a failed login.
    let mapped = erp_core::DirectoryUser {
        username: username.to_owned(),
        external_user_id: user.id.clone(),
        display_name: user.name.clone(),
        email: user.email.clone(),
        refreshed_at: user.issued_at,
    }
    .validated()
    .map_err(|e| format!("the API's user would be refused by the store: {e}"))?;
    out("mapped to the local user:");
    out(format!(
        "  external_user_id = {:?}",
        mapped.external_user_id
    ));
    out(format!("  username         = {:?}", mapped.username));
    out(format!("  display_name     = {:?}", mapped.display_name));
    out(format!("  azure_email      = {:?}", mapped.email));
    out(format!("  job_title        = {:?}", user.job_title));
    out(format!(
        "  tokens expire    = {}",
        user.expires_at
            .map_or_else(|| "unknown".to_owned(), |t| t.to_rfc3339())
    ));
    out(
        "  roles            = none from the API (a new user gets none; a linked user keeps its local roles)",
    );
    out("nothing was stored");
    Ok(())
}
