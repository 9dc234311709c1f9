//! Time from a revocation committed by instance A to instance B refusing the session,
//! on a real PostgreSQL (two pools, two LISTEN connections, one database).
//!
//! `cargo bench -p erp-auth --bench revocation_propagation`
//! (uses ERP_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use erp_auth::session::SessionGuard;
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, Principal, SessionId, SessionStore,
    TenantRepository, UserRepository,
    sql::{
        Database, PgConfig, PgExecutor, RevocationListener, SqlSessionStore, SqlTenantRepository,
        SqlUserRepository,
    },
};

const SAMPLES: usize = 200;

async fn instance(cfg: &PgConfig) -> (SessionGuard, RevocationListener) {
    let db = Database::Postgres(PgExecutor::connect(cfg.clone()).await.expect("PostgreSQL"));
    let listener = RevocationListener::start(cfg);
    let guard = SessionGuard::new(Arc::new(SqlSessionStore::new(db)));
    guard.follow(listener.subscribe());
    while !listener.is_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (guard, listener)
}

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!(
        "erp_bench_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let cfg = PgConfig::from_url(&url)
        .unwrap()
        .with_schema(schema.clone())
        .unwrap();
    let db = Database::Postgres(match PgExecutor::connect(cfg.clone()).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("skipped: PostgreSQL not reachable ({e})");
            return;
        }
    });
    db.migrate().await.unwrap();
    let (a, _la) = instance(&cfg).await;
    let (b, _lb) = instance(&cfg).await;
    let tenant = SqlTenantRepository::new(db.clone())
        .create(NewTenant::new("bench", "Bench"))
        .await
        .unwrap();
    let user = SqlUserRepository::new(db.clone())
        .create(tenant.id, NewUser::new("u"))
        .await
        .unwrap();
    let store = SqlSessionStore::new(db.clone());
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let session = store
            .create(NewSession {
                id: SessionId::generate(),
                tenant_id: tenant.id,
                user_id: user.id,
                auth_method: AuthMethod::LocalPassword,
                expires_at: Utc::now() + chrono::Duration::hours(1),
                ip: None,
                user_agent: None,
            })
            .await
            .unwrap();
        let principal = Principal {
            user_id: user.id,
            kind: erp_core::PrincipalKind::User,
            tenant_id: tenant.id,
            username: "u".into(),
            display_name: None,
            email: None,
            roles: vec![],
            auth_method: AuthMethod::LocalJwt,
            session_id: Some(session.id.clone()),
            issued_at: Some(Utc::now()),
            expires_at: None,
        };
        b.check(&principal).await.expect("active on B");
        let started = Instant::now();
        a.revoke_session(tenant.id, &session.id).await.unwrap();
        let committed = started.elapsed();
        loop {
            if b.check(&principal).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
            if started.elapsed() > Duration::from_secs(5) {
                panic!("not propagated within 5 s");
            }
        }
        samples.push((started.elapsed(), committed));
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].0;
    let commit_p50 = {
        let mut c: Vec<_> = samples.iter().map(|s| s.1).collect();
        c.sort();
        c[c.len() / 2]
    };
    println!(
        "revocation propagation A -> B over {SAMPLES} sessions: p50 {:?}, p95 {:?}, p99 {:?}, max {:?} \
         (of which the revoke call on A, p50: {commit_p50:?})",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        samples.last().unwrap().0
    );
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
