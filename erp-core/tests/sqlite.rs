//! SQLite-specific behaviour: migrations and the database file.

mod common;

use erp_core::{
    Backend, Error, NewTenant, TenantRepository,
    sql::{
        Database, DatabaseConfig, Executor, SqlTenantRepository, SqliteConfig, SqliteExecutor,
        migrate,
    },
};

async fn catalog(exec: &SqliteExecutor) -> Vec<String> {
    exec.query_raw(
        "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS item FROM sqlite_master
         UNION ALL SELECT 'mig ' || version || ' ' || checksum FROM erp_schema_migrations
         ORDER BY 1",
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String>("item").unwrap())
    .collect()
}

#[tokio::test]
async fn sqlite_migrations_run_twice_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let exec = SqliteExecutor::connect(SqliteConfig::file(dir.path().join("erp.sqlite")))
        .await
        .unwrap();
    let first = exec.migrate(migrate::SQLITE).await.unwrap();
    assert_eq!(first.applied, vec![1, 2, 3, 4, 5]);
    let before = catalog(&exec).await;
    assert!(
        before.iter().any(|i| i.starts_with("table users")),
        "{before:?}"
    );
    let second = exec.migrate(migrate::SQLITE).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, vec![1, 2, 3, 4, 5]);
    assert_eq!(catalog(&exec).await, before);
}

#[tokio::test]
async fn sqlite_data_persists_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a/b/erp.sqlite").display());
    let db = Database::connect(DatabaseConfig::from_url(&url).unwrap())
        .await
        .unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    db.migrate().await.unwrap();
    SqlTenantRepository::new(db.clone())
        .create(NewTenant::new("kept", "Kept"))
        .await
        .unwrap();
    drop(db);
    let reopened = Database::connect(DatabaseConfig::from_url(&url).unwrap())
        .await
        .unwrap();
    let report = reopened.migrate().await.unwrap();
    assert!(report.applied.is_empty());
    assert!(
        SqlTenantRepository::new(reopened)
            .by_slug("kept")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_unwritable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteExecutor::connect(SqliteConfig::file(file.join("erp.sqlite")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                backend: Backend::Sqlite,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn sqlite_edited_migration_is_refused() {
    let (db, _dir) = common::sqlite().await;
    let Database::Sqlite(exec) = db else {
        unreachable!()
    };
    exec.batch_execute_raw("UPDATE erp_schema_migrations SET checksum = 'edited'")
        .await
        .unwrap();
    let err = exec.migrate(migrate::SQLITE).await.unwrap_err();
    assert!(
        matches!(err, Error::Migration { version: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn sqlite_audit_events_round_trip() {
    let (db, _dir) = common::sqlite().await;
    common::audit_round_trip(db).await;
}

#[tokio::test]
async fn sqlite_table_columns_follow_name_resolution() {
    let (db, _dir) = common::sqlite().await;
    let Database::Sqlite(exec) = &db else {
        unreachable!()
    };
    exec.batch_execute_raw("CREATE TABLE lookalike (x INTEGER, y TEXT)")
        .await
        .unwrap();
    assert_eq!(
        db.table_columns(None, "lookalike").await.unwrap(),
        ["x", "y"]
    );
    assert_eq!(
        db.table_columns(Some("main"), "lookalike").await.unwrap(),
        ["x", "y"]
    );
    assert!(
        db.table_columns(Some("elsewhere"), "lookalike")
            .await
            .unwrap()
            .is_empty(),
        "a schema that is not attached holds no tables"
    );
    assert!(db.table_columns(None, "missing").await.unwrap().is_empty());
}
