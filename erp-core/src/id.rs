//! Typed identifiers.
//!
//! Tenant and user ids are UUIDs (v7, so new rows append to the primary-key index in
//! time order). Distinct types keep a user id from being passed where a tenant id is
//! expected, a mistake that would otherwise compile and leak data across tenants.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUID v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| Error::invalid($field, "not a UUID"))
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for sea_query::Value {
            fn from(id: $name) -> Self {
                sea_query::Value::Uuid(Some(id.0))
            }
        }
    };
}

uuid_id!(
    /// Identifies a tenant (an organisation using the ERP).
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// Identifies a user; unique across tenants, but always used together with its tenant.
    UserId,
    "user_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_garbage() {
        let id = TenantId::new();
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
        let err = "not-a-uuid".parse::<UserId>().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "user_id"));
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b, "v7 ids created later sort later");
    }
}
