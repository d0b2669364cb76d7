//! Router tests of the routing and budget pages: the group page's routing and limits sections,
//! account health and caps on the accounts page, the usage page's charts after real traffic,
//! the member's own view and the cost split: what each renders for whom, and the server
//! functions behind their forms.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use axum::body::Body;
use common::gateway::Gateway;
use common::pages::{HOST, Pages, main_of};
use common::*;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};

/// A running gateway (its system admin owns the group) with a `member` who has a key of their
/// own, an `outsider`, and a router over the same state for page requests.
struct World {
    gw: Gateway,
    pages: Pages,
    member_id: i64,
    member: String,
    member_key: String,
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
        let gw = common::gateway::start().await;
        let pages = Pages {
            router: router_for(&gw.state),
        };
        let (member_id, member) = common::members::join(&gw, "member@example.com", "member").await;
        let (_, outsider) = user_with_session(&gw.state, "outsider@example.com", false).await;
        let member_key = gw.new_key(&member, json!({"name": "member-laptop"})).await;
        World {
            gw,
            pages,
            member_id,
            member,
            member_key,
            outsider,
        }
    }

    fn group_uri(&self, rest: &str) -> String {
        format!("/groups/{}{rest}", self.gw.group_id)
    }
}

#[tokio::test]
async fn the_lead_sets_the_routing_and_members_read_it() {
    let w = World::new().await;
    let group = w.gw.group_id.to_string();
    let (s, html) = w.page(&w.group_uri(""), Some(&w.gw.admin)).await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    assert!(
        main.contains(r#"id="routing-form""#) && main.contains(r#"data-strategy="weighted""#),
        "{main}"
    );
    assert!(
        main.contains("Picks at random, in proportion to each binding"),
        "each strategy is explained"
    );

    let fields = [
        ("id", group.as_str()),
        ("strategy", "least_latency"),
        ("routes", "smart -> claude-sonnet-4-5, gpt-4o-mini\n"),
    ];
    let (s, body) = w.rpc("update_routing", &w.member, &fields).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = w.rpc("update_routing", &w.gw.admin, &fields).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["routes"]["smart"],
        json!(["claude-sonnet-4-5", "gpt-4o-mini"])
    );
    let (s, body) = w
        .rpc(
            "update_routing",
            &w.gw.admin,
            &[
                ("id", &group),
                ("strategy", "weighted"),
                ("routes", "no arrow"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (_, html) = w.page(&w.group_uri(""), Some(&w.member)).await;
    let main = main_of(&html);
    assert!(main.contains(r#"data-strategy="least_latency""#), "{main}");
    assert!(
        main.contains(r#"data-alias="smart""#) && main.contains("claude-sonnet-4-5 → gpt-4o-mini")
    );
    assert!(!main.contains(r#"id="routing-form""#), "members only read");

    // The chain works: the alias is served by its first model.
    w.gw.chat_ok(&w.member_key, "smart").await;

    let (_, html) = w.page_in("zh-CN", &w.group_uri(""), Some(&w.member)).await;
    assert!(main_of(&html).contains("最低延迟") && html.contains("模型回退链"));
}

#[tokio::test]
async fn accounts_show_live_health_and_their_caps() {
    let w = World::new().await;
    w.gw.chat_ok(&w.gw.key, "gpt-4o-mini").await;
    let (s, body) = w
        .rpc(
            "create_account",
            &w.gw.admin,
            &[
                ("name", "Capped"),
                ("provider", "openai_compatible"),
                ("base_url", "http://127.0.0.1:9/v1"),
                ("api_key", "sk-capped-1234"),
                ("models", "deepseek-chat"),
                ("model_aliases", ""),
                ("proxy_url", ""),
                ("weight", ""),
                ("priority", ""),
                ("group_id", ""),
                ("max_concurrency", "4"),
                ("rpm_limit", "60"),
                ("tpm_limit", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["max_concurrency"].as_i64(), body["rpm_limit"].as_i64()),
        (Some(4), Some(60))
    );
    let (s, html) = w.page("/accounts", Some(&w.gw.admin)).await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    let card = &main[main.find(r#"data-account-name="openai-main""#).unwrap()..];
    let card = &card[..card.find("</li>").unwrap()];
    assert!(
        card.contains(r#"data-circuit="closed""#) && card.contains(">Healthy<"),
        "{card}"
    );
    assert!(
        card.contains(r#"data-test="latency""#) && card.contains("0.0 %"),
        "{card}"
    );
    let capped = &main[main.find(r#"data-account-name="Capped""#).unwrap()..];
    assert!(capped.contains("4 / 60 / —"), "{capped}");
    assert!(capped.contains(r#"name="max_concurrency""#) && capped.contains(r#"value="60""#));

    // Emptying a cap in the edit form removes it.
    let id = body["id"].as_i64().unwrap().to_string();
    let (s, edited) = w
        .rpc(
            "update_account",
            &w.gw.admin,
            &[
                ("id", &id),
                ("name", "Capped"),
                ("base_url", "http://127.0.0.1:9/v1"),
                ("api_key", ""),
                ("models", "deepseek-chat"),
                ("model_aliases", ""),
                ("proxy_url", ""),
                ("weight", "1"),
                ("priority", "0"),
                ("max_concurrency", ""),
                ("rpm_limit", "30"),
                ("tpm_limit", "100000"),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!(edited["max_concurrency"], Value::Null);
    assert_eq!(
        (edited["rpm_limit"].as_i64(), edited["tpm_limit"].as_i64()),
        (Some(30), Some(100_000))
    );
}

#[tokio::test]
async fn the_lead_sets_limits_and_the_member_sees_what_is_left() {
    let w = World::new().await;
    let group = w.gw.group_id.to_string();
    let (_, html) = w.page(&w.group_uri(""), Some(&w.gw.admin)).await;
    let main = main_of(&html);
    assert!(
        main.contains(r#"id="limit-form""#) && main.contains(r#"id="no-limits""#),
        "{main}"
    );
    assert!(
        main.contains(&format!(r#"value="member:{}""#, w.member_id)),
        "members are targets"
    );
    assert!(
        main.contains(r#"value="key:"#)
            && main.contains(&format!(r#"value="account:{}""#, w.gw.openai_account))
    );

    let target = format!("member:{}", w.member_id);
    let limit = [
        ("id", group.as_str()),
        ("target", target.as_str()),
        ("metric", "requests"),
        ("window", "day"),
        ("cap", "10"),
        ("warn_at", "50, 100"),
    ];
    let (s, _) = w.rpc("create_limit", &w.member, &limit).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, created) = w.rpc("create_limit", &w.gw.admin, &limit).await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let group_cap = [
        ("id", group.as_str()),
        ("target", "group"),
        ("metric", "cost"),
        ("window", "month"),
        ("cap", "25.5"),
        ("warn_at", ""),
    ];
    let (s, body) = w.rpc("create_limit", &w.gw.admin, &group_cap).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = w
        .rpc(
            "create_limit",
            &w.gw.admin,
            &[
                ("id", &group),
                ("target", "group"),
                ("metric", "cost"),
                ("window", "month"),
                ("cap", "lots"),
                ("warn_at", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    w.gw.usage(2).await;

    let (_, html) = w.page(&w.group_uri(""), Some(&w.member)).await;
    let main = main_of(&html);
    assert!(
        !main.contains(r#"id="limit-form""#),
        "members do not edit limits"
    );
    let row = &main[main
        .find(r#"data-scope="member""#)
        .expect("the member's limit")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("2 / 10")
            && row.contains(r#"data-test="limit-remaining" class="font-medium">8<"#),
        "{row}"
    );
    assert!(row.contains(r#"aria-valuenow="20""#), "{row}");
    assert!(
        main.contains("$25.50"),
        "the group's budget shows in dollars: {main}"
    );

    let limit_id = created["id"].as_i64().unwrap().to_string();
    let del = [("id", group.as_str()), ("limit_id", limit_id.as_str())];
    let (s, _) = w.rpc("delete_limit", &w.member, &del).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = w.rpc("delete_limit", &w.gw.admin, &del).await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = w.page(&w.group_uri(""), Some(&w.member)).await;
    assert!(!main_of(&html).contains(r#"data-scope="member""#));

    // Day and month windows follow the group's time zone, which the lead may change.
    assert!(main_of(&html).contains(r#"id="group-time-zone">Asia/Shanghai<"#));
    let zone = [("id", group.as_str()), ("time_zone", "Asia/Tokyo")];
    let (s, _) = w.rpc("set_time_zone", &w.member, &zone).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = w.rpc("set_time_zone", &w.gw.admin, &zone).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = w
        .rpc(
            "set_time_zone",
            &w.gw.admin,
            &[("id", &group), ("time_zone", "Mars/Base")],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, html) = w.page(&w.group_uri(""), Some(&w.member)).await;
    assert!(main_of(&html).contains(r#"id="group-time-zone">Asia/Tokyo<"#));

    let (s, html) = w.page(&w.group_uri(""), Some(&w.outsider)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!html.contains("$25.50"));
}

/// The `<svg id=...>` element of a page.
fn svg<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!(r#"<svg id="{id}""#))
        .unwrap_or_else(|| panic!("no chart {id}"));
    let rest = &html[start..];
    &rest[..rest.find("</svg>").unwrap()]
}

#[tokio::test]
async fn the_usage_page_charts_real_traffic() {
    let w = World::new().await;
    w.gw.chat_ok(&w.gw.key, "gpt-4o-mini").await;
    w.gw.chat_ok(&w.gw.key, "gpt-4o-mini").await;
    w.gw.chat_ok(&w.member_key, "claude-sonnet-4-5").await;
    w.gw.usage(3).await;

    let (s, html) = w
        .page(
            &w.group_uri("/usage?by=model&bucket=hour"),
            Some(&w.gw.admin),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-by="model""#) && main.contains(r#"data-bucket="hour""#),
        "{main}"
    );
    let requests = svg(main, "chart-requests");
    assert!(
        requests.contains(r#"data-series="gpt-4o-mini""#),
        "{requests}"
    );
    assert!(
        requests.contains(r#"data-series="claude-sonnet-4-5""#) && requests.contains("<polyline")
    );
    assert!(
        requests.contains("<title>gpt-4o-mini · "),
        "every point has a tooltip"
    );
    assert!(svg(main, "chart-cost").contains("$") && svg(main, "chart-tokens").contains("<circle"));
    assert!(
        svg(main, "chart-latency").contains(r#"data-label="openai-main""#),
        "latency per account"
    );
    let totals = &main[main.find(r#"id="usage-totals""#).unwrap()..];
    let row = &totals[totals.find(r#"data-series="gpt-4o-mini""#).unwrap()..];
    assert!(
        row[..row.find("</tr>").unwrap()]
            .contains(r#"data-test="requests" class="px-4 py-2 tabular-nums">2<"#),
        "{row}"
    );
    assert!(main.contains(r#"id="usage-latency""#) && main.contains(r#"data-test="ttfb""#));

    // The CSV link answers with the same data.
    let marker = r#"id="usage-csv" href=""#;
    let href = &main[main.find(marker).unwrap() + marker.len()..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let req = Request::get(&href)
        .header(header::HOST, HOST)
        .header(header::COOKIE, format!("aicarpool_session={}", w.gw.admin))
        .body(Body::empty())
        .unwrap();
    let res = send(&w.router, req).await;
    assert_eq!(res.status(), StatusCode::OK, "{href}");
    assert!(text(res).await.contains("gpt-4o-mini"));

    // By member (the lead's default): one line per member.
    let (_, html) = w.page(&w.group_uri("/usage"), Some(&w.gw.admin)).await;
    let requests = svg(main_of(&html), "chart-requests");
    assert!(
        requests.contains(&format!(r#"data-series="{}""#, w.member_id)),
        "{requests}"
    );
    assert!(
        requests.contains(r#"data-label="member""#) && requests.contains(r#"data-label="admin""#)
    );

    // A member sees only their own usage.
    let (s, html) = w.page(&w.group_uri("/usage"), Some(&w.member)).await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    assert!(
        svg(main, "chart-requests").contains(r#"data-series="claude-sonnet-4-5""#),
        "{main}"
    );
    assert!(!main.contains("gpt-4o-mini"), "not the lead's traffic");
    assert!(
        !main.contains(r#"<option value="member""#),
        "no grouping by member for members"
    );

    let (s, html) = w.page(&w.group_uri("/usage"), Some(&w.outsider)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!html.contains("chart-requests"));
    let (_, html) = w
        .page_in("zh-CN", &w.group_uri("/usage"), Some(&w.member))
        .await;
    assert!(main_of(&html).contains("请求数") && html.contains("导出 CSV"));
}

#[tokio::test]
async fn a_member_sees_their_remaining_budget_and_what_they_owe() {
    let w = World::new().await;
    let group = w.gw.group_id.to_string();
    let target = format!("member:{}", w.member_id);
    let (s, body) = w
        .rpc(
            "create_limit",
            &w.gw.admin,
            &[
                ("id", &group),
                ("target", &target),
                ("metric", "requests"),
                ("window", "month"),
                ("cap", "100"),
                ("warn_at", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // A limit on the lead's own key does not concern the member.
    let (s, keys) =
        w.gw.api("GET", &format!("/api/groups/{group}/keys"), None)
            .await;
    assert_eq!(s, 200, "{keys}");
    let lead_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "laptop")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, _) = w
        .rpc(
            "create_limit",
            &w.gw.admin,
            &[
                ("id", &group),
                ("target", &format!("key:{lead_key}")),
                ("metric", "tokens"),
                ("window", "day"),
                ("cap", "1000"),
                ("warn_at", ""),
            ],
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    w.gw.usage(1).await;

    let (s, html) = w.page(&w.group_uri("/me"), Some(&w.member)).await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    let mine = &main[main.find(r#"id="my-limits""#).unwrap()..];
    assert!(
        mine.contains(r#"data-scope="member""#) && mine.contains("1 / 100"),
        "{mine}"
    );
    assert!(
        !mine.contains(r#"data-scope="key""#),
        "the lead's key limit is not theirs"
    );
    assert!(
        main.contains(r#"id="my-statement""#) && main.contains("You owe $"),
        "{main}"
    );
    assert!(svg(main, "my-chart-requests").contains(r#"data-series="gpt-4o-mini""#));

    // The lead's own view has their key's limit.
    let (_, html) = w.page(&w.group_uri("/me"), Some(&w.gw.admin)).await;
    assert!(main_of(&html).contains(r#"data-scope="key""#));
    let (s, _) = w.page(&w.group_uri("/me"), Some(&w.outsider)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, html) = w
        .page_in("zh-CN", &w.group_uri("/me"), Some(&w.member))
        .await;
    assert!(main_of(&html).contains("我的限额") && html.contains("你需向"));
}

#[tokio::test]
async fn the_cost_split_page_shares_fixed_costs_and_closes_the_month() {
    let w = World::new().await;
    let group = w.gw.group_id.to_string();
    w.gw.chat_ok(&w.member_key, "gpt-4o-mini").await;
    w.gw.usage(1).await;
    let (s, html) = w.page(&w.group_uri("/cost-split"), Some(&w.gw.admin)).await;
    assert_eq!(s, StatusCode::OK);
    let main = main_of(&html);
    assert!(
        main.contains(r#"id="fixed-form""#) && main.contains(r#"id="no-fixed-costs""#),
        "{main}"
    );
    assert!(
        main.contains("member@example.com = 1"),
        "weights are prefilled per member"
    );
    let period = &main[main.find(r#"data-period=""#).unwrap() + 13..];
    let period = &period[..7];

    let fixed = [
        ("id", group.as_str()),
        ("period", period),
        ("name", "Claude Max"),
        ("amount", "30"),
        ("split", "equal"),
        ("weights", ""),
    ];
    let (s, _) = w.rpc("add_fixed_cost", &w.member, &fixed).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = w.rpc("add_fixed_cost", &w.gw.admin, &fixed).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let weighted = [
        ("id", group.as_str()),
        ("period", period),
        ("name", "Top-up"),
        ("amount", "4"),
        ("split", "weights"),
        ("weights", "member@example.com = 3\nadmin@example.com = 1"),
    ];
    let (s, body) = w.rpc("add_fixed_cost", &w.gw.admin, &weighted).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let (_, html) = w.page(&w.group_uri("/cost-split"), Some(&w.member)).await;
    let main = main_of(&html);
    assert!(
        main.contains("Claude Max")
            && main.contains("$30.00")
            && main.contains(r#"data-split="weights""#),
        "{main}"
    );
    assert!(
        !main.contains(r#"id="fixed-form""#) && !main.contains(r#"id="close-month""#),
        "members only read"
    );
    let row = &main[main
        .find(&format!(r#"data-user-id="{}""#, w.member_id))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("$18.00"),
        "half of 30 plus 3/4 of 4, and the metered cost: {row}"
    );
    assert!(
        main.contains(&format!(r#"data-from="{}""#, w.member_id)),
        "the member pays the lead"
    );
    assert!(main.contains(&format!(
        "/api/groups/{group}/cost-split.csv?period={period}"
    )));

    let close = [
        ("id", group.as_str()),
        ("period", period),
        ("confirm", "yes"),
    ];
    let (s, _) = w.rpc("close_period", &w.member, &close).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = w.rpc("close_period", &w.gw.admin, &close).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, html) = w
        .page(
            &w.group_uri(&format!("/cost-split?period={period}")),
            Some(&w.gw.admin),
        )
        .await;
    let main = main_of(&html);
    assert!(
        main.contains(r#"data-closed="true""#) && !main.contains(r#"id="fixed-form""#),
        "{main}"
    );

    let (s, _) = w.page(&w.group_uri("/cost-split"), Some(&w.outsider)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, html) = w
        .page_in("zh-CN", &w.group_uri("/cost-split"), Some(&w.member))
        .await;
    assert!(main_of(&html).contains("成本分摊") && html.contains("谁该付多少"));
}
