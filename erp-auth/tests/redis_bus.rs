//! The Redis revocation bus on the test Redis (`ERP_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`), each test under a key prefix of its own. Without a
//! reachable Redis the tests say they are skipped.
//!
//! The tests run on a current-thread runtime: the bus's task sends its first
//! `RevocationEvent::All` as soon as it has subscribed on Redis, and with a second worker
//! it could do so before the test's `bus.subscribe()`, whose receiver would then never
//! see it (a broadcast channel keeps nothing for later receivers). On one thread the
//! task runs only once the test awaits, after subscribing, as in the PostgreSQL
//! listener's test.
#![cfg(feature = "redis")]

use std::time::Duration;

use erp_auth::redis::{RedisClient, RedisRevocationBus, RedisRevocationPublisher};
use erp_core::{RevocationEvent, RevocationPublisher, SessionId, TenantId, UserId};
use tokio::{sync::broadcast, time::timeout};

async fn client(prefix: &str) -> Option<RedisClient> {
    let url =
        std::env::var("ERP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = RedisClient::new(&url, prefix, Duration::from_millis(500)).unwrap();
    match client.ping().await {
        Ok(_) => Some(client),
        Err(e) => {
            eprintln!("skipped: Redis not reachable at {url} ({e})");
            None
        }
    }
}

fn prefix() -> String {
    format!("erp-test-{}:", uuid::Uuid::new_v4().simple())
}

async fn next(rx: &mut broadcast::Receiver<RevocationEvent>) -> RevocationEvent {
    timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event within 5 s")
        .unwrap()
}

#[tokio::test]
async fn published_revocations_arrive_in_order_after_the_subscribe_reset() {
    let Some(client) = client(&prefix()).await else {
        return;
    };
    let bus = RedisRevocationBus::start(&client, Duration::from_millis(100));
    let mut rx = bus.subscribe();
    assert_eq!(
        next(&mut rx).await,
        RevocationEvent::All,
        "after subscribing"
    );
    assert!(bus.status().is_fresh(Duration::from_secs(1)));

    let publisher = RedisRevocationPublisher::new(client.clone());
    let tenant = TenantId::new();
    let events = [
        RevocationEvent::Session(tenant, SessionId::generate()),
        RevocationEvent::User(tenant, UserId::new()),
        RevocationEvent::Tenant(tenant),
        RevocationEvent::Token(tenant, "uti-abc_1".into()),
    ];
    for event in &events {
        publisher.publish(event).await;
    }
    for event in &events {
        assert_eq!(&next(&mut rx).await, event);
    }

    // No revocations for a while: the heartbeat alone keeps the feed fresh.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = bus.status();
    assert!(
        status.is_fresh(Duration::from_secs(1)),
        "silent for {:?}",
        status.since_alive()
    );
}

#[tokio::test]
async fn another_prefix_hears_nothing() {
    let (Some(ours), Some(theirs)) = (client(&prefix()).await, client(&prefix()).await) else {
        return;
    };
    let bus = RedisRevocationBus::start(&ours, Duration::from_millis(100));
    let mut rx = bus.subscribe();
    assert_eq!(next(&mut rx).await, RevocationEvent::All);
    let other = RedisRevocationPublisher::new(theirs);
    other
        .publish(&RevocationEvent::Tenant(TenantId::new()))
        .await;
    let heard = timeout(Duration::from_millis(500), rx.recv()).await;
    assert!(
        heard.is_err(),
        "heard another deployment's event: {heard:?}"
    );
}
