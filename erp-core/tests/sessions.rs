//! Session, revocation and refresh-token conformance: the same tests against PostgreSQL,
//! SQLite and the in-memory store (`<backend>::<case>`).

mod common;

use chrono::{Duration, Utc};
use common::Harness;
use erp_core::{
    AuthMethod, Error, NewSession, NewTenant, NewUser, RefreshOutcome, RefreshToken, SessionId,
    TenantId, UserId,
};

async fn tenant_user(h: &Harness, slug: &str) -> (TenantId, UserId) {
    let t = h.tenants.create(NewTenant::new(slug, slug)).await.unwrap();
    let u = h.users.create(t.id, NewUser::new("alice")).await.unwrap();
    (t.id, u.id)
}

/// No reuse grace: every replay of a used token is theft.
const STRICT: Duration = Duration::zero();

/// The default `REFRESH_TOKEN_REUSE_INTERVAL`.
const GRACE: Duration = Duration::seconds(10);

fn new_session(tenant: TenantId, user: UserId, ttl: Duration) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        tenant_id: tenant,
        user_id: user,
        auth_method: AuthMethod::LocalPassword,
        expires_at: Utc::now() + ttl,
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (測試)".into()),
    }
}

async fn session_lifecycle(h: Harness) {
    let (t, u) = tenant_user(&h, "life").await;
    let s1 = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let got = h.sessions.get(t, &s1.id).await.unwrap().unwrap();
    assert_eq!(got, s1);
    assert_eq!(got.user_agent.as_deref(), Some("Mozilla/5.0 (測試)"));

    let later = Utc::now() + Duration::seconds(5);
    h.sessions.touch(t, &s1.id, later).await.unwrap();
    let touched = h.sessions.get(t, &s1.id).await.unwrap().unwrap();
    assert_eq!(
        touched.last_seen_at.timestamp_micros(),
        later.timestamp_micros()
    );

    let s2 = h
        .sessions
        .create(new_session(t, u, Duration::hours(2)))
        .await
        .unwrap();
    h.sessions
        .create(new_session(t, u, Duration::seconds(-1)))
        .await
        .unwrap();
    let active = h.sessions.list_active(t, u, Utc::now()).await.unwrap();
    assert_eq!(
        active.iter().map(|s| &s.id).collect::<Vec<_>>(),
        [&s2.id, &s1.id],
        "newest first, expired left out"
    );

    assert!(h.sessions.revoke(t, &s1.id, Utc::now()).await.unwrap());
    assert!(
        !h.sessions.revoke(t, &s1.id, Utc::now()).await.unwrap(),
        "already revoked"
    );
    // A touch after revocation changes nothing and brings nothing back.
    h.sessions
        .touch(t, &s1.id, Utc::now() + Duration::minutes(1))
        .await
        .unwrap();
    let revoked = h.sessions.get(t, &s1.id).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.last_seen_at, touched.last_seen_at);
    assert!(!revoked.is_active_at(Utc::now()));

    let dup = NewSession {
        id: s2.id.clone(),
        ..new_session(t, u, Duration::hours(1))
    };
    assert!(h.sessions.create(dup).await.unwrap_err().is_conflict());
    let ghost = h
        .sessions
        .create(new_session(t, UserId::new(), Duration::hours(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(ghost, Error::NotFound { entity: "user" }),
        "{ghost:?}"
    );
}

async fn revoke_user_and_watermarks(h: Harness) {
    let (t, alice) = tenant_user(&h, "wm").await;
    let bob = h.users.create(t, NewUser::new("bob")).await.unwrap().id;
    for _ in 0..3 {
        h.sessions
            .create(new_session(t, alice, Duration::hours(1)))
            .await
            .unwrap();
    }
    let bobs = h
        .sessions
        .create(new_session(t, bob, Duration::hours(1)))
        .await
        .unwrap();
    let at = Utc::now();
    assert_eq!(h.sessions.revoke_user(t, alice, at).await.unwrap(), 3);
    assert!(
        h.sessions
            .list_active(t, alice, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.sessions
            .get(t, &bobs.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    let marks = h.sessions.watermarks(t, alice).await.unwrap();
    assert_eq!(
        marks.user_not_before.map(|m| m.timestamp_micros()),
        Some(at.timestamp_micros())
    );
    assert!(marks.tenant_not_before.is_none());
    assert!(
        h.sessions
            .watermarks(t, bob)
            .await
            .unwrap()
            .user_not_before
            .is_none()
    );
    // Watermarks only move forward.
    h.sessions
        .revoke_user(t, alice, at - Duration::hours(1))
        .await
        .unwrap();
    let again = h.sessions.watermarks(t, alice).await.unwrap();
    assert_eq!(again.user_not_before, marks.user_not_before);
    assert!(marks.revokes(at - Duration::seconds(1)));
    assert!(!marks.revokes(at + Duration::seconds(1)));
}

async fn revoke_tenant_leaves_other_tenants_alone(h: Harness) {
    let (a, ua) = tenant_user(&h, "ta").await;
    let (b, ub) = tenant_user(&h, "tb").await;
    let sa = h
        .sessions
        .create(new_session(a, ua, Duration::hours(1)))
        .await
        .unwrap();
    let sb = h
        .sessions
        .create(new_session(b, ub, Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(h.sessions.revoke_tenant(a, Utc::now()).await.unwrap(), 1);
    assert!(
        h.sessions
            .get(a, &sa.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        h.sessions
            .get(b, &sb.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        h.sessions
            .watermarks(a, ua)
            .await
            .unwrap()
            .tenant_not_before
            .is_some()
    );
    assert!(
        h.sessions
            .watermarks(b, ub)
            .await
            .unwrap()
            .tenant_not_before
            .is_none()
    );
    // Cross-tenant addressing finds nothing.
    assert!(h.sessions.get(b, &sa.id).await.unwrap().is_none());
    assert!(!h.sessions.revoke(a, &sb.id, Utc::now()).await.unwrap());
    assert!(
        h.sessions
            .get(b, &sb.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        h.sessions
            .list_active(a, ub, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn purge_removes_only_expired(h: Harness) {
    let (t, u) = tenant_user(&h, "purge").await;
    let (t2, u2) = tenant_user(&h, "purge2").await;
    let keep = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let old = h
        .sessions
        .create(new_session(t, u, Duration::seconds(-10)))
        .await
        .unwrap();
    h.sessions
        .create(new_session(t2, u2, Duration::seconds(-10)))
        .await
        .unwrap();
    h.refresh
        .issue_refresh(t, &old.id, u, Utc::now() + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        h.sessions.purge_expired(Utc::now()).await.unwrap(),
        2,
        "in every tenant"
    );
    assert!(h.sessions.get(t, &old.id).await.unwrap().is_none());
    assert!(h.sessions.get(t, &keep.id).await.unwrap().is_some());
    assert_eq!(h.sessions.purge_expired(Utc::now()).await.unwrap(), 0);
}

async fn refresh_rotation_and_reuse(h: Harness) {
    let (t, u) = tenant_user(&h, "rot").await;
    let s = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let day = Utc::now() + Duration::days(1);
    let first = h.refresh.issue_refresh(t, &s.id, u, day).await.unwrap();
    assert_eq!(first.token.tenant(), t);
    let RefreshOutcome::Rotated(second) = h
        .refresh
        .rotate_refresh(&first.token, Utc::now(), day, STRICT)
        .await
        .unwrap()
    else {
        panic!("a fresh token rotates");
    };
    assert_eq!(second.family_id, first.family_id);
    assert_eq!(second.session_id, s.id);
    assert_ne!(second.token, first.token);
    let RefreshOutcome::Rotated(third) = h
        .refresh
        .rotate_refresh(&second.token, Utc::now(), day, STRICT)
        .await
        .unwrap()
    else {
        panic!("its successor rotates");
    };
    // Replaying the first token: theft. The family and the session end.
    let reuse = h
        .refresh
        .rotate_refresh(&first.token, Utc::now(), day, STRICT)
        .await
        .unwrap();
    assert!(
        matches!(reuse, RefreshOutcome::Reused { ref session_id, .. } if *session_id == s.id),
        "{reuse:?}"
    );
    assert!(matches!(
        h.refresh
            .rotate_refresh(&third.token, Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(
        h.sessions
            .get(t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // Unknown, expired, and tokens of revoked sessions.
    assert!(matches!(
        h.refresh
            .rotate_refresh(&RefreshToken::generate(t), Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    ));
    let s2 = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let short = h
        .refresh
        .issue_refresh(t, &s2.id, u, Utc::now() - Duration::seconds(1))
        .await
        .unwrap();
    assert!(matches!(
        h.refresh
            .rotate_refresh(&short.token, Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Expired
    ));
    let live = h.refresh.issue_refresh(t, &s2.id, u, day).await.unwrap();
    h.sessions.revoke(t, &s2.id, Utc::now()).await.unwrap();
    assert!(matches!(
        h.refresh
            .rotate_refresh(&live.token, Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    ));
    let ghost = h
        .refresh
        .issue_refresh(t, &SessionId::generate(), u, day)
        .await
        .unwrap_err();
    assert!(ghost.is_not_found(), "{ghost:?}");
}

async fn concurrent_refreshes_one_wins_family_revoked(h: Harness) {
    let (t, u) = tenant_user(&h, "race").await;
    let s = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let day = Utc::now() + Duration::days(1);
    let token = h
        .refresh
        .issue_refresh(t, &s.id, u, day)
        .await
        .unwrap()
        .token;
    let outcomes = futures::future::join_all((0..20).map(|_| {
        let refresh = h.refresh.clone();
        let token = token.clone();
        tokio::spawn(async move {
            refresh
                .rotate_refresh(&token, Utc::now(), day, STRICT)
                .await
        })
    }))
    .await;
    let mut rotated = Vec::new();
    let mut reused = 0;
    for o in outcomes {
        match o.unwrap().unwrap() {
            RefreshOutcome::Rotated(next) => rotated.push(next),
            RefreshOutcome::Reused { .. } => reused += 1,
            RefreshOutcome::Invalid => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated.len(), 1, "exactly one refresh succeeds");
    assert!(reused >= 1, "the others are reuse");
    let winner = rotated.pop().unwrap();
    assert!(
        matches!(
            h.refresh
                .rotate_refresh(&winner.token, Utc::now(), day, STRICT)
                .await
                .unwrap(),
            RefreshOutcome::Invalid
        ),
        "the whole family is revoked, the winner's successor too"
    );
    assert!(
        h.sessions
            .get(t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// Entra ID access tokens revoked by id until their expiry, per tenant, then purged.
async fn revoked_provider_tokens(h: Harness) {
    let (t, u) = tenant_user(&h, "tokens").await;
    let (other, _) = tenant_user(&h, "others").await;
    let uti = "Xq0pS2vLkUi3nV9d-7dFAA";
    assert!(!h.tokens.is_token_revoked(t, uti).await.unwrap());
    let exp = Utc::now() + Duration::minutes(60);
    assert!(
        h.tokens
            .revoke_token(t, uti, u, exp, Utc::now())
            .await
            .unwrap()
    );
    assert!(
        !h.tokens
            .revoke_token(t, uti, u, exp, Utc::now())
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(h.tokens.is_token_revoked(t, uti).await.unwrap());
    assert!(
        !h.tokens.is_token_revoked(other, uti).await.unwrap(),
        "another tenant's token of that id is not revoked"
    );
    for bad in ["", "a:b", "x y", &"a".repeat(129)] {
        assert!(
            matches!(
                h.tokens.revoke_token(t, bad, u, exp, Utc::now()).await,
                Err(Error::InvalidInput { .. })
            ),
            "{bad:?}"
        );
    }
    let old = "expired-token-id";
    h.tokens
        .revoke_token(t, old, u, Utc::now() - Duration::minutes(1), Utc::now())
        .await
        .unwrap();
    assert_eq!(h.tokens.purge_expired_tokens(Utc::now()).await.unwrap(), 1);
    assert!(!h.tokens.is_token_revoked(t, old).await.unwrap());
    assert!(
        h.tokens.is_token_revoked(t, uti).await.unwrap(),
        "unexpired kept"
    );
}

async fn concurrent_refreshes_within_reuse_interval_keep_the_family(h: Harness) {
    let (t, u) = tenant_user(&h, "tabs").await;
    let s = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let day = Utc::now() + Duration::days(1);
    let first = h.refresh.issue_refresh(t, &s.id, u, day).await.unwrap();
    let outcomes = futures::future::join_all((0..20).map(|_| {
        let refresh = h.refresh.clone();
        let token = first.token.clone();
        tokio::spawn(async move { refresh.rotate_refresh(&token, Utc::now(), day, GRACE).await })
    }))
    .await;
    let mut rotated = 0;
    let mut issued = Vec::new();
    for o in outcomes {
        match o.unwrap().unwrap() {
            RefreshOutcome::Rotated(next) => {
                rotated += 1;
                issued.push(next);
            }
            RefreshOutcome::Reissued(next) => issued.push(next),
            other => panic!("every racing refresh succeeds, got {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "one claim wins, the others are reissued");
    assert_eq!(issued.len(), 20);
    assert!(issued.iter().all(|n| n.family_id == first.family_id));
    assert!(issued.iter().all(|n| n.session_id == s.id));
    let mut hashes: Vec<_> = issued.iter().map(|n| n.token.hash()).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 20, "every answer is a distinct token");
    assert!(
        h.sessions
            .get(t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .is_active_at(Utc::now()),
        "the user stays signed in"
    );
    // A reissued token is a live member of the family.
    let tab = issued.pop().unwrap();
    let RefreshOutcome::Rotated(current) = h
        .refresh
        .rotate_refresh(&tab.token, Utc::now(), day, GRACE)
        .await
        .unwrap()
    else {
        panic!("a reissued token rotates");
    };

    // The first token again, after the interval: theft. Family and session end.
    let late = Utc::now() + GRACE + Duration::seconds(1);
    let replay = h
        .refresh
        .rotate_refresh(&first.token, late, day, GRACE)
        .await
        .unwrap();
    assert!(
        matches!(replay, RefreshOutcome::Reused { ref session_id, .. } if *session_id == s.id),
        "{replay:?}"
    );
    for dead in [&current, &issued[0]] {
        assert!(
            matches!(
                h.refresh
                    .rotate_refresh(&dead.token, Utc::now(), day, GRACE)
                    .await
                    .unwrap(),
                RefreshOutcome::Invalid
            ),
            "the family's current tokens are dead too"
        );
    }
    assert!(
        h.sessions
            .get(t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

async fn reuse_interval_spares_only_the_latest_parent(h: Harness) {
    let (t, u) = tenant_user(&h, "ancestor").await;
    let s = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let day = Utc::now() + Duration::days(1);
    let first = h.refresh.issue_refresh(t, &s.id, u, day).await.unwrap();
    let RefreshOutcome::Rotated(second) = h
        .refresh
        .rotate_refresh(&first.token, Utc::now(), day, GRACE)
        .await
        .unwrap()
    else {
        panic!("a fresh token rotates");
    };
    // The immediate parent of the current token, within the interval: reissued.
    assert!(matches!(
        h.refresh
            .rotate_refresh(&first.token, Utc::now(), day, GRACE)
            .await
            .unwrap(),
        RefreshOutcome::Reissued(ref n) if n.family_id == first.family_id
    ));
    let RefreshOutcome::Rotated(third) = h
        .refresh
        .rotate_refresh(&second.token, Utc::now(), day, GRACE)
        .await
        .unwrap()
    else {
        panic!("its successor rotates");
    };
    // `first` is now an older ancestor: still within the interval, yet theft.
    let replay = h
        .refresh
        .rotate_refresh(&first.token, Utc::now(), day, GRACE)
        .await
        .unwrap();
    assert!(
        matches!(replay, RefreshOutcome::Reused { .. }),
        "{replay:?}"
    );
    assert!(matches!(
        h.refresh
            .rotate_refresh(&third.token, Utc::now(), day, GRACE)
            .await
            .unwrap(),
        RefreshOutcome::Invalid
    ));

    // Strict: the immediate parent replayed at once is theft as well.
    let s2 = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let one = h.refresh.issue_refresh(t, &s2.id, u, day).await.unwrap();
    assert!(matches!(
        h.refresh
            .rotate_refresh(&one.token, Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    assert!(matches!(
        h.refresh
            .rotate_refresh(&one.token, Utc::now(), day, STRICT)
            .await
            .unwrap(),
        RefreshOutcome::Reused { .. }
    ));

    // Within the interval, but the session was revoked meanwhile: nothing is reissued.
    let s3 = h
        .sessions
        .create(new_session(t, u, Duration::hours(1)))
        .await
        .unwrap();
    let a = h.refresh.issue_refresh(t, &s3.id, u, day).await.unwrap();
    assert!(matches!(
        h.refresh
            .rotate_refresh(&a.token, Utc::now(), day, GRACE)
            .await
            .unwrap(),
        RefreshOutcome::Rotated(_)
    ));
    h.sessions.revoke(t, &s3.id, Utc::now()).await.unwrap();
    let after_logout = h
        .refresh
        .rotate_refresh(&a.token, Utc::now(), day, GRACE)
        .await
        .unwrap();
    assert!(
        matches!(after_logout, RefreshOutcome::Invalid),
        "{after_logout:?}"
    );
}

async fn rate_limit_counters_are_atomic_and_purged(h: Harness) {
    let start = Utc::now() - Duration::seconds(30);
    let end = start + Duration::minutes(5);
    let key = "user:acme:alice";
    // Concurrent hits (as from several instances) each see their own count.
    let counts = futures::future::join_all((0..20).map(|_| {
        let limits = h.limits.clone();
        tokio::spawn(async move { limits.hit(key, start, end).await })
    }))
    .await;
    let mut counts: Vec<u64> = counts.into_iter().map(|c| c.unwrap().unwrap()).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>());
    assert_eq!(h.limits.count(key, start).await.unwrap(), 20);
    let previous = start - Duration::minutes(5);
    assert_eq!(h.limits.count(key, previous).await.unwrap(), 0);
    assert_eq!(
        h.limits.hit(key, previous, start).await.unwrap(),
        1,
        "windows apart"
    );
    assert_eq!(
        h.limits.hit("ip:203.0.113.9", start, end).await.unwrap(),
        1,
        "keys apart"
    );

    // Expired windows go, live ones stay.
    assert_eq!(
        h.limits
            .purge_expired(start + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(h.limits.count(key, previous).await.unwrap(), 0);
    assert_eq!(h.limits.count(key, start).await.unwrap(), 20);

    h.limits.reset(key).await.unwrap();
    assert_eq!(h.limits.count(key, start).await.unwrap(), 0);
    assert_eq!(
        h.limits.count("ip:203.0.113.9", start).await.unwrap(),
        1,
        "a reset forgets one key only"
    );
}

macro_rules! conformance {
    ($backend:ident, $harness:path) => {
        mod $backend {
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        super::$name($harness().await).await;
                    }
                };
            }
            case!(session_lifecycle);
            case!(revoke_user_and_watermarks);
            case!(revoke_tenant_leaves_other_tenants_alone);
            case!(purge_removes_only_expired);
            case!(refresh_rotation_and_reuse);
            case!(concurrent_refreshes_one_wins_family_revoked);
            case!(revoked_provider_tokens);
            case!(concurrent_refreshes_within_reuse_interval_keep_the_family);
            case!(reuse_interval_spares_only_the_latest_parent);
            case!(rate_limit_counters_are_atomic_and_purged);
        }
    };
}

conformance!(postgres, crate::common::harness_postgres);
conformance!(sqlite, crate::common::harness_sqlite);
conformance!(memory, crate::common::harness_memory);
