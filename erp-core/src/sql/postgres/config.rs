use std::{str::FromStr, time::Duration};

use crate::{Error, Result, sql::mask_url};

/// Settings of a PostgreSQL pool, built from a URL and refined with `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use erp_core::sql::PgConfig;
///
/// let cfg = PgConfig::from_url("postgres://erp:secret@localhost:5432/erp")?
///     .with_max_size(32)
///     .with_query_timeout(Duration::from_secs(5))
///     .with_schema("erp")?;
/// assert_eq!(cfg.masked_url(), "postgres://erp:***@localhost:5432/erp");
/// # Ok::<(), erp_core::Error>(())
/// ```
#[derive(Clone)]
pub struct PgConfig {
    pub(super) pg: tokio_postgres::Config,
    pub(super) masked_url: String,
    pub(super) max_size: usize,
    pub(super) wait_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) query_timeout: Duration,
    pub(super) schema: Option<String>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.masked_url)
            .field("max_size", &self.max_size)
            .field("wait_timeout", &self.wait_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

impl PgConfig {
    /// Parses a `postgres://` / `postgresql://` URL (or a key/value string). Errors name
    /// `DATABASE_URL`; use [`PgConfig::from_env_value`] to name another variable.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_env_value("DATABASE_URL", url)
    }

    /// Parses a URL read from the environment variable `var`; errors name the variable
    /// and show the URL with its password masked.
    pub fn from_env_value(var: &str, url: &str) -> Result<Self> {
        let masked_url = mask_url(url);
        let mut pg = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::config(
                var,
                format!("not a valid PostgreSQL connection string ({masked_url}): {e}"),
            )
        })?;
        if pg.get_hosts().is_empty() {
            return Err(Error::config(
                var,
                format!("no host in PostgreSQL connection string ({masked_url})"),
            ));
        }
        if pg.get_user().is_none() {
            return Err(Error::config(
                var,
                format!("no user in PostgreSQL connection string ({masked_url})"),
            ));
        }
        if pg.get_application_name().is_none() {
            pg.application_name("erp-toolkit");
        }
        let connect_timeout = pg
            .get_connect_timeout()
            .copied()
            .unwrap_or(Duration::from_secs(5));
        pg.connect_timeout(connect_timeout);
        Ok(Self {
            pg,
            masked_url,
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout,
            query_timeout: Duration::from_secs(15),
            schema: None,
        })
    }

    /// Largest number of open connections (default 16).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// How long a caller waits for a free connection before "unavailable" (default 5 s).
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// How long opening a connection (TCP, TLS, startup) may take (default 5 s, or the
    /// URL's `connect_timeout`).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.pg.connect_timeout(timeout);
        self
    }

    /// Bound on one call, from taking a connection to the last row (default 15 s). A
    /// call that runs over is cancelled on the server and its connection discarded.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Keeps every table in this schema (created by the migrations if missing), by
    /// setting `search_path` on each connection. Used to isolate test runs and to share
    /// one database between applications. Names are `[a-z_][a-z0-9_]{0,62}`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Result<Self> {
        let schema = schema.into();
        let valid = (1..=63).contains(&schema.len())
            && schema
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(Error::config(
                "schema",
                format!("{schema:?} is not a plain lower-case identifier"),
            ));
        }
        // The name was validated above, so it needs no quoting in `search_path`.
        let existing = self.pg.get_options().unwrap_or_default().to_owned();
        let options = format!("{existing} -c search_path={schema}")
            .trim()
            .to_owned();
        self.pg.options(&options);
        self.schema = Some(schema);
        Ok(self)
    }

    /// The URL with its password masked, for logs.
    pub fn masked_url(&self) -> &str {
        &self.masked_url
    }

    /// The `LISTEN`/`NOTIFY` channel of revocations. Channels are database-wide, so
    /// instances using different schemas of one database get different channels.
    pub fn revocation_channel(&self) -> String {
        match &self.schema {
            // Identifiers stop at 63 bytes; the schema name is plain ASCII.
            Some(schema) => format!("erp_rev_{}", &schema[..schema.len().min(55)]),
            None => "erp_revocations".to_owned(),
        }
    }

    /// The schema set with [`PgConfig::with_schema`].
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_name_the_variable_and_hide_the_password() {
        let err = PgConfig::from_url("postgres://erp:topsecret@db:notaport/erp").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("DATABASE_URL"), "{text}");
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("erp:***@"), "{text}");

        let err = PgConfig::from_env_value("ERP_TEST_DATABASE_URL", "postgres:///erp").unwrap_err();
        assert!(err.to_string().contains("ERP_TEST_DATABASE_URL"));
    }

    #[test]
    fn schema_names_are_restricted() {
        let cfg = PgConfig::from_url("postgres://u@h/d").unwrap();
        assert!(cfg.clone().with_schema("erp_test_1").is_ok());
        for bad in ["", "Erp", "1abc", "a;drop", "a b", "a\"b"] {
            assert!(cfg.clone().with_schema(bad).is_err(), "{bad:?}");
        }
    }
}
