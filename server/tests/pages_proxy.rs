//! Router tests of the chat-proxy pages: the accounts page, the accounts section of the group
//! page and the keys page: what each renders for each kind of caller, and the server functions
//! behind their forms. API keys never appear in a page once stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use axum::body::Body;
use common::pages::{HOST, Pages, main_of};
use common::*;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

/// The provider key of the system account: must never come back.
const SECRET: &str = "sk-test-SECRETVALUE-9876";
/// The proxy password of the system account: must never come back.
const PROXY_PASSWORD: &str = "hunter2xyz";

/// A set-up instance: a system admin `root`, a group owned by `owner` with one `member`, and an
/// `outsider` in no group.
struct World {
    _dir: tempfile::TempDir,
    pages: Pages,
    group: i64,
    root: String,
    owner: String,
    member: String,
    outsider: String,
}

impl std::ops::Deref for World {
    type Target = Pages;

    fn deref(&self) -> &Pages {
        &self.pages
    }
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let state = state_with_token(config_in(dir.path(), None)).await;
        let router = router_for(&state);
        let (_, root) = user_with_session(&state, "root@example.com", true).await;
        let (_, owner) = user_with_session(&state, "owner@example.com", false).await;
        let (_, member) = user_with_session(&state, "member@example.com", false).await;
        let (_, outsider) = user_with_session(&state, "outsider@example.com", false).await;
        let (s, g) = call(
            &router,
            api(
                "POST",
                "/api/groups",
                Some(&owner),
                Some(json!({"name": "Team Claude"})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        let group = g["id"].as_i64().unwrap();
        let (s, inv) = call(
            &router,
            api(
                "POST",
                &format!("/api/groups/{group}/invite"),
                Some(&owner),
                Some(json!({"email": "member@example.com", "role": "member"})),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{inv}");
        let token = inv["accept_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let (s, body) = call(
            &router,
            api(
                "POST",
                &format!("/api/invitations/{token}/accept"),
                Some(&member),
                None,
            ),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        World {
            _dir: dir,
            pages: Pages { router },
            group,
            root,
            owner,
            member,
            outsider,
        }
    }

    /// Adds an account through the add form's server function.
    async fn add_account(
        &self,
        session: &str,
        name: &str,
        group: &str,
        proxy: &str,
    ) -> (StatusCode, Value) {
        self.rpc(
            "create_account",
            session,
            &[
                ("name", name),
                ("provider", "openai_compatible"),
                ("base_url", "http://127.0.0.1:9/v1"),
                ("api_key", SECRET),
                ("models", "deepseek-chat,\ndeepseek-reasoner"),
                ("model_aliases", "ds=deepseek-chat"),
                ("proxy_url", proxy),
                ("weight", "3"),
                ("priority", ""),
                ("group_id", group),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn the_accounts_page_is_for_those_who_manage_accounts_and_never_shows_a_key() {
    let w = World::new().await;
    let proxy = format!("socks5h://bob:{PROXY_PASSWORD}@10.0.0.2:1080");
    let (s, account) = w.add_account(&w.root, "Shared DeepSeek", "", &proxy).await;
    assert_eq!(s, StatusCode::OK, "{account}");
    assert_eq!(account["api_key_hint"], "…9876");
    assert_eq!(account["model_aliases"]["ds"], "deepseek-chat");

    let (status, html) = w.page("/accounts", Some(&w.root)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"id="nav-accounts""#),
        "the header links the page"
    );
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-account-name="Shared DeepSeek""#),
        "{main}"
    );
    assert!(main.contains("…9876") && main.contains("deepseek-reasoner"));
    assert!(main.contains("http://127.0.0.1:9/v1") && main.contains("ds → deepseek-chat"));
    assert!(main.contains(r#"id="add-account""#) && main.contains(r#"name="api_key""#));
    assert!(
        main.contains("Shared system account"),
        "a system admin may add system accounts"
    );
    assert!(
        !html.contains(SECRET) && !html.contains("SECRETVALUE"),
        "the key never comes back"
    );
    assert!(!html.contains(PROXY_PASSWORD), "nor the proxy's password");
    assert!(
        main.contains("socks5h://"),
        "the masked proxy is shown: {main}"
    );

    // An owner sees their groups' accounts only, and dedicates new ones to a group.
    let group = w.group.to_string();
    let (s, dedicated) = w.add_account(&w.owner, "Team key", &group, "").await;
    assert_eq!(s, StatusCode::OK, "{dedicated}");
    assert_eq!(
        dedicated["bound_groups"],
        json!([w.group]),
        "bound at creation"
    );
    let (status, html) = w.page("/accounts", Some(&w.owner)).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"data-account-name="Team key""#) && main.contains("Team Claude"));
    assert!(!main.contains("Shared DeepSeek") && !main.contains("Shared system account"));
    assert!(
        main.contains(&format!(r#"<option value="{}""#, w.group)),
        "{main}"
    );
    assert!(!html.contains(SECRET));
    // ...and may not add a system account.
    let (s, body) = w.add_account(&w.owner, "Sneaky", "", "").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");

    // Members and outsiders manage nothing: no link, and the page does not exist for them.
    for session in [&w.member, &w.outsider] {
        let (_, html) = w.page("/groups", Some(session)).await;
        assert!(!html.contains(r#"id="nav-accounts""#));
        let (status, html) = w.page("/accounts", Some(session)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(main_of(&html).contains(r#"id="not-found""#));
        assert!(!html.contains("Team key"));
    }
    let (status, html) = w.page("/accounts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(main_of(&html).contains(r#"id="sign-in-prompt""#));

    // Edit with an empty key keeps it; disable; delete.
    let id = dedicated["id"].as_i64().unwrap().to_string();
    let (s, edited) = w
        .rpc(
            "update_account",
            &w.owner,
            &[
                ("id", &id),
                ("name", "Team key 2"),
                ("base_url", "http://127.0.0.1:9/v1"),
                ("api_key", ""),
                ("models", "deepseek-chat"),
                ("model_aliases", ""),
                ("proxy_url", ""),
                ("weight", "5"),
                ("priority", "-1"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!(edited["api_key_hint"], "…9876");
    assert_eq!(
        (edited["weight"].as_i64(), edited["priority"].as_i64()),
        (Some(5), Some(-1))
    );
    let (s, off) = w
        .rpc(
            "set_account_enabled",
            &w.owner,
            &[("id", &id), ("enabled", "false")],
        )
        .await;
    assert_eq!((s, &off["enabled"]), (StatusCode::OK, &json!(false)));
    let (s, _) = w.rpc("delete_account", &w.member, &[("id", &id)]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a member cannot even see it");
    let (s, _) = w.rpc("delete_account", &w.owner, &[("id", &id)]).await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = w.page("/accounts", Some(&w.owner)).await;
    assert!(main_of(&html).contains(r#"id="no-accounts""#));
}

#[tokio::test]
async fn the_test_button_reports_the_connection_error() {
    let w = World::new().await;
    let (_, account) = w.add_account(&w.root, "Nowhere", "", "").await;
    let id = account["id"].as_i64().unwrap().to_string();
    let (s, outcome) = w.rpc("test_account", &w.root, &[("id", &id)]).await;
    assert_eq!(s, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["account_id"].as_i64(), account["id"].as_i64());
    assert_eq!(outcome["result"]["ok"], false);
    let (_, html) = w.page("/accounts", Some(&w.root)).await;
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-test="last-error""#),
        "the failure is kept: {main}"
    );
}

#[tokio::test]
async fn the_group_page_lists_bound_accounts_and_admins_manage_them() {
    let w = World::new().await;
    let (_, account) = w.add_account(&w.root, "Shared DeepSeek", "", "").await;
    let account_id = account["id"].as_i64().unwrap().to_string();
    let group = w.group.to_string();
    let uri = format!("/groups/{}", w.group);

    let (_, html) = w.page(&uri, Some(&w.member)).await;
    assert!(main_of(&html).contains(r#"id="no-bindings""#));
    // A group owner may not share a system account; a system admin may.
    let bind = [
        ("id", group.as_str()),
        ("account_id", &account_id),
        ("priority", "2"),
        ("weight", ""),
    ];
    let (s, _) = w.rpc("bind_account", &w.owner, &bind).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, html) = w.page(&uri, Some(&w.root)).await;
    assert!(main_of(&html).contains(r#"id="bind-form""#) && html.contains("Shared DeepSeek"));
    let (s, binding) = w.rpc("bind_account", &w.root, &bind).await;
    assert_eq!(s, StatusCode::OK, "{binding}");
    assert_eq!(binding["priority"], 2);

    let (_, html) = w.page(&uri, Some(&w.member)).await;
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-account-name="Shared DeepSeek""#),
        "{main}"
    );
    assert!(main.contains("deepseek-reasoner") && main.contains("ds"));
    assert!(!main.contains(r#"id="bind-form""#) && !main.contains("Unbind"));
    assert!(main.contains(&format!(r#"href="/groups/{}/keys""#, w.group)));
    assert!(!html.contains(SECRET));

    let (_, html) = w.page(&uri, Some(&w.owner)).await;
    let main = main_of(&html);
    assert!(
        main.contains("Unbind") && main.contains(r#"id="nothing-to-bind""#),
        "{main}"
    );
    let unbind = [("id", group.as_str()), ("account_id", account_id.as_str())];
    let (s, _) = w.rpc("unbind_account", &w.member, &unbind).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.rpc("unbind_account", &w.owner, &unbind).await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = w.page(&uri, Some(&w.member)).await;
    assert!(!main_of(&html).contains("Shared DeepSeek"));
}

#[tokio::test]
async fn members_create_keys_that_are_shown_once_and_revoke_them() {
    let w = World::new().await;
    let uri = format!("/groups/{}/keys", w.group);
    let group = w.group.to_string();

    let (status, html) = w.page(&uri, Some(&w.member)).await;
    assert_eq!(status, StatusCode::OK);
    let main = main_of(&html);
    assert!(main.contains(r#"id="create-key-form""#) && main.contains(r#"id="no-keys""#));
    let (status, html) = w.page(&uri, Some(&w.outsider)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains("Team Claude"));
    let (_, html) = w.page(&uri, None).await;
    assert!(main_of(&html).contains(r#"id="sign-in-prompt""#));

    let (s, new) = w
        .rpc(
            "create_key",
            &w.member,
            &[
                ("id", &group),
                ("name", "laptop"),
                ("models", "deepseek-chat"),
                ("expires_on", "2099-12-31"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{new}");
    let key = new["key"].as_str().unwrap();
    assert!(key.starts_with("acp_"));
    assert_eq!(
        new["expires_at"], 4_102_444_799_000_i64,
        "through the end of that day"
    );
    let masked = format!(
        "{}…{}",
        new["prefix"].as_str().unwrap(),
        new["last4"].as_str().unwrap()
    );

    let (_, html) = w.page(&uri, Some(&w.member)).await;
    let main = main_of(&html);
    assert!(
        main.contains(&masked) && main.contains(r#"data-state="active""#),
        "{main}"
    );
    assert!(!html.contains(key), "the key is never listed");
    // The owner sees every member's keys, with whose they are.
    let (_, html) = w.page(&uri, Some(&w.owner)).await;
    let main = main_of(&html);
    assert!(
        main.contains(&masked) && main.contains(">member<"),
        "{main}"
    );
    assert!(!html.contains(key));

    let key_id = new["id"].as_i64().unwrap().to_string();
    let revoke = [("id", group.as_str()), ("key_id", key_id.as_str())];
    let (s, _) = w.rpc("revoke_key", &w.outsider, &revoke).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, revoked) = w.rpc("revoke_key", &w.member, &revoke).await;
    assert_eq!(s, StatusCode::OK, "{revoked}");
    let (_, html) = w.page(&uri, Some(&w.member)).await;
    assert!(main_of(&html).contains(r#"data-state="revoked""#));
    let (s, _) = w.rpc("revoke_key", &w.member, &revoke).await;
    assert_eq!(s, StatusCode::GONE);
}

#[tokio::test]
async fn the_keys_page_speaks_chinese_too() {
    let w = World::new().await;
    let req = Request::get(format!("/groups/{}/keys", w.group))
        .header(header::HOST, HOST)
        .header(header::ACCEPT_LANGUAGE, "zh-CN")
        .header(header::COOKIE, format!("aicarpool_session={}", w.member))
        .body(Body::empty())
        .unwrap();
    let html = text(send(&w.pages.router, req).await).await;
    let main = main_of(&html);
    assert!(
        main.contains("创建密钥") && main.contains("API 密钥"),
        "{main}"
    );
}
