//! Development data for the embedded database: users and a sample legacy database.

use erp_auth::password::PasswordHasher;
use erp_core::{
    NewUser, Role, TenantId, UserRepository,
    sql::{Database, DatabaseConfig, SqliteConfig},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The development accounts (embedded database only; never in production, which needs
/// `DATABASE_URL`).
pub const DEV_USERS: [(&str, &str, &str, &str); 3] = [
    ("admin", "admin123", "Administrator", "admin"),
    ("accountant1", "account123", "Accountant One", "accountant"),
    ("pic1", "pic123", "Person In Charge One", "pic"),
];

/// Creates the development users that do not exist yet.
pub async fn dev_users(users: &dyn UserRepository, tenant: TenantId) -> Result<(), BoxError> {
    let hasher = PasswordHasher::new();
    for (username, password, name, role) in DEV_USERS {
        if users.by_username(tenant, username).await?.is_some() {
            continue;
        }
        let hasher = hasher.clone();
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hasher.hash(&password)).await??;
        let new = NewUser::new(username)
            .with_display_name(name)
            .with_password_hash(hash)
            .with_roles([role.parse::<Role>()?]);
        match users.create(tenant, new).await {
            Ok(_) => tracing::warn!(username, "created development user (embedded database)"),
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The sample legacy database (schema + data from erp-legacy/sql/sqlite), created once.
pub async fn sample_legacy(path: &std::path::Path) -> Result<Database, BoxError> {
    let fresh = !path.exists();
    let db = Database::connect(DatabaseConfig::Sqlite(SqliteConfig::file(path))).await?;
    if fresh {
        let Database::Sqlite(lite) = &db else {
            return Err("not SQLite".into());
        };
        lite.batch_execute_raw(include_str!("../../../erp-legacy/sql/sqlite/01_schema.sql"))
            .await?;
        lite.batch_execute_raw(include_str!(
            "../../../erp-legacy/sql/sqlite/02_sample_data.sql"
        ))
        .await?;
        tracing::warn!(path = %path.display(), "created the sample legacy database (development)");
    }
    Ok(db)
}
