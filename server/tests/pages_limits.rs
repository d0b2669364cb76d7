//! Router tests of editing a group's limit in place on the group page: the form opens in the
//! row, keeps its values, answers bad input next to the field (in the reader's language), and
//! works without JavaScript.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use axum::body::Body;
use common::pages::{HOST, World, assert_field, main_of};
use common::*;
use http::{Request, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn a_limit_is_edited_in_place_with_its_errors_next_to_the_field() {
    let w = World::new().await;
    let gid = w.gw.group_id.to_string();
    let cost = w
        .limit(json!({"scope": "group", "metric": "cost", "window": "month", "cap": "25.5", "warn_at": [80, 100]}))
        .await;
    let tokens = w
        .limit(json!({"scope": "group", "metric": "tokens", "window": "day", "cap": 1000}))
        .await;
    let (cost_s, tokens_s) = (cost.to_string(), tokens.to_string());

    let (_, html) = w.page(&format!("/groups/{gid}"), Some(&w.gw.admin)).await;
    let main = main_of(&html);
    assert!(
        main.contains(&format!("/groups/{gid}?edit_limit={cost}"))
            && !main.contains("data-edit-limit="),
        "Edit links, no form open"
    );
    let (_, html) = w
        .page(
            &format!("/groups/{gid}?edit_limit={cost}"),
            Some(&w.gw.admin),
        )
        .await;
    let main = main_of(&html);
    let form = &main[main.find(&format!(r#"data-edit-limit="{cost}""#)).unwrap()..];
    assert!(
        form.contains("Cap (USD)")
            && form.contains(r#"name="cap""#)
            && form.contains(r#"value="25.5""#)
            && form.contains(r#"value="80, 100""#),
        "{form}"
    );
    let (_, html) = w
        .page(&format!("/groups/{gid}?edit_limit={cost}"), Some(&w.member))
        .await;
    let main = main_of(&html);
    assert!(
        !main.contains("data-edit-limit=") && !main.contains("?edit_limit="),
        "members do not edit"
    );

    // The form's fields, as the browser posts them.
    let edit = |limit: &str, cap: &str, warn: &str| -> Vec<(&'static str, String)> {
        vec![
            ("id", gid.clone()),
            ("limit_id", limit.to_owned()),
            ("cap", cap.to_owned()),
            ("warn_at", warn.to_owned()),
        ]
    };
    let post_edit = |session: String, lang: &'static str, f: Vec<(&'static str, String)>| {
        let w = &w;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            w.rpc_in(lang, "update_limit", &session, &pairs).await
        }
    };
    let (cost_id, tokens_id) = (cost_s.as_str(), tokens_s.as_str());

    let (s, _) = post_edit(w.member.clone(), "en", edit(cost_id, "30", "50, 90")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = post_edit(w.outsider.clone(), "en", edit(cost_id, "30", "50, 90")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, body) = post_edit(w.gw.admin.clone(), "en", edit(cost_id, "30", "50%, 90")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["cap_raw"], &body["warn_at"]),
        (&json!(30_000_000), &json!([50, 90]))
    );
    let (s, body) = post_edit(w.gw.admin.clone(), "en", edit(cost_id, "12.5", "")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["cap_raw"], &body["warn_at"]),
        (&json!(12_500_000), &json!([80, 100]))
    );

    for (limit, cap, warn, field) in [
        (cost_id, "-3", "80", "cap"),
        (cost_id, "0", "80", "cap"),
        (cost_id, "1.0000001", "80", "cap"),
        (cost_id, "abc", "80", "cap"),
        (cost_id, "10", "0", "warn_at"),
        (cost_id, "10", "101", "warn_at"),
        (cost_id, "10", "eighty", "warn_at"),
        (cost_id, "10", "1,2,3,4,5,6", "warn_at"),
        (tokens_id, "1.5", "80", "cap"),
    ] {
        let (s, body) = post_edit(w.gw.admin.clone(), "en", edit(limit, cap, warn)).await;
        assert_field(s, &body, field);
    }
    let (s, body) = post_edit(w.gw.admin.clone(), "zh-CN", edit(tokens_id, "1.5", "")).await;
    let message = assert_field(s, &body, "cap");
    assert!(message.contains("整数"), "{body}");

    // Without JavaScript: the browser comes back to the open form with the field named, and
    // the message stands next to that field.
    let referer = format!("http://{HOST}/groups/{gid}?edit_limit={cost}");
    let pairs = edit(cost_id, "-3", "80");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let req = Request::post("/rpc/update_limit")
        .header(header::HOST, HOST)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header(header::REFERER, &referer)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, format!("aicarpool_session={}", w.gw.admin))
        .body(Body::from(encode_form(&pairs)))
        .unwrap();
    let res = send(&w.router, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/groups/{gid}?edit_limit={cost}&error=invalid&field=cap")
    );
    let (_, html) = w.page(&location, Some(&w.gw.admin)).await;
    let main = main_of(&html);
    let cap_error = &main[main
        .find(&format!(r#"id="edit-limit-{cost}-cap-error""#))
        .unwrap()..];
    assert!(
        cap_error.starts_with(&format!(
            r#"id="edit-limit-{cost}-cap-error" class="mt-1 min-h-4 text-xs text-red-600 dark:text-red-400">Enter US dollars above 0"#
        )),
        "{cap_error}"
    );

    let (_, limits) =
        w.gw.api("GET", &format!("/api/groups/{gid}/limits"), None)
            .await;
    let saved = limits
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == json!(cost))
        .unwrap();
    assert_eq!(
        saved["cap_raw"],
        json!(12_500_000),
        "refusals changed nothing"
    );
}
