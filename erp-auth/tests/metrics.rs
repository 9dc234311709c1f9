//! The metrics the layer, the logins and the JWKS cache emit (own test binary: the
//! recorder is process-global).

mod common;

use std::{collections::HashMap, sync::Arc};

use common::*;
use erp_auth::{
    local::LocalTokenIssuer,
    login::{LoginRequest, LoginService},
    password::PasswordHasher,
};
use erp_core::{NewUser, UserRepository};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[tokio::test(flavor = "multi_thread")]
async fn counters_and_histograms_are_recorded() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder in this binary");

    let env = env().await;
    assert_eq!(
        bearer(&env.app, &env.fake.token().build()).await.status,
        200
    );
    assert_eq!(bearer(&env.app, "garbage").await.status, 401);
    let hasher = PasswordHasher::with_params(1024, 1, 1).unwrap();
    UserRepository::create(
        &env.store,
        env.tenant.id,
        NewUser::new("alice").with_password_hash(hasher.hash("pw").unwrap()),
    )
    .await
    .unwrap();
    let login = LoginService::builder(
        Arc::new(env.store.clone()),
        Arc::new(env.store.clone()),
        Arc::new(env.store.clone()),
        Arc::new(env.store.clone()),
        LocalTokenIssuer::new(local_config()),
    )
    .with_hasher(hasher)
    .with_default_tenant(Some(env.tenant.id))
    .build();
    let attempt = |pw: &str| LoginRequest {
        username: "alice".into(),
        password: pw.into(),
        ..LoginRequest::default()
    };
    login.login(attempt("pw")).await.unwrap();
    assert!(login.login(attempt("bad")).await.is_err());

    let mut counters: HashMap<String, u64> = HashMap::new();
    let mut histograms: HashMap<String, usize> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        match value {
            DebugValue::Counter(n) => {
                counters.insert(name, n);
            }
            DebugValue::Histogram(v) => {
                histograms.insert(name, v.len());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    assert_eq!(
        counters.get("erp_auth_requests_total{credential=bearer,outcome=ok}"),
        Some(&1),
        "{counters:?}"
    );
    assert_eq!(
        counters.get("erp_auth_requests_total{credential=bearer,outcome=TOKEN_INVALID}"),
        Some(&1)
    );
    assert_eq!(
        counters.get("erp_auth_logins_total{method=local_password,outcome=ok}"),
        Some(&1)
    );
    assert_eq!(
        counters.get("erp_auth_logins_total{method=any,outcome=INVALID_CREDENTIALS}"),
        Some(&1)
    );
    assert!(
        counters
            .get("erp_auth_jwks_fetches_total{result=ok}")
            .is_some_and(|n| *n >= 1)
    );
    assert_eq!(
        histograms.get("erp_auth_verify_seconds{credential=bearer}"),
        Some(&2)
    );
}
