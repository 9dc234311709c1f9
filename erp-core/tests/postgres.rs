//! PostgreSQL-specific behaviour: row-level security, migrations, and failure modes.

mod common;

use std::time::{Duration, Instant};

use erp_core::{
    Backend, Error, NewTenant, NewUser, TenantRepository, UserRepository,
    sql::{
        Database, Executor, PgConfig, PgExecutor, SqlTenantRepository, SqlUserRepository, migrate,
    },
};

/// A catalog fingerprint of the test schema: tables, columns, indexes and policies.
async fn catalog(exec: &PgExecutor, schema: &str) -> Vec<String> {
    let sql = format!(
        "SELECT 'col ' || table_name || '.' || column_name || ' ' || data_type AS item
           FROM information_schema.columns WHERE table_schema = '{schema}'
         UNION ALL SELECT 'idx ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = '{schema}'
         UNION ALL SELECT 'pol ' || tablename || '.' || policyname || ' ' || qual FROM pg_policies WHERE schemaname = '{schema}'
         UNION ALL SELECT 'mig ' || version || ' ' || checksum FROM {schema}.erp_schema_migrations
         ORDER BY 1"
    );
    exec.query_raw(&sql)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String>("item").unwrap())
        .collect()
}

#[tokio::test]
async fn postgres_migrations_run_twice_change_nothing() {
    let (cfg, guard) = common::postgres_config().await;
    let exec = PgExecutor::connect(cfg).await.unwrap();
    let first = exec.migrate(migrate::POSTGRES).await.unwrap();
    assert_eq!(first.applied, vec![1, 2, 3, 4, 5]);
    let before = catalog(&exec, &guard.schema).await;
    assert!(
        before
            .iter()
            .any(|i| i.starts_with("pol users.tenant_isolation")),
        "{before:?}"
    );
    let second = exec.migrate(migrate::POSTGRES).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.already_applied, vec![1, 2, 3, 4, 5]);
    assert_eq!(catalog(&exec, &guard.schema).await, before);
}

#[tokio::test]
async fn postgres_concurrent_migrations_apply_once() {
    let (cfg, _guard) = common::postgres_config().await;
    let runs = futures::future::join_all((0..4).map(|_| {
        let cfg = cfg.clone();
        async move {
            let exec = PgExecutor::connect(cfg).await.unwrap();
            exec.migrate(migrate::POSTGRES).await.unwrap()
        }
    }))
    .await;
    let applied: usize = runs.iter().map(|r| r.applied.len()).sum();
    assert_eq!(
        applied,
        migrate::POSTGRES.len(),
        "each migration applied by exactly one starter"
    );
}

#[tokio::test]
async fn postgres_edited_migration_is_refused() {
    let (exec, guard) = common::postgres().await;
    exec.batch_execute_raw(&format!(
        "UPDATE {}.erp_schema_migrations SET checksum = 'edited' WHERE version = 1",
        guard.schema
    ))
    .await
    .unwrap();
    let err = exec.migrate(migrate::POSTGRES).await.unwrap_err();
    assert!(
        matches!(err, Error::Migration { version: 1, .. }),
        "{err:?}"
    );
}

/// Row-level security is the second wall: even a raw query that forgets the tenant
/// filter sees only the tenant set in `app.current_tenant_id`.
#[tokio::test]
async fn postgres_row_level_security_hides_other_tenants() {
    let (exec, guard) = common::postgres().await;
    let db = Database::Postgres(exec.clone());
    let tenants = SqlTenantRepository::new(db.clone());
    let users = SqlUserRepository::new(db);
    let a = tenants.create(NewTenant::new("a", "A")).await.unwrap();
    let b = tenants.create(NewTenant::new("b", "B")).await.unwrap();
    for name in ["a1", "a2"] {
        users.create(a.id, NewUser::new(name)).await.unwrap();
    }
    users.create(b.id, NewUser::new("b1")).await.unwrap();

    // Superusers bypass RLS, so probe as an ordinary role, as an application would run.
    let schema = &guard.schema;
    exec.batch_execute_raw(&format!(
        "DO $$ BEGIN CREATE ROLE erp_rls_probe NOLOGIN;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
         GRANT USAGE ON SCHEMA {schema} TO erp_rls_probe;
         GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO erp_rls_probe;"
    ))
    .await
    .unwrap();
    let count_as = |tenant: Option<String>| {
        let exec = exec.clone();
        async move {
            let set = tenant
                .map(|t| format!("SELECT set_config('app.current_tenant_id', '{t}', true);"))
                .unwrap_or_default();
            let client = exec.pool().get().await.unwrap();
            let tx_sql = format!(
                "BEGIN; SET LOCAL ROLE erp_rls_probe; {set}
                 CREATE TEMP TABLE probe ON COMMIT DROP AS SELECT username FROM users;"
            );
            client.batch_execute(&tx_sql).await.unwrap();
            let rows = client
                .query("SELECT username FROM probe ORDER BY username", &[])
                .await
                .unwrap();
            client.batch_execute("COMMIT").await.unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(count_as(Some(a.id.to_string())).await, ["a1", "a2"]);
    assert_eq!(count_as(Some(b.id.to_string())).await, ["b1"]);
    assert!(count_as(None).await.is_empty(), "no tenant set: no rows");

    // Writing a row for another tenant is refused by the policy's check.
    let client = exec.pool().get().await.unwrap();
    let err = client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE erp_rls_probe;
             SELECT set_config('app.current_tenant_id', '{}', true);
             INSERT INTO roles (tenant_id, name, created_at) VALUES ('{}', 'x', now());",
            a.id, b.id
        ))
        .await
        .unwrap_err();
    let db_err = err.as_db_error().expect("a server error");
    assert!(
        db_err.message().contains("row-level security"),
        "{db_err:?}"
    );
    client.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn postgres_down_at_start_is_a_clear_error() {
    // Nothing listens on port 1: refused at once.
    let cfg = PgConfig::from_url("postgres://erp:secret@127.0.0.1:1/erp").unwrap();
    let err = PgExecutor::connect(cfg).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("secret"),
        "{text}"
    );
}

#[tokio::test]
async fn postgres_silent_server_times_out_instead_of_hanging() {
    // A server that accepts connections and never answers the startup message.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let cfg = PgConfig::from_url(&format!("postgres://erp@127.0.0.1:{port}/erp"))
        .unwrap()
        .with_connect_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = PgExecutor::connect(cfg).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // Generous bound: the point is "returns", not a latency target.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test]
async fn postgres_query_timeout_is_unavailable_and_the_pool_recovers() {
    let (cfg, _guard) = common::postgres_config().await;
    let exec = PgExecutor::connect(
        cfg.with_max_size(2)
            .with_query_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    exec.migrate(migrate::POSTGRES).await.unwrap();
    for _ in 0..3 {
        // More timeouts than pool slots: discarded connections must be replaced.
        let err = exec.query_raw("SELECT pg_sleep(5)").await.unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable { reason, .. } if reason.contains("timed out")),
            "{err:?}"
        );
    }
    exec.ping().await.expect("pool works again after timeouts");
    let repo = SqlTenantRepository::new(exec.clone());
    repo.create(NewTenant::new("after", "After")).await.unwrap();
    // The server-side query was cancelled, not left running.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = exec
        .query_raw(
            "SELECT count(*)::bigint AS n FROM pg_stat_activity
             WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'
               AND application_name = 'erp-toolkit' AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    assert_eq!(
        busy[0].get::<i64>("n").unwrap(),
        0,
        "timed-out queries still running"
    );
}

#[tokio::test]
async fn postgres_users_survive_reconnect() {
    // The repository is usable through the generic Database handle and a fresh pool
    // sees what another pool wrote: nothing lives only in process memory.
    let (cfg, _guard) = common::postgres_config().await;
    let first = Database::connect(erp_core::sql::DatabaseConfig::Postgres(Box::new(
        cfg.clone(),
    )))
    .await
    .unwrap();
    first.migrate().await.unwrap();
    let t = SqlTenantRepository::new(first.clone())
        .create(NewTenant::new("persist", "P"))
        .await
        .unwrap();
    SqlUserRepository::new(first)
        .create(t.id, NewUser::new("kept"))
        .await
        .unwrap();
    let second = Database::connect(erp_core::sql::DatabaseConfig::Postgres(Box::new(cfg)))
        .await
        .unwrap();
    assert_eq!(second.backend(), Backend::Postgres);
    assert!(
        SqlUserRepository::new(second)
            .by_username(t.id, "kept")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn postgres_revocations_are_published_to_listeners() {
    use erp_core::{
        AuthMethod, NewSession, RevocationEvent, SessionId, SessionStore,
        sql::{RevocationListener, SqlSessionStore},
    };
    let (cfg, _guard) = common::postgres_config().await;
    let exec = PgExecutor::connect(cfg.clone()).await.unwrap();
    exec.migrate(migrate::POSTGRES).await.unwrap();
    let listener = RevocationListener::start(&cfg);
    let mut events = listener.subscribe();
    async fn next(
        events: &mut tokio::sync::broadcast::Receiver<erp_core::RevocationEvent>,
    ) -> erp_core::RevocationEvent {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event within 5 s")
            .unwrap()
    }
    assert_eq!(
        next(&mut events).await,
        RevocationEvent::All,
        "a connect resets caches"
    );
    assert!(listener.is_connected());

    let db = Database::Postgres(exec);
    let tenant = SqlTenantRepository::new(db.clone())
        .create(NewTenant::new("n", "N"))
        .await
        .unwrap();
    let user = SqlUserRepository::new(db.clone())
        .create(tenant.id, NewUser::new("u"))
        .await
        .unwrap();
    let store = SqlSessionStore::new(db);
    let session = store
        .create(NewSession {
            id: SessionId::generate(),
            tenant_id: tenant.id,
            user_id: user.id,
            auth_method: AuthMethod::LocalPassword,
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            ip: None,
            user_agent: None,
        })
        .await
        .unwrap();
    store
        .revoke(tenant.id, &session.id, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        next(&mut events).await,
        RevocationEvent::Session(tenant.id, session.id.clone())
    );
    store
        .revoke_user(tenant.id, user.id, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        next(&mut events).await,
        RevocationEvent::User(tenant.id, user.id)
    );
    store
        .revoke_tenant(tenant.id, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(next(&mut events).await, RevocationEvent::Tenant(tenant.id));

    // Kill the listening connection: it reconnects and tells subscribers to reset.
    let killer = PgExecutor::connect(cfg.clone()).await.unwrap();
    killer
        .batch_execute_raw(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'erp-toolkit-listener' AND query = 'LISTEN {}'",
            cfg.revocation_channel()
        ))
        .await
        .unwrap();
    assert_eq!(
        next(&mut events).await,
        RevocationEvent::All,
        "reset after reconnect"
    );
    store
        .revoke(tenant.id, &session.id, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(
        next(&mut events).await,
        RevocationEvent::Session(tenant.id, session.id.clone()),
        "events flow again"
    );

    // Another schema on the same database has its own channel: nothing crosses over.
    let (other_cfg, _other_guard) = common::postgres_config().await;
    assert_ne!(other_cfg.revocation_channel(), cfg.revocation_channel());
}

#[tokio::test]
async fn postgres_audit_events_round_trip() {
    let (exec, _guard) = common::postgres().await;
    common::audit_round_trip(Database::Postgres(exec)).await;
}

#[tokio::test]
async fn postgres_table_columns_resolve_through_the_search_path() {
    let (cfg, guard) = common::postgres_config().await;
    let exec = PgExecutor::connect(cfg).await.unwrap();
    // A table of the name in another schema, as leftovers of other runs might be: an
    // unqualified query would not reach it, so neither may the catalogue lookup.
    let elsewhere = common::SchemaGuard {
        schema: common::unique_schema(),
    };
    let (home, other) = (&guard.schema, &elsewhere.schema);
    exec.batch_execute_raw(&format!(
        "CREATE SCHEMA {home}; CREATE SCHEMA {other};
         CREATE TABLE {other}.lookalike (x int, y text);"
    ))
    .await
    .unwrap();
    assert!(
        exec.table_columns(None, "lookalike")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        exec.table_columns(Some(other), "lookalike").await.unwrap(),
        ["x", "y"]
    );
    exec.batch_execute_raw(&format!(
        "CREATE TABLE {home}.lookalike (z int, dropped int, \"Mixed\" int);
         ALTER TABLE {home}.lookalike DROP COLUMN dropped;
         CREATE TABLE {home}.\"CamelCase\" (a int);"
    ))
    .await
    .unwrap();
    assert_eq!(
        exec.table_columns(None, "lookalike").await.unwrap(),
        ["z", "Mixed"],
        "the search path's table, without dropped columns"
    );
    // Names are quoted in queries, so they resolve with their exact case.
    assert_eq!(exec.table_columns(None, "CamelCase").await.unwrap(), ["a"]);
    assert!(
        exec.table_columns(None, "camelcase")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        exec.table_columns(Some("no_such_schema"), "lookalike")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        exec.table_columns(None, "odd\"name.x")
            .await
            .unwrap()
            .is_empty(),
        "quotes and dots stay part of the name"
    );
}

#[tokio::test]
async fn postgres_rejected_values_are_not_quoted_back() {
    let (exec, _guard) = common::postgres().await;
    // 22P02: the server's message is `invalid input syntax for type integer: "..."`.
    let marker = "'<script>drop-me</script>'";
    let err = exec
        .query_raw(&format!("SELECT {marker}::integer AS n"))
        .await
        .unwrap_err();
    match &err {
        Error::InvalidInput { message, .. } => {
            assert!(message.contains("22P02"), "{message}");
            assert!(!message.contains("drop-me"), "{message}");
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert!(!err.to_string().contains("drop-me"), "{err}");
}

/// One holder of an advisory lock among two executors (two instances), released by
/// `release` and by dropping the holder (its session ends, as a crashed instance's does).
#[tokio::test]
async fn postgres_advisory_lock_has_one_holder_and_is_released_by_a_dropped_holder() {
    let (cfg, guard) = common::postgres_config().await;
    let a = PgExecutor::connect(cfg.clone()).await.unwrap();
    let b = PgExecutor::connect(cfg).await.unwrap();
    let key = format!("erp test lock {}", guard.schema);
    let held = a.try_advisory_lock(&key).await.unwrap().expect("free");
    assert_eq!(held.key(), key);
    assert!(
        b.try_advisory_lock(&key).await.unwrap().is_none(),
        "held by a"
    );
    assert!(
        a.try_advisory_lock(&key).await.unwrap().is_none(),
        "held by a's other session too: the lock is per session"
    );
    held.release().await.unwrap();
    let by_b = b.try_advisory_lock(&key).await.unwrap().expect("released");
    drop(by_b);
    // The dropped holder's session closes in the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(lock) = a.try_advisory_lock(&key).await.unwrap() {
            lock.release().await.unwrap();
            break;
        }
        assert!(Instant::now() < deadline, "a dropped holder keeps the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
