//! The monthly cost split through the JSON API: metered costs per member in the group's time
//! zone, fixed costs shared equally, by usage and by weights in exact micro-USD, statements that
//! sum to the group total, permissions, CSV, and a closed month that no longer changes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use aicarpool::db::usage::UsageRow;
use common::gateway::{self, Gateway};
use common::members::join;
use common::{fresh_mysql_database, user_with_session};
use serde_json::{Value, json};

/// A record of `user_id` at `at` costing `cost` micro-USD.
fn record(gw: &Gateway, user_id: i64, at: &str, cost: i64) -> UsageRow {
    UsageRow {
        created_at: aicarpool::timefmt::parse_rfc3339_ms(at).unwrap(),
        request_id: uuid::Uuid::new_v4().to_string(),
        key_id: 1,
        user_id,
        group_id: gw.group_id,
        account_id: Some(gw.openai_account),
        provider: Some("openai".into()),
        endpoint: "chat_completions".into(),
        model_requested: "gpt-4o-mini".into(),
        model_served: Some("gpt-4o-mini".into()),
        input_tokens: 10,
        output_tokens: 5,
        cost_micros: cost,
        status: 200,
        attempts: 1,
        ttfb_ms: Some(20),
        total_ms: 40,
        ..UsageRow::default()
    }
}

fn line(statement: &Value, user_id: i64) -> &Value {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["user_id"] == user_id)
        .unwrap()
}

/// The statement adds up: each fixed cost's shares sum to its amount, each line's total is its
/// metered cost plus its shares, and the lines sum to the group total.
fn check_sums(st: &Value) {
    let n = |v: &Value| v.as_i64().unwrap();
    let lines = st["lines"].as_array().unwrap();
    for f in st["fixed"].as_array().unwrap() {
        let shares: i64 = lines
            .iter()
            .flat_map(|l| l["fixed_shares"].as_array().unwrap())
            .filter(|s| s["fixed_id"] == f["id"])
            .map(|s| n(&s["micros"]))
            .sum();
        assert_eq!(shares, n(&f["amount_micros"]), "{}", f["name"]);
    }
    for l in lines {
        assert_eq!(
            n(&l["total_micros"]),
            n(&l["metered_micros"]) + n(&l["fixed_micros"])
        );
    }
    let total: i64 = lines.iter().map(|l| n(&l["total_micros"])).sum();
    assert_eq!(total, n(&st["total_micros"]));
    assert_eq!(
        total,
        n(&st["metered_total_micros"]) + n(&st["fixed_total_micros"])
    );
    let owed: i64 = lines.iter().map(|l| n(&l["owes_micros"])).sum();
    let received: i64 = lines.iter().map(|l| n(&l["receives_micros"])).sum();
    assert_eq!(owed, received, "the payee receives what the others owe");
}

async fn cost_split_scenario(database_url: Option<String>) {
    let gw = gateway::start_on(|_| {}, None, database_url).await;
    let (bob, bob_token) = join(&gw, "bob@example.com", "member").await;
    let (carol, carol_token) = join(&gw, "carol@example.com", "admin").await;
    let (_, outsider) = user_with_session(&gw.state, "eve@example.com", false).await;
    let (_, members) = gw
        .api("GET", &format!("/api/groups/{}/members", gw.group_id), None)
        .await;
    let owner = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "owner")
        .unwrap()["user_id"]
        .as_i64()
        .unwrap();
    // November 2026 in Shanghai runs from 2026-10-31T16:00Z to 2026-11-30T16:00Z.
    let rows = vec![
        record(&gw, owner, "2026-10-31T16:30:00Z", 1_000_000),
        record(&gw, bob, "2026-11-15T08:00:00Z", 2_000_001),
        record(&gw, bob, "2026-11-30T15:59:59Z", 500_000),
        record(&gw, bob, "2026-10-31T15:59:59Z", 9_000_000),
        record(&gw, carol, "2026-11-30T16:00:00Z", 7_000_000),
    ];
    aicarpool::db::usage::insert_batch(gw.state.db(), &rows)
        .await
        .unwrap();
    let g = gw.group_id;
    let base = format!("/api/groups/{g}/cost-split");

    let (s, st) = gw.api("GET", &format!("{base}?period=2026-11"), None).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(line(&st, owner)["metered_micros"], 1_000_000);
    assert_eq!(
        line(&st, bob)["metered_micros"],
        2_500_001,
        "only November's records, in Shanghai time"
    );
    assert_eq!(line(&st, carol)["metered_micros"], 0);
    assert_eq!(st["time_zone"], "Asia/Shanghai");

    // $10.00 shared equally among three: one member carries the extra micro-dollar.
    let (s, st) = gw
        .api("POST", &format!("{base}/fixed"), Some(json!({"period": "2026-11", "name": "Claude Max", "amount_usd": "10.00", "split": "equal"})))
        .await;
    assert_eq!(s, 201, "{st}");
    let mut shares: Vec<i64> = st["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["fixed_micros"].as_i64().unwrap())
        .collect();
    shares.sort_unstable();
    assert_eq!(shares, [3_333_333, 3_333_333, 3_333_334]);
    check_sums(&st);
    // By usage (an amount sent as a JSON number is read exactly), and by agreed weights.
    let (s, st) = gw
        .api("POST", &format!("{base}/fixed"), Some(json!({"period": "2026-11", "name": "top-up", "amount_usd": 7.77, "split": "usage"})))
        .await;
    assert_eq!(s, 201, "{st}");
    let topup = st["fixed"][1].clone();
    assert_eq!(topup["amount_micros"], 7_770_000);
    let share = |st: &Value, user: i64, fixed: &Value| {
        line(st, user)["fixed_shares"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["fixed_id"] == fixed["id"])
            .unwrap()["micros"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(share(&st, carol, &topup), 0, "carol used nothing");
    assert_eq!(
        share(&st, owner, &topup) + share(&st, bob, &topup),
        7_770_000
    );
    assert_eq!(
        share(&st, owner, &topup),
        2_219_999,
        "7.77 x 1 / 3.500001, rounded down"
    );
    let weights = json!({ owner.to_string(): 1, bob.to_string(): 2, carol.to_string(): "3.5" });
    let (s, st) = gw
        .api("POST", &format!("{base}/fixed"), Some(json!({"period": "2026-11", "name": "VPS", "amount_usd": "1.000001", "split": "weights", "weights": weights})))
        .await;
    assert_eq!(s, 201, "{st}");
    let vps = st["fixed"][2].clone();
    assert_eq!(
        [
            share(&st, owner, &vps),
            share(&st, bob, &vps),
            share(&st, carol, &vps)
        ],
        [153_846, 307_693, 538_462]
    );
    check_sums(&st);
    assert_eq!(
        st["total_micros"],
        2_500_001 + 1_000_000 + 10_000_000 + 7_770_000 + 1_000_001
    );
    assert_eq!(st["payee_user_id"], owner);
    assert_eq!(line(&st, owner)["owes_micros"], 0);
    let settlements = st["settlements"].as_array().unwrap();
    assert_eq!(settlements.len(), 2);
    assert!(settlements.iter().all(|t| t["to_user_id"] == owner));

    // Refusals: bad amounts and weights, members editing, outsiders.
    for (body, field) in [
        (
            json!({"period": "2026-11", "name": "x", "amount_usd": "1.0000001", "split": "equal"}),
            "amount_usd",
        ),
        (
            json!({"period": "2026-11", "name": "x", "amount_usd": "ten", "split": "equal"}),
            "amount_usd",
        ),
        (
            json!({"period": "2026-11", "name": "x", "amount_usd": 1, "split": "weights"}),
            "weights",
        ),
        (
            json!({"period": "2026-11", "name": "x", "amount_usd": 1, "split": "weights", "weights": {"99999": 1}}),
            "weights",
        ),
    ] {
        let (s, b) = gw.api("POST", &format!("{base}/fixed"), Some(body)).await;
        assert_eq!((s, b["error"]["field"].as_str()), (422, Some(field)), "{b}");
    }
    let (s, _) = gw.api("GET", &format!("{base}?period=2026-13"), None).await;
    assert_eq!(s, 400);
    let (s, b) = gw
        .api_as(&bob_token, "GET", &format!("{base}?period=2026-11"), None)
        .await;
    assert_eq!(
        (s, b["total_micros"].clone()),
        (200, st["total_micros"].clone()),
        "members read the statement"
    );
    let (s, _) = gw
        .api_as(
            &bob_token,
            "POST",
            &format!("{base}/fixed"),
            Some(json!({"period": "2026-11", "name": "x", "amount_usd": 1, "split": "equal"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = gw
        .api_as(&outsider, "GET", &format!("{base}?period=2026-11"), None)
        .await;
    assert_eq!(s, 404);
    let (s, _) = gw
        .api_as(
            &bob_token,
            "POST",
            &format!("{base}/close"),
            Some(json!({"period": "2026-11"})),
        )
        .await;
    assert_eq!(s, 403);

    // CSV: a row per member and the group total.
    let res = gw
        .http
        .get(format!("{}{base}.csv?period=2026-11", gw.base))
        .bearer_auth(&gw.admin)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 3 + 1, "{text}");
    assert!(
        lines[0].contains("fixed:Claude Max")
            && lines[0].ends_with("total_usd,owes_usd,receives_usd")
    );
    assert!(
        lines[4].contains(",total,") && lines[4].contains("22.270002"),
        "{}",
        lines[4]
    );

    // A closed period is frozen: later records and edits do not change it.
    let (s, closed) = gw
        .api_as(
            &carol_token,
            "POST",
            &format!("{base}/close"),
            Some(json!({"period": "2026-11"})),
        )
        .await;
    assert_eq!(s, 200, "{closed}");
    assert_eq!(closed["closed"]["closed_by"], carol);
    let late = record(&gw, bob, "2026-11-20T00:00:00Z", 123);
    aicarpool::db::usage::insert_batch(gw.state.db(), &[late])
        .await
        .unwrap();
    let (_, again) = gw.api("GET", &format!("{base}?period=2026-11"), None).await;
    assert_eq!(again, closed);
    let (s, _) = gw
        .api(
            "POST",
            &format!("{base}/fixed"),
            Some(json!({"period": "2026-11", "name": "x", "amount_usd": 1, "split": "equal"})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = gw
        .api("DELETE", &format!("{base}/fixed/{}", vps["id"]), None)
        .await;
    assert_eq!(s, 409);
    let (s, _) = gw
        .api(
            "POST",
            &format!("{base}/close"),
            Some(json!({"period": "2026-11"})),
        )
        .await;
    assert_eq!(s, 409);
    // December is still open: its fixed costs come and go.
    let (s, dec) = gw
        .api(
            "POST",
            &format!("{base}/fixed"),
            Some(json!({"period": "2026-12", "name": "x", "amount_usd": "0.01", "split": "usage"})),
        )
        .await;
    assert_eq!(s, 201);
    check_sums(&dec);
    assert_eq!(line(&dec, carol)["metered_micros"], 7_000_000);
    let (s, _) = gw
        .api(
            "DELETE",
            &format!("{base}/fixed/{}", dec["fixed"][0]["id"]),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = gw
        .api(
            "DELETE",
            &format!("{base}/fixed/{}", dec["fixed"][0]["id"]),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_split_sums_exactly_and_closes_on_sqlite() {
    cost_split_scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_split_sums_exactly_and_closes_on_mariadb() {
    cost_split_scenario(Some(fresh_mysql_database().await)).await;
}
