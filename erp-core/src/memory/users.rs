use async_trait::async_trait;

use super::MemoryStore;
use crate::{
    DirectoryUser, Error, NewTenant, NewUser, Result, Role, Tenant, TenantId, TenantRepository,
    User, UserId, UserRepository,
    model::{normalize_key, validate_text},
    time::now,
};

fn conflict(detail: &str) -> Error {
    Error::Conflict {
        entity: "user",
        detail: detail.into(),
        source: None,
    }
}

/// The uniqueness rules of the `users` table, checked against every other user of the tenant.
fn check_unique<'a>(mut others: impl Iterator<Item = &'a User>, user: &User) -> Result<()> {
    let key = normalize_key(&user.username);
    let email = user.email.as_deref().map(normalize_key);
    others.try_for_each(|o| {
        if normalize_key(&o.username) == key {
            return Err(conflict("the username is taken in this tenant"));
        }
        if email.is_some() && o.email.as_deref().map(normalize_key) == email {
            return Err(conflict("the e-mail address is in use in this tenant"));
        }
        if user.azure_oid.is_some() && o.azure_oid == user.azure_oid {
            return Err(conflict("the Azure object id is linked to another user"));
        }
        if user.external_user_id.is_some() && o.external_user_id == user.external_user_id {
            return Err(conflict("the external user id is linked to another user"));
        }
        Ok(())
    })
}

#[async_trait]
impl TenantRepository for MemoryStore {
    async fn create(&self, tenant: NewTenant) -> Result<Tenant> {
        let tenant = tenant.validated()?;
        let mut state = self.lock();
        for t in state.tenants.values() {
            if t.slug == tenant.slug {
                return Err(Error::Conflict {
                    entity: "tenant",
                    detail: "the slug is taken".into(),
                    source: None,
                });
            }
            if tenant.azure_tenant_id.is_some() && t.azure_tenant_id == tenant.azure_tenant_id {
                return Err(Error::Conflict {
                    entity: "tenant",
                    detail: "the Azure tenant id is bound to another tenant".into(),
                    source: None,
                });
            }
        }
        let at = now();
        let created = Tenant {
            id: TenantId::new(),
            slug: tenant.slug,
            name: tenant.name,
            azure_tenant_id: tenant.azure_tenant_id,
            is_active: true,
            created_at: at,
            updated_at: at,
        };
        state.tenants.insert(created.id, created.clone());
        Ok(created)
    }

    async fn by_id(&self, id: TenantId) -> Result<Option<Tenant>> {
        Ok(self.lock().tenants.get(&id).cloned())
    }

    async fn by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        let slug = slug.trim().to_ascii_lowercase();
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.slug == slug)
            .cloned())
    }

    async fn by_azure_tenant_id(&self, azure_tenant_id: &str) -> Result<Option<Tenant>> {
        let Ok(tid) = uuid::Uuid::parse_str(azure_tenant_id.trim()) else {
            return Ok(None);
        };
        let tid = tid.to_string();
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|t| t.azure_tenant_id.as_deref() == Some(tid.as_str()))
            .cloned())
    }

    async fn list(&self) -> Result<Vec<Tenant>> {
        let mut all: Vec<Tenant> = self.lock().tenants.values().cloned().collect();
        all.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(all)
    }

    async fn set_active(&self, id: TenantId, active: bool) -> Result<()> {
        let mut state = self.lock();
        let tenant = state
            .tenants
            .get_mut(&id)
            .ok_or(Error::NotFound { entity: "tenant" })?;
        tenant.is_active = active;
        tenant.updated_at = now();
        Ok(())
    }
}

impl MemoryStore {
    fn find_user(&self, tenant: TenantId, pred: impl Fn(&User) -> bool) -> Option<User> {
        self.lock()
            .users
            .values()
            .find(|u| u.tenant_id == tenant && pred(u))
            .cloned()
    }

    fn update_user(
        &self,
        tenant: TenantId,
        id: UserId,
        change: impl FnOnce(&mut User) -> Result<()>,
    ) -> Result<User> {
        let mut state = self.lock();
        let mut user = state
            .users
            .get(&id)
            .filter(|u| u.tenant_id == tenant)
            .cloned()
            .ok_or(Error::NotFound { entity: "user" })?;
        change(&mut user)?;
        check_unique(
            state
                .users
                .values()
                .filter(|o| o.tenant_id == tenant && o.id != id),
            &user,
        )?;
        user.updated_at = now();
        state.users.insert(id, user.clone());
        Ok(user)
    }

    fn insert_user(&self, user: User) -> Result<User> {
        let mut state = self.lock();
        if !state.tenants.contains_key(&user.tenant_id) {
            return Err(Error::NotFound { entity: "tenant" });
        }
        check_unique(
            state
                .users
                .values()
                .filter(|o| o.tenant_id == user.tenant_id),
            &user,
        )?;
        state.users.insert(user.id, user.clone());
        Ok(user)
    }
}

#[async_trait]
impl UserRepository for MemoryStore {
    async fn by_id(&self, tenant: TenantId, id: UserId) -> Result<Option<User>> {
        Ok(self.find_user(tenant, |u| u.id == id))
    }

    async fn by_username(&self, tenant: TenantId, username: &str) -> Result<Option<User>> {
        let key = normalize_key(username);
        Ok(self.find_user(tenant, |u| normalize_key(&u.username) == key))
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<User>> {
        let key = normalize_key(email);
        Ok(self.find_user(tenant, |u| {
            u.email.as_deref().map(normalize_key).as_deref() == Some(key.as_str())
        }))
    }

    async fn by_azure_oid(&self, tenant: TenantId, azure_oid: &str) -> Result<Option<User>> {
        let oid = azure_oid.trim();
        Ok(self.find_user(tenant, |u| u.azure_oid.as_deref() == Some(oid)))
    }

    async fn by_external_id(&self, tenant: TenantId, external_id: &str) -> Result<Option<User>> {
        let id = external_id.trim();
        Ok(self.find_user(tenant, |u| u.external_user_id.as_deref() == Some(id)))
    }

    async fn list(&self, tenant: TenantId, offset: u64, limit: u64) -> Result<Vec<User>> {
        let mut users: Vec<User> = self
            .lock()
            .users
            .values()
            .filter(|u| u.tenant_id == tenant)
            .cloned()
            .collect();
        users.sort_by_key(|u| normalize_key(&u.username));
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
        Ok(users.into_iter().skip(offset).take(limit).collect())
    }

    async fn create(&self, tenant: TenantId, user: NewUser) -> Result<User> {
        let new = user.validated()?;
        let at = now();
        self.insert_user(User {
            id: UserId::new(),
            tenant_id: tenant,
            username: new.username,
            email: new.email,
            password_hash: new.password_hash,
            azure_oid: new.azure_oid,
            external_user_id: new.external_user_id,
            display_name: new.display_name,
            azure_email: None,
            last_token_refresh: None,
            is_active: true,
            roles: new.roles,
            created_at: at,
            updated_at: at,
        })
    }

    async fn link_azure_oid(&self, tenant: TenantId, id: UserId, azure_oid: &str) -> Result<User> {
        let oid = validate_text("azure_oid", azure_oid, 128)?;
        self.update_user(tenant, id, |u| match &u.azure_oid {
            Some(existing) if *existing != oid => {
                Err(conflict("the user is linked to another Azure object id"))
            }
            _ => {
                u.azure_oid = Some(oid);
                Ok(())
            }
        })
    }

    async fn link_external_id(
        &self,
        tenant: TenantId,
        id: UserId,
        external_id: &str,
    ) -> Result<User> {
        let ext = validate_text("external_user_id", external_id, 128)?;
        // The check against other users is update_user's check_unique.
        self.update_user(tenant, id, |u| match &u.external_user_id {
            Some(existing) if *existing != ext => {
                Err(conflict("the user is linked to another external user id"))
            }
            _ => {
                u.external_user_id = Some(ext);
                Ok(())
            }
        })
    }

    async fn upsert_directory_user(&self, tenant: TenantId, user: DirectoryUser) -> Result<User> {
        let du = user.validated()?;
        let apply = |u: &mut User| {
            u.azure_email.clone_from(&du.email);
            u.last_token_refresh = Some(du.refreshed_at);
            if du.display_name.is_some() {
                u.display_name.clone_from(&du.display_name);
            }
        };
        let key = normalize_key(&du.username);
        let existing = self
            .find_user(tenant, |u| {
                u.external_user_id.as_deref() == Some(du.external_user_id.as_str())
            })
            .or_else(|| {
                self.find_user(tenant, |u| {
                    u.external_user_id.is_none() && normalize_key(&u.username) == key
                })
            });
        if let Some(found) = existing {
            return self.update_user(tenant, found.id, |u| {
                u.external_user_id = Some(du.external_user_id.clone());
                apply(u);
                Ok(())
            });
        }
        let at = now();
        let mut created = User {
            id: UserId::new(),
            tenant_id: tenant,
            username: du.username.clone(),
            email: None,
            password_hash: None,
            azure_oid: None,
            external_user_id: Some(du.external_user_id.clone()),
            display_name: None,
            azure_email: None,
            last_token_refresh: None,
            is_active: true,
            roles: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        apply(&mut created);
        self.insert_user(created)
    }

    async fn set_password_hash(&self, tenant: TenantId, id: UserId, hash: &str) -> Result<()> {
        let hash = validate_text("password_hash", hash, 1024)?;
        self.update_user(tenant, id, |u| {
            u.password_hash = Some(hash);
            Ok(())
        })
        .map(drop)
    }

    async fn set_roles(&self, tenant: TenantId, id: UserId, roles: &[Role]) -> Result<()> {
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        self.update_user(tenant, id, |u| {
            u.roles = roles;
            Ok(())
        })
        .map(drop)
    }

    async fn deactivate(&self, tenant: TenantId, id: UserId) -> Result<()> {
        self.update_user(tenant, id, |u| {
            u.is_active = false;
            Ok(())
        })
        .map(drop)
    }
}
