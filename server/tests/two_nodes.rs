//! Two real server processes on one MariaDB database and one Redis: a group budget hit through
//! both at once still holds, and an account the provider refused on one node is out on the
//! other too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockUpstream};

const BIN: &str = env!("CARGO_BIN_EXE_aicarpool");

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn command(dir: &std::path::Path, database: &str, redis: &str, prefix: &str) -> Command {
    let mut cmd = Command::new(BIN);
    for var in ["JWT_SECRET", "NEXTAUTH_SECRET", "APP_URL", "MASTER_KEY"] {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .env("DATA_DIR", dir)
        .env("DATABASE_URL", database)
        .env("REDIS_URL", redis)
        .env("REDIS_PREFIX", prefix)
        // Both nodes need the same secrets: sessions and sealed upstream keys work on either.
        .env("JWT_SECRET", "a-shared-signing-secret-of-at-least-32-chars")
        .env(
            "MASTER_KEY",
            "a-shared-master-key-of-at-least-32-characters",
        )
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    cmd
}

fn start(mut cmd: Command) -> Node {
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let base = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the node starts");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    Node { child, base }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_budget_and_the_health() {
    let redis = std::env::var("AICARPOOL_TEST_REDIS_URL")
        .expect("AICARPOOL_TEST_REDIS_URL is not set: run scripts/test.sh, which starts Redis");
    let database = common::fresh_mysql_database().await;
    let prefix = format!("two-nodes-{}:", aicarpool::gateway::keys::generate());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = command(dir_a.path(), &database, &redis, &prefix)
        .args([
            "admin",
            "create",
            "--email",
            "ops@example.com",
            "--password",
            "correct horse battery",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = start(command(dir_a.path(), &database, &redis, &prefix));
    let b = start(command(dir_b.path(), &database, &redis, &prefix));

    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/api/auth/login", a.base))
        .json(&json!({"email": "ops@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let api = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{}{path}", a.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let group: Value = api(reqwest::Method::POST, "/api/groups", json!({"name": "g"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gid = group["id"].as_i64().unwrap();
    let mut accounts = Vec::new();
    for name in ["one", "two"] {
        let account: Value = api(reqwest::Method::POST, "/api/accounts", json!({"name": name, "provider": "openai",
            "base_url": mock.openai_base_url(), "api_key": mock.api_key(), "models": ["gpt-4o-mini"]}))
            .await.unwrap().json().await.unwrap();
        api(
            reqwest::Method::POST,
            &format!("/api/groups/{gid}/accounts"),
            json!({"account_id": account["id"]}),
        )
        .await
        .unwrap();
        accounts.push(account["id"].as_i64().unwrap());
    }
    let res = api(reqwest::Method::PUT, "/api/prices", json!({"model": "gpt-4o-mini", "input": 100_000_000u64,
        "output": 100_000_000u64, "cache_read": 100_000_000u64, "cache_write": 100_000_000u64, "source": "override"})).await.unwrap();
    assert_eq!(res.status(), 200);
    let res = api(
        reqwest::Method::POST,
        &format!("/api/groups/{gid}/limits"),
        json!({"scope": "group", "metric": "cost", "window": "month", "cap": "0.05"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let key: Value = api(
        reqwest::Method::POST,
        &format!("/api/groups/{gid}/keys"),
        json!({"name": "k"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    // Node B learns the configuration within its 2 s poll.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let statuses: Vec<u16> = join_all((0..200).map(|i| {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        http.post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "max_tokens": 20,
                "messages": [{"role": "user", "content": format!("request number {i}")}]}))
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        ok + statuses.iter().filter(|s| **s == 429).count(),
        200,
        "{statuses:?}"
    );
    assert!(ok > 10 && ok < 200, "{ok}");

    // Every record lands (both nodes write to the same database); the spend holds the cap.
    let pool = sqlx::MySqlPool::connect(&database).await.unwrap();
    let mut spent = 0i64;
    for _ in 0..100 {
        let row: (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(cost_micros), 0) AS SIGNED) FROM usage_records",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        spent = row.1;
        if row.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        spent <= 50_000 + 3_500,
        "spent {spent} micro-USD against a 50 000 cap"
    );
    assert_eq!(
        mock.stats()
            .by_route
            .get("chat_completions")
            .copied()
            .unwrap_or(0) as usize,
        ok
    );

    // The provider refuses account one's key, seen through node A: node B stops using it too.
    // First lift the budget (spent by now), then let the provider refuse one account's key.
    let limits: Value = http
        .get(format!("{}/api/groups/{gid}/limits", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = limits[0]["id"].as_i64().unwrap();
    http.delete(format!("{}/api/groups/{gid}/limits/{id}", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    mock.set_fault(Fault::status(401).times(1));
    let mut refused_on = None;
    for i in 0..10 {
        let res = http.post(format!("{}/v1/chat/completions", a.base)).bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("x {i}")}]}))
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        if res.headers()["x-aicarpool-attempts"] == "2" {
            refused_on = Some(());
            break;
        }
    }
    assert!(refused_on.is_some(), "the 401 was seen on node A");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let served_before = mock.stats().total;
    let mut by_account = std::collections::BTreeSet::new();
    for i in 0..20 {
        let res = http.post(format!("{}/v1/chat/completions", b.base)).bearer_auth(&key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": format!("y {i}")}]}))
            .send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["x-aicarpool-attempts"],
            "1",
            "node B never tries the refused account"
        );
        by_account.insert(
            res.headers()["x-aicarpool-account-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        by_account.len(),
        1,
        "only the healthy account serves on node B"
    );
    assert_eq!(mock.stats().total - served_before, 20);
    assert_eq!(accounts.len(), 2);
}
