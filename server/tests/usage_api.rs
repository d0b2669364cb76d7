//! Usage analytics through the JSON API, on a running gateway with the mock provider: series and
//! totals must equal sums recomputed from the usage records, whatever the bucket, grouping or
//! time zone; members see only themselves; CSV and raw records; clear 400s for bad parameters.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeMap;

use aicarpool::db::usage::UsageRow;
use common::gateway;
use common::members::join;
use common::{fresh_mysql_database, user_with_session};
use serde_json::{Value, json};

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The sums a usage report shows, recomputed from records.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sums {
    requests: i64,
    errors: i64,
    input: i64,
    output: i64,
    cost: i64,
}

fn sums<'a>(rows: impl Iterator<Item = &'a UsageRow>) -> Sums {
    rows.fold(Sums::default(), |mut s, r| {
        s.requests += 1;
        s.errors += i64::from(r.status >= 400);
        s.input += r.input_tokens + r.cache_read_tokens + r.cache_write_tokens;
        s.output += r.output_tokens;
        s.cost += r.cost_micros;
        s
    })
}

fn shown(stats: &Value) -> Sums {
    let n = |f: &str| stats[f].as_i64().unwrap();
    assert_eq!(
        n("tokens"),
        n("input_tokens") + n("output_tokens") + n("cache_read_tokens") + n("cache_write_tokens")
    );
    Sums {
        requests: n("requests"),
        errors: n("errors"),
        input: n("input_tokens") + n("cache_read_tokens") + n("cache_write_tokens"),
        output: n("output_tokens"),
        cost: n("cost_micros"),
    }
}

/// Each series' points add up to its totals, and the series to the report's totals.
fn check_consistent(report: &Value) {
    let mut all = Sums::default();
    for s in report["series"].as_array().unwrap() {
        let mut sum = Sums::default();
        for p in s["points"].as_array().unwrap() {
            let p = shown(p);
            sum.requests += p.requests;
            sum.errors += p.errors;
            sum.input += p.input;
            sum.output += p.output;
            sum.cost += p.cost;
        }
        assert_eq!(sum, shown(&s["totals"]), "{}", s["key"]);
        all.requests += sum.requests;
        all.errors += sum.errors;
        all.input += sum.input;
        all.output += sum.output;
        all.cost += sum.cost;
    }
    assert_eq!(all, shown(&report["totals"]));
}

async fn traffic_scenario(database_url: Option<String>) {
    let gw = gateway::start_on(|_| {}, None, database_url).await;
    let (bob, bob_token) = join(&gw, "bob@example.com", "member").await;
    let (_, outsider) = user_with_session(&gw.state, "eve@example.com", false).await;
    let bob_key = gw.new_key(&bob_token, json!({"name": "bob"})).await;

    for text in ["one", "one two", "one two three"] {
        let res = gw
            .post("/v1/chat/completions", &chat("gpt-4o-mini", text))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = gw
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hello claude"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for text in ["bob asks", "bob asks again please"] {
        let res = gw
            .http
            .post(format!("{}/v1/chat/completions", gw.base))
            .bearer_auth(&bob_key)
            .json(&chat("fast", text))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    gw.mock
        .set_fault(server::mock_upstream::Fault::status(400).times(1));
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", "bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    gw.mock.clear_faults();
    let rows = gw.usage(7).await;
    let admin_id = rows[0].user_id;
    let g = gw.group_id;

    // Whatever the bucket or time zone, the sums equal the records'.
    let expected = sums(rows.iter());
    assert_eq!(expected.errors, 1);
    for query in [
        "bucket=hour",
        "bucket=day",
        "bucket=day&tz_offset_minutes=0",
        "bucket=day&tz_offset_minutes=330",
        "bucket=day&tz_offset_minutes=-300",
    ] {
        let (s, report) = gw
            .api(
                "GET",
                &format!("/api/usage?group_id={g}&by=member&{query}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{query}: {report}");
        assert_eq!(shown(&report["totals"]), expected, "{query}");
        check_consistent(&report);
        let bob_series = report["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"].as_str() == Some(&*bob.to_string()))
            .unwrap();
        assert_eq!(bob_series["label"], "bob");
        assert_eq!(
            shown(&bob_series["totals"]),
            sums(rows.iter().filter(|r| r.user_id == bob)),
            "{query}"
        );
    }
    let (s, day) = gw
        .api("GET", &format!("/api/usage?group_id={g}"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (day["bucket"].as_str(), day["tz_offset_minutes"].as_i64()),
        (Some("day"), Some(480))
    );
    assert_eq!(
        day["series"][0]["points"].as_array().unwrap().len(),
        8,
        "7 days and today"
    );
    let end = day["to"].as_i64().unwrap();
    let (_, hour) = gw
        .api(
            "GET",
            &format!(
                "/api/usage?group_id={g}&bucket=hour&from={}&to={end}",
                end - 2 * 86_400_000
            ),
            None,
        )
        .await;
    assert_eq!(hour["series"][0]["points"].as_array().unwrap().len(), 48);
    assert_eq!(shown(&hour["totals"]), expected);

    // By model and by account, with latency per account.
    let (_, by_model) = gw
        .api("GET", &format!("/api/usage?group_id={g}&by=model"), None)
        .await;
    let mut models: BTreeMap<String, Vec<&UsageRow>> = BTreeMap::new();
    for r in &rows {
        models
            .entry(
                r.model_served
                    .clone()
                    .unwrap_or_else(|| r.model_requested.clone()),
            )
            .or_default()
            .push(r);
    }
    for (model, rs) in &models {
        let series = by_model["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| &s["key"] == model)
            .unwrap();
        assert_eq!(
            shown(&series["totals"]),
            sums(rs.iter().copied()),
            "{model}"
        );
    }
    assert_eq!(by_model["series"].as_array().unwrap().len(), models.len());
    let (_, by_account) = gw
        .api(
            "GET",
            &format!("/api/usage?group_id={g}&by=account&bucket=hour"),
            None,
        )
        .await;
    for account in [gw.openai_account, gw.anthropic_account] {
        let served: Vec<&UsageRow> = rows
            .iter()
            .filter(|r| r.account_id == Some(account))
            .collect();
        let ttfbs: Vec<i64> = served.iter().filter_map(|r| r.ttfb_ms).collect();
        let series = by_account["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"].as_str() == Some(&*account.to_string()))
            .unwrap();
        assert_eq!(shown(&series["totals"]), sums(served.iter().copied()));
        let mean = ttfbs.iter().sum::<i64>() as f64 / ttfbs.len() as f64;
        let avg = series["totals"]["avg_ttfb_ms"].as_f64().unwrap();
        assert!((avg - mean).abs() <= 0.05, "{avg} vs {mean}");
    }
    let labels: Vec<&str> = by_account["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"openai-main") && labels.contains(&"claude-main"),
        "{labels:?}"
    );

    // A member sees only their own usage; asking for someone else's is refused; outsiders
    // learn nothing.
    let bob_sums = sums(rows.iter().filter(|r| r.user_id == bob));
    for path in [
        format!("/api/usage?group_id={g}&by=member"),
        "/api/usage".to_owned(),
    ] {
        let (s, mine) = gw.api_as(&bob_token, "GET", &path, None).await;
        assert_eq!(s, 200, "{mine}");
        assert_eq!(mine["user_id"], bob);
        assert_eq!(shown(&mine["totals"]), bob_sums, "{path}");
    }
    let (s, _) = gw
        .api_as(
            &bob_token,
            "GET",
            &format!("/api/usage?group_id={g}&user_id={admin_id}"),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = gw
        .api_as(&outsider, "GET", &format!("/api/usage?group_id={g}"), None)
        .await;
    assert_eq!(s, 404);
    let (s, nothing) = gw.api_as(&outsider, "GET", "/api/usage", None).await;
    assert_eq!((s, nothing["totals"]["requests"].as_i64()), (200, Some(0)));
    let (s, all) = gw.api("GET", "/api/usage?by=group", None).await;
    assert_eq!(
        (s, shown(&all["totals"])),
        (200, expected),
        "the system admin sees every group"
    );
    let (_, owner_view) = gw
        .api(
            "GET",
            &format!("/api/usage?group_id={g}&user_id={bob}"),
            None,
        )
        .await;
    assert_eq!(shown(&owner_view["totals"]), bob_sums);

    // CSV: a header, then one row per series point.
    let res = gw
        .http
        .get(format!(
            "{}/api/usage?group_id={g}&by=member&format=csv",
            gw.base
        ))
        .bearer_auth(&gw.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("series,label,t,time,requests,tokens,"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 1 + 2 * 8, "two members, 8 days each");
    let csv_requests: i64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(4).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(csv_requests, expected.requests);

    // Raw records: paged JSON and CSV, with the same permissions.
    let (s, page) = gw
        .api(
            "GET",
            &format!("/api/usage/records?group_id={g}&limit=5"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (
            page["total"].as_i64(),
            page["records"].as_array().unwrap().len()
        ),
        (Some(7), 5)
    );
    let (_, rest) = gw
        .api(
            "GET",
            &format!("/api/usage/records?group_id={g}&limit=5&offset=5"),
            None,
        )
        .await;
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["records"].as_array().unwrap())
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    let mut got = ids.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    let (_, bob_page) = gw
        .api_as(
            &bob_token,
            "GET",
            &format!("/api/usage/records?group_id={g}"),
            None,
        )
        .await;
    assert_eq!(bob_page["total"], 2);
    let text = gw
        .http
        .get(format!(
            "{}/api/usage/records?group_id={g}&format=csv",
            gw.base
        ))
        .bearer_auth(&gw.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text.lines().count(), 8);
    assert!(text.starts_with("time,created_at,request_id,"));

    // Bad parameters are explained with a 400.
    for bad in [
        "bucket=week",
        "by=planet",
        "from=yesterday",
        "group_id=abc",
        "tz_offset_minutes=9999",
        "format=xml",
        "colour=blue",
        "from=1000&to=10",
        "bucket=hour&from=0",
    ] {
        let (s, body) = gw
            .api("GET", &format!("/api/usage?group_id={g}&{bad}"), None)
            .await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }
    let (s, _) = gw
        .api(
            "GET",
            &format!("/api/usage/records?group_id={g}&limit=0"),
            None,
        )
        .await;
    assert_eq!(s, 400);
}

/// A batch the writer splits into statements of several sizes (700 records: 256 + 256 + 128 +
/// 32 + 16 + 8 + 4), over 35 models and three hours (over 100 rollup rows each, upserted onto
/// rows an earlier batch wrote), is stored whole: every record, and rollups that sum to them.
async fn big_batch_scenario(database_url: Option<String>) {
    let gw = gateway::start_on(|_| {}, None, database_url).await;
    let g = gw.group_id;
    let (_, me) = gw.api("GET", "/api/auth/me", None).await;
    let user_id = me["user"]["id"].as_i64().unwrap();
    let hour = 3_600_000;
    let start = aicarpool::db::now_ms() / hour * hour - 2 * hour;
    let row = |i: i64| UsageRow {
        created_at: start + (i % 3) * hour + i,
        request_id: format!("batch-{i}"),
        key_id: 1,
        user_id,
        group_id: g,
        account_id: Some(gw.openai_account),
        provider: Some("openai".into()),
        endpoint: "chat_completions".into(),
        model_requested: format!("model-{}", i % 35),
        model_served: Some(format!("model-{}", i % 35)),
        input_tokens: i,
        output_tokens: 2 * i + 1,
        cache_read_tokens: i % 7,
        cost_micros: 1000 + i,
        status: if i % 50 == 0 { 502 } else { 200 },
        attempts: 1,
        ttfb_ms: Some(i % 40),
        total_ms: 100 + i % 40,
        ..UsageRow::default()
    };
    let first: Vec<UsageRow> = (0..5).map(row).collect();
    let rest: Vec<UsageRow> = (5..700).map(row).collect();
    let db = gw.state.db();
    aicarpool::db::usage::insert_batch(db, &first)
        .await
        .unwrap();
    aicarpool::db::usage::insert_batch(db, &rest).await.unwrap();

    let rows = aicarpool::db::usage::recent(db, g, 1000).await.unwrap();
    assert_eq!(rows.len(), 700);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 700, "every record once");
    let expected = sums(rows.iter());
    assert_eq!(expected.errors, 14);
    for bucket in ["hour", "day"] {
        let (s, report) = gw
            .api(
                "GET",
                &format!("/api/usage?group_id={g}&by=model&bucket={bucket}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{report}");
        assert_eq!(shown(&report["totals"]), expected, "{bucket}");
        check_consistent(&report);
        let series = report["series"].as_array().unwrap();
        assert_eq!(series.len(), 35, "{bucket}");
        for s in series {
            let model = s["key"].as_str().unwrap();
            let of_model = rows
                .iter()
                .filter(|r| r.model_served.as_deref() == Some(model));
            assert_eq!(shown(&s["totals"]), sums(of_model), "{bucket} {model}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_batch_is_stored_whole_on_sqlite() {
    big_batch_scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_batch_is_stored_whole_on_mariadb() {
    big_batch_scenario(Some(fresh_mysql_database().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_series_match_the_records_on_sqlite() {
    traffic_scenario(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_series_match_the_records_on_mariadb() {
    traffic_scenario(Some(fresh_mysql_database().await)).await;
}
