use super::{AzureAdConfig, JwksCache};
use crate::{
    AuthError,
    jwt::{CompactJwt, check_times},
};

/// Validates Entra ID (Azure AD) access tokens.
///
/// RS256 only, `typ` absent, `JWT` or `at+jwt` (RFC 8725 §3.11), keys from the cached
/// JWKS of the configured authority; v1 (`https://sts.windows.net/{tid}/`, per cloud)
/// and v2 issuers, the v2 one equal to the discovery document's `{tenantid}` template
/// filled with the token's own `tid`, `tid` in the allowed set and equal to the
/// issuer's, the key's own `issuer` (when the JWKS states one) matching the token's,
/// `aud` one of the accepted audiences, `exp`/`nbf` with leeway, no ID tokens (`nonce`,
/// or neither `scp` nor `roles`), and, for delegated tokens, one of the required scopes.
#[derive(Debug, Clone)]
pub struct AzureAdVerifier {
    config: std::sync::Arc<AzureAdConfig>,
    jwks: JwksCache,
}

/// `typ` values of Entra ID access tokens (compared ignoring case, RFC 7515 §4.1.9).
const ACCESS_TOKEN_TYPES: [&str; 2] = ["JWT", "at+jwt"];

impl AzureAdVerifier {
    /// Builds the verifier, tries to fetch discovery and keys once (an IdP that is down
    /// now is retried on demand and in the background, it does not stop start-up) and
    /// starts the background refresher. Needs a tokio runtime.
    pub async fn start(config: AzureAdConfig) -> Result<Self, AuthError> {
        let verifier = Self::new(config)?;
        if verifier.jwks.refresh().await.is_err() {
            tracing::warn!(
                "Entra ID keys not available at start-up; Azure tokens get 503 until they are"
            );
        }
        verifier.jwks.spawn_refresher();
        Ok(verifier)
    }

    /// Builds the verifier without fetching or spawning anything; keys are fetched on the
    /// first lookup. For tests and for callers that manage refresh themselves.
    pub fn new(config: AzureAdConfig) -> Result<Self, AuthError> {
        config.validate()?;
        Ok(Self {
            jwks: JwksCache::new(config.clone())?,
            config: std::sync::Arc::new(config),
        })
    }

    /// The key cache (metrics, health).
    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// The configuration.
    pub fn config(&self) -> &AzureAdConfig {
        &self.config
    }

    /// The directory id named by an Entra ID issuer, or `None` if `iss` is not one of
    /// this authority's issuer forms. This is how the router recognises Azure tokens.
    pub(crate) fn tenant_of_issuer<'a>(&self, iss: &'a str) -> Option<&'a str> {
        let cloud = self.config.cloud();
        if let Some(rest) = iss.strip_prefix(cloud.v1_issuer_prefix()) {
            return rest.strip_suffix('/').filter(|t| !t.contains('/'));
        }
        let rest = iss.strip_prefix(cloud.issuer_host())?.strip_prefix('/')?;
        rest.strip_suffix("/v2.0").filter(|t| !t.contains('/'))
    }

    /// Verifies a token already routed here; `now` is seconds since the epoch.
    pub(crate) async fn verify(
        &self,
        jwt: &CompactJwt<'_>,
        now: i64,
    ) -> Result<std::sync::Arc<super::jwks::SigningKey>, AuthError> {
        let claims = &jwt.claims;
        if jwt.header.alg != "RS256" {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        // Explicit typing (RFC 8725 §3.11): Entra ID access tokens say `JWT` or nothing
        // (`at+jwt` once RFC 9068 typing is used); a `JWE`, `id_token+jwt`, `logout+jwt`
        // or any other kind is not an access token, whatever its signature.
        if let Some(typ) = jwt.header.typ.as_deref()
            && !ACCESS_TOKEN_TYPES
                .iter()
                .any(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(AuthError::InvalidClaims(
                "the token type is not an access token",
            ));
        }
        let iss = claims.iss.as_deref().ok_or(AuthError::UnknownIssuer)?;
        let iss_tid = self.tenant_of_issuer(iss).ok_or(AuthError::UnknownIssuer)?;
        let tid = claims
            .tid
            .as_deref()
            .ok_or(AuthError::InvalidClaims("the token has no tenant id"))?;
        if !tid.eq_ignore_ascii_case(iss_tid) {
            return Err(AuthError::InvalidClaims(
                "the tenant id does not match the issuer",
            ));
        }
        let tid = tid.to_ascii_lowercase();
        if uuid::Uuid::parse_str(&tid).is_err() {
            return Err(AuthError::InvalidClaims(
                "the tenant id is not a directory id",
            ));
        }
        if !self.config.tenant_allowed(&tid) {
            return Err(AuthError::TenantNotAllowed);
        }
        let kid = jwt.header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = self.jwks.key(kid).await?;
        // The issuer must be the metadata's issuer for this very tenant (the multi-tenant
        // endpoints publish `.../{tenantid}/v2.0`, filled with the token's own `tid`),
        // or the v1 issuer of that tenant in this cloud.
        let v1_of_token = self.config.v1_issuer(&tid);
        let issuer_ok = iss.eq_ignore_ascii_case(&v1_of_token)
            || self
                .jwks
                .issuer_template()
                .is_some_and(|t| iss.eq_ignore_ascii_case(&t.replace("{tenantid}", &tid)));
        if !issuer_ok {
            return Err(AuthError::UnknownIssuer);
        }
        if let Some(key_issuer) = &key.issuer {
            // Microsoft.Identity.Web's check: a key serves only its own cloud/tenant.
            let expected = key_issuer.replace("{tenantid}", &tid);
            let v2_of_token = self.config.v2_issuer(&tid);
            let same = expected.eq_ignore_ascii_case(iss)
                || (expected == v2_of_token && iss.eq_ignore_ascii_case(&v1_of_token));
            if !same {
                return Err(AuthError::UnknownKey);
            }
        }
        key.verifying
            .verify(jwt.message.as_bytes(), jwt.signature)?;
        check_times(claims, now, self.config.leeway.as_secs() as i64)?;
        let aud = claims
            .aud
            .as_ref()
            .ok_or(AuthError::InvalidClaims("the token has no audience"))?;
        if !aud.matches_any(&self.config.audiences) {
            return Err(AuthError::InvalidClaims(
                "the token is for another audience",
            ));
        }
        if claims.nonce.is_some() || (claims.scp.is_none() && claims.roles.is_empty()) {
            return Err(AuthError::InvalidClaims(
                "an ID token is not an access token",
            ));
        }
        if claims.oid.as_deref().is_none_or(str::is_empty) {
            return Err(AuthError::InvalidClaims("the token has no object id"));
        }
        // Last: everything above makes the token invalid (401); this makes a valid
        // token insufficient (403).
        let required = &self.config.required_scopes;
        if !required.is_empty()
            && !claims.is_app_only()
            && !required.iter().any(|s| claims.has_scope(s))
        {
            return Err(AuthError::InsufficientScope {
                scope: required.join(" ").into(),
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_issuer_forms_of_this_authority_only() {
        let v = AzureAdVerifier::new(AzureAdConfig::new(
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "cid",
        ))
        .unwrap();
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(
            v.tenant_of_issuer(&format!("https://sts.windows.net/{tid}/")),
            Some(tid)
        );
        assert_eq!(
            v.tenant_of_issuer(&format!("https://login.microsoftonline.com/{tid}/v2.0")),
            Some(tid)
        );
        for other in [
            "https://login.microsoftonline.com.evil.example/x/v2.0",
            "https://sts.windows.net/a/b/",
            "https://sts.windows.net/",
            "erp-toolkit",
            "https://login.microsoftonline.com/x/v2.0/extra",
            "https://login.microsoftonline.us/x/v2.0",
            "https://sts.chinacloudapi.cn/x/",
        ] {
            assert_eq!(v.tenant_of_issuer(other), None, "{other}");
        }
    }

    #[test]
    fn national_clouds_have_their_own_issuer_forms() {
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let china = AzureAdVerifier::new(
            AzureAdConfig::new(tid, "cid")
                .with_authority_host("https://login.partner.microsoftonline.cn"),
        )
        .unwrap();
        assert_eq!(
            china.tenant_of_issuer(&format!("https://sts.chinacloudapi.cn/{tid}/")),
            Some(tid)
        );
        assert_eq!(
            china.tenant_of_issuer(&format!(
                "https://login.partner.microsoftonline.cn/{tid}/v2.0"
            )),
            Some(tid)
        );
        assert_eq!(
            china.tenant_of_issuer(&format!("https://sts.windows.net/{tid}/")),
            None,
            "a global v1 token is not a China token"
        );
        assert_eq!(
            china.tenant_of_issuer(&format!("https://login.microsoftonline.com/{tid}/v2.0")),
            None
        );
        let gov = AzureAdVerifier::new(
            AzureAdConfig::new(tid, "cid").with_authority_host("https://login.microsoftonline.us"),
        )
        .unwrap();
        assert_eq!(
            gov.tenant_of_issuer(&format!("https://login.microsoftonline.us/{tid}/v2.0")),
            Some(tid)
        );
        assert_eq!(
            gov.tenant_of_issuer(&format!("https://sts.windows.net/{tid}/")),
            Some(tid)
        );
        assert_eq!(
            gov.tenant_of_issuer(&format!("https://login.microsoftonline.com/{tid}/v2.0")),
            None
        );
    }
}
