use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// An ERP role name such as `admin`, `accountant` or `sales:read`.
///
/// 1..=64 characters of ASCII letters, digits and `_ - . :`; compared exactly. The
/// restricted alphabet keeps role names safe in logs, headers and configuration files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(String);

impl Role {
    /// Validates and wraps a role name.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        let ok_len = (1..=64).contains(&name.len());
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        if ok_len && ok_chars {
            Ok(Self(name))
        } else {
            Err(Error::invalid(
                "role",
                "must be 1..=64 characters of A-Z a-z 0-9 _ - . :",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::new(s)
    }
}

impl TryFrom<String> for Role {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Role::new(value)
    }
}

impl From<Role> for String {
    fn from(role: Role) -> Self {
        role.0
    }
}

impl PartialEq<str> for Role {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_rejects_the_rest() {
        assert_eq!(Role::new("sales:read").unwrap().as_str(), "sales:read");
        for bad in ["", "has space", "ünï", "a;drop", &"r".repeat(65)] {
            assert!(Role::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Role>("\"admin\"").is_ok());
        assert!(serde_json::from_str::<Role>("\"not ok\"").is_err());
    }
}
