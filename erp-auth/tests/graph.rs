//! Issue 15, point 5: group overage through Microsoft Graph with the app's client
//! credentials, against the wiremock directory and a wiremock Graph.

mod common;

use std::{sync::atomic::Ordering, time::Duration};

use common::*;
use erp_auth::{
    azure::{GraphConfig, GraphGroups},
    testkit::{FakeAzureAd, FakeGraph},
};
use http::StatusCode;
use serde_json::json;

const ALICE: &str = "00000000-0000-0000-0000-00000000a11c";
const BOB: &str = "00000000-0000-0000-0000-000000000b0b";

struct GraphEnv {
    env: Env,
    graph: FakeGraph,
    groups: GraphGroups,
}

async fn graph_env(ttl: Duration) -> GraphEnv {
    let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
    let graph = FakeGraph::start().await;
    let groups = GraphGroups::new(
        GraphConfig::new(CLIENT_ID, FakeAzureAd::CLIENT_SECRET)
            .with_authority_host(fake.authority_host())
            .with_graph_host(graph.host())
            .with_cache_ttl(ttl),
    )
    .unwrap();
    let hook = groups.clone();
    let env = env_with(Options {
        fake: Some(fake),
        role_map: "Finance.Admin=admin,g-fin=accountant,g-ops=pic",
        resolver: Box::new(move |r, _| r.with_group_overage(Some(hook.clone()))),
        ..Options::default()
    })
    .await;
    GraphEnv { env, graph, groups }
}

fn overage(env: &Env, oid: &str) -> String {
    env.fake
        .token()
        .claim("oid", oid)
        .claim("preferred_username", format!("{oid}@contoso.example"))
        .claim("_claim_names", json!({"groups": "src1"}))
        .claim(
            "_claim_sources",
            json!({"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn overage_groups_come_from_graph_paged_and_cached() {
    let g = graph_env(Duration::from_secs(900)).await;
    g.graph.set_page_size(2);
    g.graph
        .set_groups(ALICE, &["g-1", "g-2", "g-3", "g-4", "g-fin"]);
    let token = overage(&g.env, ALICE);
    let reply = bearer(&g.env.app, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["roles"],
        json!(["accountant"]),
        "from the last page"
    );
    assert_eq!(g.graph.requests(), 3, "three pages through @odata.nextLink");
    assert_eq!(
        g.env.fake.token_requests(),
        1,
        "one client-credentials token"
    );
    // Cached per (directory, oid): no Graph call for the next requests.
    for _ in 0..5 {
        assert_eq!(
            bearer(&g.env.app, &token).await.body["roles"],
            json!(["accountant"])
        );
    }
    assert_eq!(g.graph.requests(), 3);
    assert!(g.groups.metrics().hits.load(Ordering::Relaxed) >= 5);
    // A token without overage carries its groups itself: Graph is not asked.
    let plain = g
        .env
        .fake
        .token()
        .claim("oid", BOB)
        .claim("groups", json!(["g-ops"]))
        .build();
    assert_eq!(
        bearer(&g.env.app, &plain).await.body["roles"],
        json!(["pic"])
    );
    assert_eq!(g.graph.requests(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_of_one_user_make_one_lookup() {
    let g = graph_env(Duration::from_secs(900)).await;
    g.graph.set_groups(ALICE, &["g-fin"]);
    g.graph.set_delay(Duration::from_millis(300));
    let token = overage(&g.env, ALICE);
    // The first request provisions the user; then a burst of the same person.
    assert_eq!(bearer(&g.env.app, &token).await.status, StatusCode::OK);
    let other = overage(&g.env, BOB);
    g.graph.set_groups(BOB, &["g-ops"]);
    let before = g.graph.requests();
    let replies = futures::future::join_all((0..50).map(|_| {
        let app = g.env.app.clone();
        let token = other.clone();
        tokio::spawn(async move { bearer(&app, &token).await })
    }))
    .await;
    for r in replies {
        let r = r.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["roles"], json!(["pic"]));
    }
    assert_eq!(g.graph.requests(), before + 1, "single flight");
}

#[tokio::test(flavor = "multi_thread")]
async fn graph_down_grants_no_group_roles_and_is_never_an_error_page() {
    let g = graph_env(Duration::from_secs(900)).await;
    g.graph.set_groups(ALICE, &["g-fin"]);
    g.graph.set_down(true);
    let token = g
        .env
        .fake
        .token()
        .claim("_claim_names", json!({"groups": "src1"}))
        .claim("roles", json!(["Finance.Admin"]))
        .build();
    let reply = bearer(&g.env.app, &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["roles"],
        json!(["admin"]),
        "app roles still map, groups do not"
    );
    assert_eq!(g.groups.metrics().failures.load(Ordering::Relaxed), 1);
    // The failure is remembered briefly: no Graph call per request during an outage.
    let calls = g.graph.requests();
    bearer(&g.env.app, &token).await;
    assert_eq!(g.graph.requests(), calls);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_honours_retry_after() {
    let g = graph_env(Duration::from_secs(900)).await;
    g.graph.set_groups(ALICE, &["g-fin"]);
    g.graph.set_groups(BOB, &["g-ops"]);
    g.graph.set_throttled(Some(60));
    let reply = bearer(&g.env.app, &overage(&g.env, ALICE)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["roles"], json!(["viewer"]), "default role only");
    let calls = g.graph.requests();
    // Another user inside the Retry-After window: Graph is not called at all.
    g.graph.set_throttled(None);
    let reply = bearer(&g.env.app, &overage(&g.env, BOB)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["roles"], json!(["viewer"]));
    assert_eq!(g.graph.requests(), calls, "no call before Retry-After");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_removed_in_entra_stops_granting_after_the_cache_ttl() {
    let g = graph_env(Duration::from_millis(300)).await;
    g.graph.set_groups(ALICE, &["g-fin"]);
    let token = overage(&g.env, ALICE);
    assert_eq!(
        bearer(&g.env.app, &token).await.body["roles"],
        json!(["accountant"])
    );
    g.graph.set_groups(ALICE, &[]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        bearer(&g.env.app, &token).await.body["roles"],
        json!(["viewer"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_client_secret_means_no_group_roles_not_an_error() {
    let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
    let graph = FakeGraph::start().await;
    graph.set_groups(ALICE, &["g-fin"]);
    let groups = GraphGroups::new(
        GraphConfig::new(CLIENT_ID, "not-the-secret")
            .with_authority_host(fake.authority_host())
            .with_graph_host(graph.host()),
    )
    .unwrap();
    let err = groups.groups(TID, ALICE).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    assert!(!err.to_string().contains("not-the-secret"));
    assert_eq!(graph.requests(), 0);
}
