use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Role, validate_email, validate_text, validate_username};
use crate::{Result, TenantId, UserId};

/// Longest directory identifier (object id, external id) accepted.
const MAX_DIRECTORY_ID_CHARS: usize = 128;
/// Longest display name accepted.
const MAX_DISPLAY_NAME_CHARS: usize = 256;

/// A person who can sign in to one tenant.
///
/// `password_hash` is never serialised and never printed by `Debug`: it must not reach a
/// response or a log line by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Primary key.
    pub id: UserId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Login name, unique per tenant ignoring case.
    pub username: String,
    /// Contact e-mail, unique per tenant ignoring case when present.
    pub email: Option<String>,
    /// PHC-format password hash (Argon2id, or a legacy format awaiting upgrade).
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// Entra ID object id (`oid` claim) once linked.
    pub azure_oid: Option<String>,
    /// Id of the user at the external auth API (`userInfo.id`).
    pub external_user_id: Option<String>,
    /// Human name shown in the UI.
    pub display_name: Option<String>,
    /// E-mail reported by the directory, kept apart from the local `email`.
    pub azure_email: Option<String>,
    /// When the external auth API last issued tokens for this user.
    pub last_token_refresh: Option<DateTime<Utc>>,
    /// Inactive users are refused at sign-in and on every request.
    pub is_active: bool,
    /// ERP roles, sorted.
    pub roles: Vec<Role>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// True if the user has this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("azure_oid", &self.azure_oid)
            .field("external_user_id", &self.external_user_id)
            .field("display_name", &self.display_name)
            .field("is_active", &self.is_active)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// What is needed to create a [`User`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Optional e-mail.
    pub email: Option<String>,
    /// Optional PHC password hash (directory users have none).
    pub password_hash: Option<String>,
    /// Optional Entra ID object id.
    pub azure_oid: Option<String>,
    /// Optional external auth API id.
    pub external_user_id: Option<String>,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Initial roles.
    pub roles: Vec<Role>,
}

impl NewUser {
    /// A user with just a username.
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            ..Self::default()
        }
    }

    /// Sets the e-mail.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Sets the password hash (already hashed: this type never sees a password).
    pub fn with_password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }

    /// Links an Entra ID object id.
    pub fn with_azure_oid(mut self, oid: impl Into<String>) -> Self {
        self.azure_oid = Some(oid.into());
        self
    }

    /// Links an external auth API id.
    pub fn with_external_user_id(mut self, id: impl Into<String>) -> Self {
        self.external_user_id = Some(id.into());
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the initial roles.
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Checks and normalises every field; repositories call this before writing.
    pub fn validated(self) -> Result<Self> {
        let mut roles = self.roles;
        roles.sort();
        roles.dedup();
        Ok(Self {
            username: validate_username("username", &self.username)?,
            email: self
                .email
                .map(|e| validate_email("email", &e))
                .transpose()?,
            password_hash: self
                .password_hash
                .map(|h| validate_text("password_hash", &h, 1024))
                .transpose()?,
            azure_oid: self
                .azure_oid
                .map(|v| validate_text("azure_oid", &v, MAX_DIRECTORY_ID_CHARS))
                .transpose()?,
            external_user_id: self
                .external_user_id
                .map(|v| validate_text("external_user_id", &v, MAX_DIRECTORY_ID_CHARS))
                .transpose()?,
            display_name: self
                .display_name
                .map(|v| validate_text("display_name", &v, MAX_DISPLAY_NAME_CHARS))
                .transpose()?,
            roles,
        })
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("email", &self.email)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("azure_oid", &self.azure_oid)
            .field("external_user_id", &self.external_user_id)
            .field("display_name", &self.display_name)
            .field("roles", &self.roles)
            .finish()
    }
}

/// A user as reported by an external directory (the external auth API's `userInfo`).
///
/// `UserRepository::upsert_directory_user` matches it by `external_user_id`, then links an
/// unlinked local user with the same username, and otherwise creates the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// The username the person signed in with.
    pub username: String,
    /// `userInfo.id`.
    pub external_user_id: String,
    /// `userInfo.name`.
    pub display_name: Option<String>,
    /// `userInfo.email`, stored as `azure_email`.
    pub email: Option<String>,
    /// When the directory issued the tokens (`last_token_refresh`).
    pub refreshed_at: DateTime<Utc>,
}

impl DirectoryUser {
    /// Checks and normalises every field.
    pub fn validated(self) -> Result<Self> {
        Ok(Self {
            username: validate_username("username", &self.username)?,
            external_user_id: validate_text(
                "external_user_id",
                &self.external_user_id,
                MAX_DIRECTORY_ID_CHARS,
            )?,
            display_name: self
                .display_name
                .map(|v| validate_text("display_name", &v, MAX_DISPLAY_NAME_CHARS))
                .transpose()?,
            email: self
                .email
                .map(|e| validate_email("email", &e))
                .transpose()?,
            refreshed_at: self.refreshed_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_hash() {
        let new = NewUser::new("alice").with_password_hash("$argon2id$v=19$secret");
        let text = format!("{new:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn validated_sorts_and_dedups_roles() {
        let roles = ["b", "a", "b"].map(|r| Role::new(r).unwrap());
        let new = NewUser::new("x").with_roles(roles).validated().unwrap();
        assert_eq!(
            new.roles,
            vec![Role::new("a").unwrap(), Role::new("b").unwrap()]
        );
    }
}
