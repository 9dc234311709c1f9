//! Server configuration from the environment (and `.env`).

use std::{net::SocketAddr, path::PathBuf};

use erp_core::{Error, Result, sql::DatabaseConfig};

/// Where the embedded development database lives when `DATABASE_URL` is unset.
pub const DEFAULT_SQLITE_PATH: &str = "data/erp-dev.sqlite";

/// Deployment environment (`ERP_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local development: embedded defaults allowed.
    Development,
    /// Production: every required setting must be given explicitly.
    Production,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `ERP_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `ERP_ENV`, default development.
    pub environment: Environment,
    /// From `DATABASE_URL`, or the embedded SQLite file.
    pub database: DatabaseConfig,
    /// True when no `DATABASE_URL` was given and the embedded file is used.
    pub embedded_database: bool,
}

impl ServerConfig {
    /// Reads the configuration through `var` (the process environment in `main`).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let non_empty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let environment = match non_empty("ERP_ENV").as_deref().map(str::trim) {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(Error::config(
                    "ERP_ENV",
                    format!("{other:?} is neither development nor production"),
                ));
            }
        };
        let bind = match non_empty("ERP_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::config(
                    "ERP_BIND",
                    format!("{v:?} is not an address like 127.0.0.1:8080"),
                )
            })?,
        };
        let (database, embedded_database) = match non_empty("DATABASE_URL") {
            Some(url) => (DatabaseConfig::from_env_value("DATABASE_URL", &url)?, false),
            None if environment == Environment::Production => {
                return Err(Error::config(
                    "DATABASE_URL",
                    "is required when ERP_ENV=production (the embedded SQLite file is for development)",
                ));
            }
            None => (
                DatabaseConfig::from_url(&format!("sqlite://{DEFAULT_SQLITE_PATH}"))?,
                true,
            ),
        };
        Ok(Self {
            bind,
            environment,
            database,
            embedded_database,
        })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The embedded database file, when that is what runs.
    pub fn embedded_path(&self) -> Option<PathBuf> {
        self.embedded_database
            .then(|| PathBuf::from(DEFAULT_SQLITE_PATH))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use erp_core::Backend;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<ServerConfig> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ServerConfig::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_to_embedded_sqlite_in_development() {
        let cfg = load(&[]).unwrap();
        assert!(cfg.embedded_database);
        assert_eq!(cfg.database.backend(), Backend::Sqlite);
        assert_eq!(cfg.bind.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn production_requires_a_database_url() {
        let err = load(&[("ERP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
        let cfg = load(&[
            ("ERP_ENV", "production"),
            ("DATABASE_URL", "postgres://erp@db/erp"),
        ])
        .unwrap();
        assert_eq!(cfg.database.backend(), Backend::Postgres);
    }

    #[test]
    fn bad_values_name_their_variable_and_hide_passwords() {
        let err = load(&[("DATABASE_URL", "postgres://erp:hunter2@db:xx/erp")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("DATABASE_URL") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(
            load(&[("ERP_BIND", "nowhere")])
                .unwrap_err()
                .to_string()
                .contains("ERP_BIND")
        );
        assert!(
            load(&[("ERP_ENV", "staging")])
                .unwrap_err()
                .to_string()
                .contains("ERP_ENV")
        );
    }
}
