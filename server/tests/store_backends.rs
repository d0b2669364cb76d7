//! The same group and invitation scenario on SQLite and on the real MariaDB: the store must
//! behave identically on both engines, including under concurrent use of one invite link.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::*;
use http::StatusCode;
use serde_json::json;

async fn scenario(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with_token(config_in(dir.path(), database_url)).await;
    let router = router_for(&state);
    let (_, owner) = user_with_session(&state, "owner@example.com", false).await;
    let (admin_id, admin) = user_with_session(&state, "admin@example.com", false).await;

    let (s, g) = call(
        &router,
        api(
            "POST",
            "/api/groups",
            Some(&owner),
            Some(json!({"name": "  拼车 Team  ", "description": "Claude + GPT"})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(
        (
            g["name"].as_str(),
            g["role"].as_str(),
            g["member_count"].as_i64()
        ),
        (Some("拼车 Team"), Some("owner"), Some(1))
    );
    let group = g["id"].as_i64().unwrap();

    let (_, inv) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite"),
            Some(&owner),
            Some(json!({"email": "admin@example.com", "role": "admin"})),
        ),
    )
    .await;
    let token = inv["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    // Re-inviting the same address replaces the earlier invitation.
    let (_, inv2) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite"),
            Some(&owner),
            Some(json!({"email": "admin@example.com", "role": "admin"})),
        ),
    )
    .await;
    let token2 = inv2["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = call(
        &router,
        api(
            "POST",
            &format!("/api/invitations/{token}/accept"),
            Some(&admin),
            None,
        ),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::GONE,
        "the replaced invitation no longer works"
    );
    let (s, b) = call(
        &router,
        api(
            "POST",
            &format!("/api/invitations/{token2}/accept"),
            Some(&admin),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, b) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/invite-links"),
            Some(&admin),
            Some(json!({"max_uses": 2, "expires_in_hours": 48})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let link = b["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mut joiners = Vec::new();
    for i in 0..6 {
        joiners.push(user_with_session(&state, &format!("j{i}@example.com"), false).await);
    }
    let handles: Vec<_> = joiners
        .iter()
        .map(|(_, t)| {
            let router = router.clone();
            let req = api(
                "POST",
                &format!("/api/invitations/{link}/accept"),
                Some(t),
                None,
            );
            tokio::spawn(async move { call(&router, req).await.0 })
        })
        .collect();
    let mut joined = 0;
    for h in handles {
        let s = h.await.unwrap();
        assert!(s == StatusCode::OK || s == StatusCode::GONE, "{s}");
        joined += usize::from(s == StatusCode::OK);
    }
    assert_eq!(
        joined, 2,
        "a link with max_uses 2 admits exactly 2, however many race"
    );
    let (_, links) = call(
        &router,
        api(
            "GET",
            &format!("/api/groups/{group}/invite-links"),
            Some(&owner),
            None,
        ),
    )
    .await;
    assert_eq!(
        (links[0]["uses"].as_i64(), links[0]["state"].as_str()),
        (Some(2), Some("exhausted"))
    );

    let (_, members) = call(
        &router,
        api(
            "GET",
            &format!("/api/groups/{group}/members"),
            Some(&owner),
            None,
        ),
    )
    .await;
    assert_eq!(members.as_array().unwrap().len(), 4);
    assert_eq!(members[0]["role"], "owner", "owners first");

    // The last owner can neither leave nor be demoted; after a transfer the old owner can leave.
    let (s, b) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/leave"),
            Some(&owner),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("without an owner")
    );
    let (s, _) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/transfer"),
            Some(&owner),
            Some(json!({"user_id": admin_id})),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        &router,
        api(
            "POST",
            &format!("/api/groups/{group}/leave"),
            Some(&owner),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(
        &router,
        api("GET", &format!("/api/groups/{group}"), Some(&owner), None),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "gone from the group, the group is gone for them"
    );

    let (s, _) = call(
        &router,
        api(
            "DELETE",
            &format!("/api/groups/{group}"),
            Some(&admin),
            None,
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "the new owner deletes it");
    let (_, mine) = call(&router, api("GET", "/api/groups", Some(&admin), None)).await;
    assert_eq!(mine, json!([]));
    let (s, _) = call(
        &router,
        api("GET", &format!("/api/invitations/{link}"), None, None),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "links die with their group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_invitations_on_sqlite() {
    scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_invitations_on_mariadb() {
    scenario(Some(fresh_mysql_database().await)).await;
}
