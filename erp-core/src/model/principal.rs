use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Role, SessionId};
use crate::{TenantId, UserId};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// An Entra ID (Azure AD) RS256 access token.
    AzureAd,
    /// A locally issued HS256 access token.
    LocalJwt,
    /// A local username/password login.
    LocalPassword,
    /// A login through the external username/password auth API.
    ExternalApi,
    /// A token vouched for by the IAM service.
    IamService,
    /// The signed session cookie.
    Cookie,
}

impl AuthMethod {
    /// Stable snake_case name (as stored in the `sessions.auth_method` column).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::AzureAd => "azure_ad",
            AuthMethod::LocalJwt => "local_jwt",
            AuthMethod::LocalPassword => "local_password",
            AuthMethod::ExternalApi => "external_api",
            AuthMethod::IamService => "iam_service",
            AuthMethod::Cookie => "cookie",
        }
    }

    /// Parses [`AuthMethod::as_str`] output.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "azure_ad" => AuthMethod::AzureAd,
            "local_jwt" => AuthMethod::LocalJwt,
            "local_password" => AuthMethod::LocalPassword,
            "external_api" => AuthMethod::ExternalApi,
            "iam_service" => AuthMethod::IamService,
            "cookie" => AuthMethod::Cookie,
            _ => return None,
        })
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of caller a [`Principal`] is.
///
/// Entra ID app-only tokens (client credentials) are services: a daemon acting as
/// itself, never a local user account, never linked to one by e-mail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A person with a local user account.
    #[default]
    User,
    /// An application acting as itself (an Entra ID service principal).
    Service,
}

impl PrincipalKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Service => "service",
        }
    }
}

/// The authenticated caller of one request, as the auth layer puts it into the request
/// extensions for handlers to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The resolved local user; for a [`PrincipalKind::Service`] an id derived from its
    /// directory and object id (no user row exists), so revocation watermarks still apply.
    pub user_id: UserId,
    /// A person or a service.
    #[serde(default)]
    pub kind: PrincipalKind,
    /// The tenant the request acts in.
    pub tenant_id: TenantId,
    /// Login name.
    pub username: String,
    /// Human name.
    pub display_name: Option<String>,
    /// E-mail, if known.
    pub email: Option<String>,
    /// ERP roles, sorted.
    pub roles: Vec<Role>,
    /// How the credential was verified.
    pub auth_method: AuthMethod,
    /// The local session (`jti`), when there is one.
    pub session_id: Option<SessionId>,
    /// When the credential was issued (`iat`), compared with revocation watermarks.
    pub issued_at: Option<DateTime<Utc>>,
    /// When the credential expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// True for an application acting as itself.
    pub fn is_service(&self) -> bool {
        self.kind == PrincipalKind::Service
    }

    /// True if the principal holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }

    /// True if the principal holds at least one of `roles`.
    pub fn has_any_role<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> bool {
        roles.into_iter().any(|r| self.has_role(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_method_names_round_trip() {
        for m in [
            AuthMethod::AzureAd,
            AuthMethod::LocalJwt,
            AuthMethod::LocalPassword,
            AuthMethod::ExternalApi,
            AuthMethod::IamService,
            AuthMethod::Cookie,
        ] {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
            assert_eq!(
                serde_json::to_value(m).unwrap(),
                serde_json::json!(m.as_str())
            );
        }
        assert_eq!(AuthMethod::parse("AzureAd"), None);
    }

    #[test]
    fn role_checks() {
        let p = Principal {
            user_id: UserId::new(),
            kind: PrincipalKind::User,
            tenant_id: TenantId::new(),
            username: "u".into(),
            display_name: None,
            email: None,
            roles: vec![Role::new("accountant").unwrap()],
            auth_method: AuthMethod::LocalJwt,
            session_id: None,
            issued_at: None,
            expires_at: None,
        };
        assert!(p.has_role("accountant"));
        assert!(!p.has_role("admin"));
        assert!(p.has_any_role(["admin", "accountant"]));
        assert!(!p.has_any_role([]));
    }
}
