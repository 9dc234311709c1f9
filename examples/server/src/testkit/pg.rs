//! A PostgreSQL schema per test: created fresh, every table of the server kept in it
//! through the `DATABASE_URL` it gives, dropped when the guard is (even on failure).

/// The PostgreSQL server tests use (`ERP_TEST_DATABASE_URL`); CI and the README point
/// it at the local server.
pub fn pg_base() -> String {
    std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A connection to the test server's database (outside any test schema).
///
/// # Panics
/// If the server cannot be reached: the test needs it.
pub async fn pg_client(base: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL at ERP_TEST_DATABASE_URL");
    tokio::spawn(conn);
    client
}

/// A fresh schema on the test PostgreSQL server, dropped at the end (even on failure).
#[derive(Debug)]
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
    ///
    /// # Panics
    /// If the server cannot be reached or the schema not created.
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
            .expect("CREATE SCHEMA");
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
        // Dropped during a panic too: the schema goes even when the test failed.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
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
