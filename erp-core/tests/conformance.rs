//! The repository conformance suite: the same tests against PostgreSQL, SQLite and the
//! in-memory store. Test names are `<backend>::<case>`; CI counts them per backend.

mod common;

use chrono::{Duration, Utc};
use common::Harness;
use erp_core::{DirectoryUser, Error, NewTenant, NewUser, Role, Tenant, TenantId, UserId};

fn role(name: &str) -> Role {
    Role::new(name).unwrap()
}

async fn tenant(h: &Harness, slug: &str) -> Tenant {
    h.tenants
        .create(NewTenant::new(slug, format!("Tenant {slug}")))
        .await
        .unwrap()
}

async fn tenant_crud(h: Harness) {
    let tid = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
    let a = h
        .tenants
        .create(NewTenant::new("Acme", "Acme Trading").with_azure_tenant_id(tid))
        .await
        .unwrap();
    assert_eq!(a.slug, "acme");
    let b = tenant(&h, "beta").await;
    assert_eq!(h.tenants.by_id(a.id).await.unwrap().unwrap(), a);
    assert_eq!(h.tenants.by_slug("ACME").await.unwrap().unwrap().id, a.id);
    assert_eq!(
        h.tenants.by_azure_tenant_id(tid).await.unwrap().unwrap().id,
        a.id
    );
    assert!(
        h.tenants
            .by_azure_tenant_id("garbage")
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.tenants.by_id(TenantId::new()).await.unwrap().is_none());
    let slugs: Vec<_> = h
        .tenants
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.slug)
        .collect();
    assert_eq!(slugs, ["acme", "beta"]);

    let dup = h
        .tenants
        .create(NewTenant::new("acme", "Again"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            dup,
            Error::Conflict {
                entity: "tenant",
                ..
            }
        ),
        "{dup:?}"
    );
    let dup_tid = h
        .tenants
        .create(NewTenant::new("gamma", "G").with_azure_tenant_id(tid.to_lowercase()))
        .await
        .unwrap_err();
    assert!(dup_tid.is_conflict(), "{dup_tid:?}");

    h.tenants.set_active(b.id, false).await.unwrap();
    assert!(!h.tenants.by_id(b.id).await.unwrap().unwrap().is_active);
    let missing = h
        .tenants
        .set_active(TenantId::new(), true)
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound { entity: "tenant" }));
    let invalid = h
        .tenants
        .create(NewTenant::new("no spaces", "x"))
        .await
        .unwrap_err();
    assert!(matches!(invalid, Error::InvalidInput { .. }));
}

async fn user_crud(h: Harness) {
    let t = tenant(&h, "acme").await;
    let created = h
        .users
        .create(
            t.id,
            NewUser::new("Alice")
                .with_email("Alice@Example.com")
                .with_display_name("Alice Chan")
                .with_password_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
                .with_azure_oid("oid-alice")
                .with_external_user_id("ext-alice")
                .with_roles([role("admin"), role("accountant"), role("admin")]),
        )
        .await
        .unwrap();
    assert_eq!(created.roles, vec![role("accountant"), role("admin")]);
    assert!(created.is_active);

    let by_id = h.users.by_id(t.id, created.id).await.unwrap().unwrap();
    assert_eq!(by_id, created, "what was written is what is read back");
    for found in [
        h.users.by_username(t.id, "aLiCe").await.unwrap(),
        h.users.by_email(t.id, "ALICE@example.COM").await.unwrap(),
        h.users.by_azure_oid(t.id, "oid-alice").await.unwrap(),
        h.users.by_external_id(t.id, "ext-alice").await.unwrap(),
    ] {
        assert_eq!(found.unwrap().id, created.id);
    }
    assert!(h.users.by_username(t.id, "bob").await.unwrap().is_none());
    assert!(
        !format!("{by_id:?}").contains("argon2id"),
        "hash leaked into Debug"
    );

    h.users
        .set_password_hash(t.id, created.id, "$pbkdf2$new")
        .await
        .unwrap();
    h.users
        .set_roles(t.id, created.id, &[role("sales:read")])
        .await
        .unwrap();
    let updated = h.users.by_id(t.id, created.id).await.unwrap().unwrap();
    assert_eq!(updated.password_hash.as_deref(), Some("$pbkdf2$new"));
    assert_eq!(updated.roles, vec![role("sales:read")]);
    assert!(updated.updated_at >= created.updated_at);
    h.users.set_roles(t.id, created.id, &[]).await.unwrap();
    assert!(
        h.users
            .by_id(t.id, created.id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );

    h.users.deactivate(t.id, created.id).await.unwrap();
    assert!(
        !h.users
            .by_id(t.id, created.id)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );

    for name in ["carol", "bob", "dave"] {
        h.users.create(t.id, NewUser::new(name)).await.unwrap();
    }
    let page: Vec<_> = h
        .users
        .list(t.id, 1, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(
        page,
        ["bob", "carol"],
        "ordered by username, offset 1, limit 2"
    );

    let ghost = UserId::new();
    for err in [
        h.users
            .set_password_hash(t.id, ghost, "x")
            .await
            .unwrap_err(),
        h.users
            .set_roles(t.id, ghost, &[role("admin")])
            .await
            .unwrap_err(),
        h.users.set_roles(t.id, ghost, &[]).await.unwrap_err(),
        h.users.deactivate(t.id, ghost).await.unwrap_err(),
        h.users
            .link_azure_oid(t.id, ghost, "oid")
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound { entity: "user" }), "{err:?}");
    }
}

async fn duplicate_username_is_conflict_within_tenant_only(h: Harness) {
    let a = tenant(&h, "a").await;
    let b = tenant(&h, "b").await;
    h.users
        .create(a.id, NewUser::new("alice").with_email("alice@example.com"))
        .await
        .unwrap();
    let err = h
        .users
        .create(a.id, NewUser::new("ALICE"))
        .await
        .unwrap_err();
    match &err {
        Error::Conflict { entity, detail, .. } => {
            assert_eq!(*entity, "user");
            assert!(detail.contains("username"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let err = h
        .users
        .create(a.id, NewUser::new("alice2").with_email("ALICE@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { detail, .. } if detail.contains("e-mail")),
        "{err:?}"
    );
    h.users
        .create(b.id, NewUser::new("alice").with_email("alice@example.com"))
        .await
        .expect("the same username in another tenant is fine");
    assert_eq!(
        h.users.list(a.id, 0, 100).await.unwrap().len(),
        1,
        "nothing half-written"
    );
}

async fn tenants_are_isolated(h: Harness) {
    let a = tenant(&h, "a").await;
    let b = tenant(&h, "b").await;
    let user = h
        .users
        .create(
            a.id,
            NewUser::new("alice")
                .with_email("alice@example.com")
                .with_azure_oid("oid-1")
                .with_external_user_id("ext-1")
                .with_roles([role("admin")]),
        )
        .await
        .unwrap();
    assert!(h.users.by_id(b.id, user.id).await.unwrap().is_none());
    assert!(h.users.by_username(b.id, "alice").await.unwrap().is_none());
    assert!(
        h.users
            .by_email(b.id, "alice@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.users.by_azure_oid(b.id, "oid-1").await.unwrap().is_none());
    assert!(
        h.users
            .by_external_id(b.id, "ext-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.users.list(b.id, 0, 100).await.unwrap().is_empty());
    for err in [
        h.users
            .set_password_hash(b.id, user.id, "x")
            .await
            .unwrap_err(),
        h.users
            .set_roles(b.id, user.id, &[role("admin")])
            .await
            .unwrap_err(),
        h.users.deactivate(b.id, user.id).await.unwrap_err(),
        h.users
            .link_azure_oid(b.id, user.id, "oid-2")
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound { entity: "user" }), "{err:?}");
    }
    let untouched = h.users.by_id(a.id, user.id).await.unwrap().unwrap();
    assert_eq!(
        untouched, user,
        "tenant B's writes changed nothing in tenant A"
    );
}

async fn non_ascii_names_round_trip(h: Harness) {
    let t = tenant(&h, "hk").await;
    for (username, display) in [
        ("ymirliu 劉念萱", "劉念萱"),
        ("김민준", "김민준 (Kim Min-jun)"),
        ("Zoë Ünal", "Zoë Ünal"),
    ] {
        let u = h
            .users
            .create(t.id, NewUser::new(username).with_display_name(display))
            .await
            .unwrap();
        let found = h
            .users
            .by_username(t.id, &username.to_uppercase())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{username} not found case-insensitively"));
        assert_eq!(found.id, u.id);
        assert_eq!(found.username, username);
        assert_eq!(found.display_name.as_deref(), Some(display));
    }
    let err = h
        .users
        .create(t.id, NewUser::new("YMIRLIU 劉念萱"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
}

async fn parallel_creates_of_one_username(h: Harness) {
    let t = tenant(&h, "race").await;
    let users = h.users.clone();
    let results = futures::future::join_all((0..20).map(|i| {
        let users = users.clone();
        tokio::spawn(async move {
            users
                .create(
                    t.id,
                    NewUser::new("same-name").with_display_name(format!("#{i}")),
                )
                .await
        })
    }))
    .await;
    let mut ok = 0;
    for r in results {
        match r.expect("task") {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_conflict(), "only conflicts may fail, got {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one create wins");
    assert_eq!(h.users.list(t.id, 0, 100).await.unwrap().len(), 1);
}

async fn azure_oid_linking(h: Harness) {
    let t = tenant(&h, "az").await;
    let alice = h.users.create(t.id, NewUser::new("alice")).await.unwrap();
    let bob = h.users.create(t.id, NewUser::new("bob")).await.unwrap();
    let linked = h
        .users
        .link_azure_oid(t.id, alice.id, "oid-a")
        .await
        .unwrap();
    assert_eq!(linked.azure_oid.as_deref(), Some("oid-a"));
    h.users
        .link_azure_oid(t.id, alice.id, "oid-a")
        .await
        .expect("linking the same oid again is a no-op");
    let err = h
        .users
        .link_azure_oid(t.id, alice.id, "oid-b")
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "relinking to another oid: {err:?}");
    let err = h
        .users
        .link_azure_oid(t.id, bob.id, "oid-a")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { detail, .. } if detail.contains("Azure")),
        "{err:?}"
    );
    assert!(
        h.users
            .by_id(t.id, bob.id)
            .await
            .unwrap()
            .unwrap()
            .azure_oid
            .is_none()
    );
}

async fn external_id_linking(h: Harness) {
    let t = tenant(&h, "ext").await;
    let other = tenant(&h, "other").await;
    let alice = h.users.create(t.id, NewUser::new("alice")).await.unwrap();
    let bob = h.users.create(t.id, NewUser::new("bob")).await.unwrap();
    let linked = h
        .users
        .link_external_id(t.id, alice.id, " ext-42 ")
        .await
        .unwrap();
    assert_eq!(linked.external_user_id.as_deref(), Some("ext-42"));
    assert_eq!(
        h.users
            .by_external_id(t.id, "ext-42")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    h.users
        .link_external_id(t.id, alice.id, "ext-42")
        .await
        .expect("linking the same id again is a no-op");
    let err = h
        .users
        .link_external_id(t.id, bob.id, "ext-42")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { detail, .. } if detail.contains("linked to another user")),
        "{err:?}"
    );
    let err = h
        .users
        .link_external_id(t.id, alice.id, "ext-43")
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "relinking to another id: {err:?}");
    let err = h
        .users
        .link_external_id(t.id, UserId::new(), "ext-44")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = h
        .users
        .link_external_id(t.id, bob.id, "   ")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { .. }),
        "an empty id is invalid input: {err:?}"
    );
    let err = h
        .users
        .link_external_id(other.id, alice.id, "ext-45")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { .. }),
        "another tenant's user: {err:?}"
    );
    let bob_now = h.users.by_id(t.id, bob.id).await.unwrap().unwrap();
    assert!(
        bob_now.external_user_id.is_none(),
        "failed links write nothing"
    );
    // The external login's upsert now refreshes the linked user instead of creating one.
    let refreshed = h
        .users
        .upsert_directory_user(
            t.id,
            DirectoryUser {
                username: "a.smith".into(),
                external_user_id: "ext-42".into(),
                display_name: Some("Alice Smith".into()),
                email: None,
                refreshed_at: Utc::now(),
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.id, alice.id);
}

async fn directory_users_upsert(h: Harness) {
    let t = tenant(&h, "dir").await;
    let at = Utc::now() - Duration::minutes(5);
    let first = h
        .users
        .upsert_directory_user(
            t.id,
            DirectoryUser {
                username: "jane".into(),
                external_user_id: "ext-jane".into(),
                display_name: Some("Jane Doe".into()),
                email: Some("jane@corp.example".into()),
                refreshed_at: at,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.external_user_id.as_deref(), Some("ext-jane"));
    assert_eq!(first.azure_email.as_deref(), Some("jane@corp.example"));
    let later = Utc::now();
    let second = h
        .users
        .upsert_directory_user(
            t.id,
            DirectoryUser {
                username: "jane".into(),
                external_user_id: "ext-jane".into(),
                display_name: Some("Jane Doe-Smith".into()),
                email: Some("jane@corp.example".into()),
                refreshed_at: later,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.id, first.id, "refreshed, not duplicated");
    assert_eq!(second.display_name.as_deref(), Some("Jane Doe-Smith"));
    assert_eq!(
        second.last_token_refresh.map(|t| t.timestamp_micros()),
        Some(later.timestamp_micros())
    );

    // A local user with the same username and no directory link is linked, keeping its roles.
    let local = h
        .users
        .create(t.id, NewUser::new("Kim").with_roles([role("accountant")]))
        .await
        .unwrap();
    let linked = h
        .users
        .upsert_directory_user(
            t.id,
            DirectoryUser {
                username: "kim".into(),
                external_user_id: "ext-kim".into(),
                display_name: None,
                email: None,
                refreshed_at: later,
            },
        )
        .await
        .unwrap();
    assert_eq!(linked.id, local.id);
    assert_eq!(linked.roles, vec![role("accountant")]);

    // The username belongs to another directory account: refuse, do not merge.
    let err = h
        .users
        .upsert_directory_user(
            t.id,
            DirectoryUser {
                username: "jane".into(),
                external_user_id: "ext-other".into(),
                display_name: None,
                email: None,
                refreshed_at: later,
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
}

async fn bad_input_writes_nothing(h: Harness) {
    let t = tenant(&h, "bad").await;
    for new in [
        NewUser::new("   "),
        NewUser::new("ok").with_email("not-an-email"),
        NewUser::new("a\u{7}b"),
        NewUser::new("x".repeat(200)),
    ] {
        let err = h.users.create(t.id, new).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    }
    assert!(h.users.list(t.id, 0, 10).await.unwrap().is_empty());
    let err = h
        .users
        .create(TenantId::new(), NewUser::new("orphan"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { entity: "tenant" }),
        "{err:?}"
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
            case!(tenant_crud);
            case!(user_crud);
            case!(duplicate_username_is_conflict_within_tenant_only);
            case!(tenants_are_isolated);
            case!(non_ascii_names_round_trip);
            case!(parallel_creates_of_one_username);
            case!(azure_oid_linking);
            case!(directory_users_upsert);
            case!(external_id_linking);
            case!(bad_input_writes_nothing);
        }
    };
}

conformance!(postgres, crate::common::harness_postgres);
conformance!(sqlite, crate::common::harness_sqlite);
conformance!(memory, crate::common::harness_memory);
