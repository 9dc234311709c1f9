//! Helpers shared by the server's integration tests (each test file includes this module
//! with `mod common;` and uses what it needs).
#![allow(dead_code, unreachable_pub)]

/// The PostgreSQL server tests use; CI and the README point it at the local server.
pub fn pg_base() -> String {
    std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A connection to the test server's database (outside any test schema).
pub async fn pg_client(base: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// A fresh schema on the test PostgreSQL server, dropped at the end (even on failure).
pub struct PgSchema {
    /// The server's URL.
    pub base: String,
    /// The schema's name, `<prefix>_<12 hex>`.
    pub schema: String,
    /// A `DATABASE_URL` keeping every table in the schema (libpq `options`), with the
    /// schema as `application_name` so a test can find its instances' connections.
    pub url: String,
}

impl PgSchema {
    /// Creates the schema.
    pub async fn new(prefix: &str) -> Self {
        let base = pg_base();
        let schema = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let url = format!("{base}?options=-c%20search_path%3D{schema}&application_name={schema}");
        pg_client(&base)
            .await
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        Self { base, schema, url }
    }

    /// A connection to the server (outside the schema; qualify names with it).
    pub async fn client(&self) -> tokio_postgres::Client {
        pg_client(&self.base).await
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, schema) = (self.base.clone(), self.schema.clone());
        // A runtime of its own: Drop may run inside the test's runtime, which cannot block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}
