//! Group membership for gateway tests: a new user joins the fixture's group through an invite
//! link, as a person would.

use serde_json::json;

use super::gateway::Gateway;
use super::user_with_session;

/// Makes `email` a member of the gateway's group with `role`; returns (user id, token).
pub async fn join(gw: &Gateway, email: &str, role: &str) -> (i64, String) {
    let (id, token) = user_with_session(&gw.state, email, false).await;
    let (s, link) = gw
        .api(
            "POST",
            &format!("/api/groups/{}/invite-links", gw.group_id),
            Some(json!({"role": role})),
        )
        .await;
    assert_eq!(s, 201, "{link}");
    let link = link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let (s, b) = gw
        .api_as(
            &token,
            "POST",
            &format!("/api/invitations/{link}/accept"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (id, token)
}
