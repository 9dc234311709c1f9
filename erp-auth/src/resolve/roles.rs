use std::collections::HashMap;

use erp_core::Role;

use crate::{AuthError, jwt::Claims};

/// Maps Entra ID group object ids and app-role names to ERP roles (`AZURE_ROLE_MAP`).
///
/// ```
/// use erp_auth::resolve::RoleMapper;
///
/// let map = RoleMapper::parse("Finance.Admin=admin, 0b1f3c5e-1111-2222-3333-444455556666=accountant")?;
/// assert_eq!(map.len(), 2);
/// # Ok::<(), erp_auth::AuthError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RoleMapper {
    map: HashMap<String, Vec<Role>>,
}

impl RoleMapper {
    /// An empty mapper: no directory claim grants an ERP role.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `role` to holders of the group id or app role `source`.
    pub fn with_mapping(mut self, source: impl Into<String>, role: Role) -> Self {
        let roles = self.map.entry(source.into()).or_default();
        if !roles.contains(&role) {
            roles.push(role);
        }
        self
    }

    /// Parses `source=role` pairs separated by commas or semicolons; a source may appear
    /// several times to grant several roles.
    pub fn parse(spec: &str) -> Result<Self, AuthError> {
        let mut mapper = Self::new();
        for pair in spec
            .split([',', ';'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (source, role) = pair.split_once('=').ok_or_else(|| {
                AuthError::Config(format!("AZURE_ROLE_MAP entry {pair:?} is not source=role"))
            })?;
            let role = Role::new(role.trim())
                .map_err(|e| AuthError::Config(format!("AZURE_ROLE_MAP entry {pair:?}: {e}")))?;
            let source = source.trim();
            if source.is_empty() {
                return Err(AuthError::Config(format!(
                    "AZURE_ROLE_MAP entry {pair:?} has no source"
                )));
            }
            mapper = mapper.with_mapping(source, role);
        }
        Ok(mapper)
    }

    /// Number of mapped sources.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// ERP roles granted by the token's `roles` and `groups`, sorted, without duplicates.
    pub fn map(&self, claims: &Claims) -> Vec<Role> {
        self.map_sources(&claims.roles, &claims.groups)
    }

    /// ERP roles granted by app roles `roles` and group ids `groups` (from the token, or
    /// from Microsoft Graph after a group overage), sorted, without duplicates.
    pub fn map_sources(&self, roles: &[String], groups: &[String]) -> Vec<Role> {
        let mut out: Vec<Role> = roles
            .iter()
            .chain(groups)
            .filter_map(|source| self.map.get(source))
            .flatten()
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_groups_and_app_roles() {
        let mapper = RoleMapper::parse("Finance.Admin=admin; g-1=accountant, g-1=viewer").unwrap();
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "roles": ["Finance.Admin", "Unmapped"],
            "groups": ["g-1", "g-2"]
        }))
        .unwrap();
        let roles: Vec<_> = mapper.map(&claims).into_iter().map(String::from).collect();
        assert_eq!(roles, ["accountant", "admin", "viewer"]);
    }

    #[test]
    fn bad_specs_are_config_errors() {
        for bad in ["admin", "=admin", "g=not a role"] {
            assert!(
                matches!(RoleMapper::parse(bad), Err(AuthError::Config(_))),
                "{bad}"
            );
        }
        assert!(RoleMapper::parse("").unwrap().is_empty());
    }
}
