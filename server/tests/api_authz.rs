//! The authorization matrix: every group and invitation endpoint × {anonymous, non-member,
//! member, admin, owner, system admin}. Allowed callers succeed; everyone else is refused with
//! the documented status and the database is left exactly as it was.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use aicarpool::db::Db;
use aicarpool::state::AppState;
use common::*;
use http::StatusCode;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Outsider,
    Member,
    Admin,
    Owner,
    SysAdmin,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Outsider,
    Who::Member,
    Who::Admin,
    Who::Owner,
    Who::SysAdmin,
];

/// A group with an owner, an admin, two members, an outsider, a system admin, one pending
/// email invitation (for the outsider) and one invite link.
struct World {
    _dir: tempfile::TempDir,
    state: AppState,
    router: axum::Router,
    group: i64,
    owner: (i64, String),
    admin: (i64, String),
    member: (i64, String),
    member2: (i64, String),
    outsider: (i64, String),
    sysadmin: (i64, String),
    invitation: i64,
    invitation_token: String,
    link: i64,
    link_token: String,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let state = state_with_token(config_in(dir.path(), None)).await;
        let router = router_for(&state);
        let sysadmin = user_with_session(&state, "root@example.com", true).await;
        let owner = user_with_session(&state, "owner@example.com", false).await;
        let admin = user_with_session(&state, "admin@example.com", false).await;
        let member = user_with_session(&state, "member@example.com", false).await;
        let member2 = user_with_session(&state, "member2@example.com", false).await;
        let outsider = user_with_session(&state, "outsider@example.com", false).await;
        let (s, g) = call(
            &router,
            api(
                "POST",
                "/api/groups",
                Some(&owner.1),
                Some(json!({"name": "Team Claude"})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let group = g["id"].as_i64().unwrap();
        for (user, role) in [(&admin, "admin"), (&member, "member"), (&member2, "member")] {
            let email = match role {
                "admin" => "admin@example.com",
                _ if user.0 == member.0 => "member@example.com",
                _ => "member2@example.com",
            };
            let (s, inv) = call(
                &router,
                api(
                    "POST",
                    &format!("/api/groups/{group}/invite"),
                    Some(&owner.1),
                    Some(json!({"email": email, "role": role})),
                ),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{inv}");
            let token = inv["accept_url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let (s, body) = call(
                &router,
                api(
                    "POST",
                    &format!("/api/invitations/{token}/accept"),
                    Some(&user.1),
                    None,
                ),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{body}");
        }
        let (s, inv) = call(
            &router,
            api(
                "POST",
                &format!("/api/groups/{group}/invite"),
                Some(&owner.1),
                Some(json!({"email": "outsider@example.com"})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let invitation = inv["id"].as_i64().unwrap();
        let invitation_token = inv["accept_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let (s, link) = call(
            &router,
            api(
                "POST",
                &format!("/api/groups/{group}/invite-links"),
                Some(&owner.1),
                Some(json!({"max_uses": 5})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{link}");
        let link_token = link["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        World {
            _dir: dir,
            state,
            router,
            group,
            owner,
            admin,
            member,
            member2,
            outsider,
            sysadmin,
            invitation,
            invitation_token,
            link: link["id"].as_i64().unwrap(),
            link_token,
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::Outsider => Some(&self.outsider.1),
            Who::Member => Some(&self.member.1),
            Who::Admin => Some(&self.admin.1),
            Who::Owner => Some(&self.owner.1),
            Who::SysAdmin => Some(&self.sysadmin.1),
        }
    }

    /// Everything a refused request must not change.
    async fn snapshot(&self) -> Vec<String> {
        let Db::Sqlite(pool) = self.state.db() else {
            panic!("sqlite")
        };
        let queries = [
            "SELECT COUNT(*) || '' FROM users",
            "SELECT COALESCE(group_concat(x, ','), '') FROM (SELECT id || ':' || name || ':' || description || ':' || updated_at AS x FROM carpool_groups ORDER BY id)",
            "SELECT COALESCE(group_concat(x, ','), '') FROM (SELECT group_id || ':' || user_id || ':' || role AS x FROM group_members ORDER BY 1)",
            "SELECT COALESCE(group_concat(x, ','), '') FROM (SELECT id || ':' || token_hash || ':' || IFNULL(revoked_at, '-') || ':' || IFNULL(accepted_at, '-') || ':' || expires_at AS x FROM invitations ORDER BY id)",
            "SELECT COALESCE(group_concat(x, ','), '') FROM (SELECT id || ':' || uses || ':' || IFNULL(revoked_at, '-') AS x FROM invite_links ORDER BY id)",
            "SELECT COUNT(*) || '' FROM mail_outbox",
            "SELECT COUNT(*) || '' FROM sessions WHERE revoked_at IS NULL",
        ];
        let mut out = Vec::new();
        for q in queries {
            out.push(
                sqlx::query_scalar::<_, String>(q)
                    .fetch_one(pool)
                    .await
                    .unwrap(),
            );
        }
        out
    }
}

/// One endpoint of the matrix.
struct Case {
    name: &'static str,
    method: &'static str,
    path: fn(&World) -> String,
    body: fn(&World) -> Option<Value>,
    /// The expected status for each caller.
    expect: fn(Who) -> u16,
}

fn no_body(_: &World) -> Option<Value> {
    None
}

/// 401 for anonymous, 404 for outsiders, then by role.
fn group_rule(min: Who) -> impl Fn(Who, u16, u16) -> u16 {
    move |who, ok, refused| match who {
        Who::Anonymous => 401,
        Who::Outsider => 404,
        Who::SysAdmin => ok,
        w if rank(w) >= rank(min) => ok,
        _ => refused,
    }
}

fn rank(w: Who) -> u8 {
    match w {
        Who::Member => 1,
        Who::Admin => 2,
        Who::Owner => 3,
        _ => 0,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "me",
            method: "GET",
            path: |_| "/api/auth/me".into(),
            body: no_body,
            expect: |w| if w == Who::Anonymous { 401 } else { 200 },
        },
        Case {
            name: "update me",
            method: "PUT",
            path: |_| "/api/auth/me".into(),
            body: |_| Some(json!({"name": "New Name"})),
            expect: |w| if w == Who::Anonymous { 401 } else { 200 },
        },
        Case {
            name: "logout",
            method: "POST",
            path: |_| "/api/auth/logout".into(),
            body: no_body,
            expect: |w| if w == Who::Anonymous { 401 } else { 204 },
        },
        Case {
            name: "list groups",
            method: "GET",
            path: |_| "/api/groups".into(),
            body: no_body,
            expect: |w| if w == Who::Anonymous { 401 } else { 200 },
        },
        Case {
            name: "create group",
            method: "POST",
            path: |_| "/api/groups".into(),
            body: |_| Some(json!({"name": "Another"})),
            expect: |w| if w == Who::Anonymous { 401 } else { 201 },
        },
        Case {
            name: "get group",
            method: "GET",
            path: |w| format!("/api/groups/{}", w.group),
            body: no_body,
            expect: |w| group_rule(Who::Member)(w, 200, 403),
        },
        Case {
            name: "update group",
            method: "PUT",
            path: |w| format!("/api/groups/{}", w.group),
            body: |_| Some(json!({"name": "Renamed"})),
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "delete group",
            method: "DELETE",
            path: |w| format!("/api/groups/{}", w.group),
            body: no_body,
            expect: |w| group_rule(Who::Owner)(w, 204, 403),
        },
        Case {
            name: "list members",
            method: "GET",
            path: |w| format!("/api/groups/{}/members", w.group),
            body: no_body,
            expect: |w| group_rule(Who::Member)(w, 200, 403),
        },
        Case {
            name: "promote member to admin",
            method: "PUT",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.member2.0),
            body: |_| Some(json!({"role": "admin"})),
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "make an owner",
            method: "PUT",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.member2.0),
            body: |_| Some(json!({"role": "owner"})),
            expect: |w| group_rule(Who::Owner)(w, 200, 403),
        },
        Case {
            name: "demote an admin",
            method: "PUT",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.admin.0),
            body: |_| Some(json!({"role": "member"})),
            // An admin may step down themselves; other admins are an owner's call.
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "demote the last owner",
            method: "PUT",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.owner.0),
            body: |_| Some(json!({"role": "admin"})),
            expect: |w| group_rule(Who::Owner)(w, 409, 403),
        },
        Case {
            name: "remove a member",
            method: "DELETE",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.member2.0),
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 204, 403),
        },
        Case {
            name: "remove an admin",
            method: "DELETE",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.admin.0),
            // For the admin it is leaving (allowed); a member may not.
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 204, 403),
        },
        Case {
            name: "remove the owner",
            method: "DELETE",
            path: |w| format!("/api/groups/{}/members/{}", w.group, w.owner.0),
            body: no_body,
            expect: |w| match w {
                Who::Admin | Who::Member => 403,
                Who::Owner | Who::SysAdmin => 409,
                other => group_rule(Who::Owner)(other, 0, 0),
            },
        },
        Case {
            name: "leave",
            method: "POST",
            path: |w| format!("/api/groups/{}/leave", w.group),
            body: no_body,
            expect: |w| match w {
                Who::Member | Who::Admin => 204,
                Who::Owner => 409,
                Who::SysAdmin | Who::Outsider => 404,
                Who::Anonymous => 401,
            },
        },
        Case {
            name: "transfer ownership",
            method: "POST",
            path: |w| format!("/api/groups/{}/transfer", w.group),
            body: |w| Some(json!({"user_id": w.admin.0})),
            expect: |w| group_rule(Who::Owner)(w, 200, 403),
        },
        Case {
            name: "invite",
            method: "POST",
            path: |w| format!("/api/groups/{}/invite", w.group),
            body: |_| Some(json!({"email": "new@example.com", "role": "member"})),
            expect: |w| group_rule(Who::Admin)(w, 201, 403),
        },
        Case {
            name: "list invitations",
            method: "GET",
            path: |w| format!("/api/groups/{}/invitations", w.group),
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "revoke invitation",
            method: "DELETE",
            path: |w| format!("/api/groups/{}/invitations/{}", w.group, w.invitation),
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 204, 403),
        },
        Case {
            name: "resend invitation",
            method: "POST",
            path: |w| {
                format!(
                    "/api/groups/{}/invitations/{}/resend",
                    w.group, w.invitation
                )
            },
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "create invite link",
            method: "POST",
            path: |w| format!("/api/groups/{}/invite-links", w.group),
            body: |_| Some(json!({"role": "member", "max_uses": 3, "expires_in_hours": 24})),
            expect: |w| group_rule(Who::Admin)(w, 201, 403),
        },
        Case {
            name: "list invite links",
            method: "GET",
            path: |w| format!("/api/groups/{}/invite-links", w.group),
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 200, 403),
        },
        Case {
            name: "revoke invite link",
            method: "DELETE",
            path: |w| format!("/api/groups/{}/invite-links/{}", w.group, w.link),
            body: no_body,
            expect: |w| group_rule(Who::Admin)(w, 204, 403),
        },
        Case {
            name: "preview invitation",
            method: "GET",
            path: |w| format!("/api/invitations/{}", w.invitation_token),
            body: no_body,
            expect: |_| 200,
        },
        Case {
            name: "accept email invitation",
            method: "POST",
            path: |w| format!("/api/invitations/{}/accept", w.invitation_token),
            body: no_body,
            // Only the invited address (the outsider's) may accept it.
            expect: |w| match w {
                Who::Anonymous => 401,
                Who::Outsider => 200,
                _ => 403,
            },
        },
        Case {
            name: "accept invite link",
            method: "POST",
            path: |w| format!("/api/invitations/{}/accept", w.link_token),
            body: no_body,
            expect: |w| match w {
                Who::Anonymous => 401,
                Who::Outsider | Who::SysAdmin => 200,
                _ => 409,
            },
        },
    ]
}

#[tokio::test]
async fn every_endpoint_by_every_role() {
    let mut failures = Vec::new();
    for case in cases() {
        for who in EVERYONE {
            let world = World::new().await;
            let before = world.snapshot().await;
            let request = api(
                case.method,
                &(case.path)(&world),
                world.token(who),
                (case.body)(&world),
            );
            let (status, body) = call(&world.router, request).await;
            let expected = (case.expect)(who);
            if status.as_u16() != expected {
                failures.push(format!(
                    "{} as {who:?}: expected {expected}, got {status} {body}",
                    case.name
                ));
                continue;
            }
            if status.is_client_error() {
                let after = world.snapshot().await;
                if before != after {
                    failures.push(format!(
                        "{} as {who:?}: refused ({status}) but changed the database",
                        case.name
                    ));
                }
                let message = body["error"]["message"].as_str().unwrap_or("");
                if message.is_empty() {
                    failures.push(format!(
                        "{} as {who:?}: refusal without a message: {body}",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn outsiders_learn_nothing_about_a_group() {
    let world = World::new().await;
    let missing = format!("/api/groups/{}", world.group + 1000);
    let (s1, b1) = call(
        &world.router,
        api(
            "GET",
            &format!("/api/groups/{}", world.group),
            Some(&world.outsider.1),
            None,
        ),
    )
    .await;
    let (s2, b2) = call(
        &world.router,
        api("GET", &missing, Some(&world.outsider.1), None),
    )
    .await;
    assert_eq!(
        (s1, &b1),
        (s2, &b2),
        "an existing group and a missing one look the same to an outsider"
    );
    let (_, groups) = call(
        &world.router,
        api("GET", "/api/groups", Some(&world.outsider.1), None),
    )
    .await;
    assert_eq!(groups, json!([]));
}
