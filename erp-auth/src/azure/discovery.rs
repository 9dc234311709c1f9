use serde::Deserialize;

use super::AzureAdConfig;

/// The parts of the OIDC discovery document we use.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discovery {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    /// The v2 issuer with `{tenantid}` in place of the directory: as published by the
    /// multi-tenant endpoints, or derived from a single directory's issuer.
    #[serde(skip)]
    pub(crate) issuer_template: String,
}

/// Why a fetch failed; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed document: {0}")]
    Malformed(String),
}

/// Largest discovery or JWKS document accepted.
pub(crate) const MAX_DOCUMENT: usize = 1 << 20;

pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let response = crate::http_client::send(client.get(url)).await?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT as u64)
    {
        return Err(FetchError::TooLarge(MAX_DOCUMENT));
    }
    let body = response.bytes().await?;
    if body.len() > MAX_DOCUMENT {
        return Err(FetchError::TooLarge(MAX_DOCUMENT));
    }
    serde_json::from_slice(&body).map_err(|e| FetchError::Malformed(e.to_string()))
}

/// Fetches the discovery document and checks that it speaks for the configured authority.
pub(crate) async fn discover(
    client: &reqwest::Client,
    config: &AzureAdConfig,
) -> Result<Discovery, FetchError> {
    let mut doc: Discovery = get_json(client, &config.discovery_url()).await?;
    let template = config.v2_issuer("{tenantid}");
    let own = config.v2_issuer(&config.tenant);
    // The multi-tenant endpoints publish the template itself; a directory's endpoint its
    // own issuer. Anything else does not speak for this cloud and tenant.
    if doc.issuer == template || doc.issuer.eq_ignore_ascii_case(&own) {
        doc.issuer_template = template;
    } else {
        return Err(FetchError::Malformed(format!(
            "issuer {:?} is neither {template:?} nor {own:?}",
            doc.issuer
        )));
    }
    let authority_prefix = format!("{}/", config.authority_host);
    if !(doc.jwks_uri.starts_with("https://") || doc.jwks_uri.starts_with(&authority_prefix)) {
        return Err(FetchError::Malformed("jwks_uri is not https".into()));
    }
    Ok(doc)
}
