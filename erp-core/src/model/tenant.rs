use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::validate_text;
use crate::{Error, Result, TenantId};

/// An organisation using the ERP. Every tenant-owned row carries its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Primary key.
    pub id: TenantId,
    /// Short unique handle used in URLs and the CLI (`acme`, `hk-branch`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The Entra ID (Azure AD) directory id (`tid` claim) whose tokens belong here.
    pub azure_tenant_id: Option<String>,
    /// An inactive tenant is locked out entirely.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What is needed to create a [`Tenant`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewTenant {
    /// Short unique handle: 1..=63 characters of `a-z 0-9 -`, not starting with `-`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Optional Azure AD directory id.
    pub azure_tenant_id: Option<String>,
}

impl NewTenant {
    /// A tenant with a slug and a name.
    pub fn new(slug: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            name: name.into(),
            azure_tenant_id: None,
        }
    }

    /// Binds the tenant to an Azure AD directory.
    pub fn with_azure_tenant_id(mut self, tid: impl Into<String>) -> Self {
        self.azure_tenant_id = Some(tid.into());
        self
    }

    /// Checks and normalises the fields; repositories call this before writing.
    pub fn validated(self) -> Result<Self> {
        let slug = self.slug.trim().to_ascii_lowercase();
        let slug_ok = (1..=63).contains(&slug.len())
            && !slug.starts_with('-')
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(Error::invalid(
                "slug",
                "must be 1..=63 characters of a-z 0-9 - and not start with -",
            ));
        }
        let name = validate_text("name", &self.name, 200)?;
        let azure_tenant_id = match self.azure_tenant_id {
            Some(tid) => Some(
                uuid::Uuid::parse_str(tid.trim())
                    .map_err(|_| Error::invalid("azure_tenant_id", "not a directory GUID"))?
                    .to_string(),
            ),
            None => None,
        };
        Ok(Self {
            slug,
            name,
            azure_tenant_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_lowercased_and_checked() {
        let t = NewTenant::new(" ACME ", "Acme Ltd").validated().unwrap();
        assert_eq!(t.slug, "acme");
        assert!(NewTenant::new("-x", "X").validated().is_err());
        assert!(NewTenant::new("a b", "X").validated().is_err());
        assert!(NewTenant::new("ok", "").validated().is_err());
    }

    #[test]
    fn azure_tenant_id_must_be_a_guid() {
        let tid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
        let t = NewTenant::new("ms", "MS")
            .with_azure_tenant_id(tid)
            .validated()
            .unwrap();
        assert_eq!(
            t.azure_tenant_id.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        assert!(
            NewTenant::new("ms", "MS")
                .with_azure_tenant_id("contoso")
                .validated()
                .is_err()
        );
    }
}
