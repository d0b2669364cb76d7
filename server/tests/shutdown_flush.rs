//! SIGTERM under load loses no usage record: the real binary is stopped while clients stream
//! through it; afterwards the records in its database match, one for one, the requests the
//! mock upstream served. A stream that outlasts the drain time is cut, and recorded too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockUpstream};

const BIN: &str = env!("CARGO_BIN_EXE_aicarpool");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_writes_every_usage_record() {
    let dir = tempfile::tempdir().unwrap();
    let env = |cmd: &mut Command| {
        for var in [
            "DATABASE_URL",
            "REDIS_URL",
            "JWT_SECRET",
            "NEXTAUTH_SECRET",
            "APP_URL",
            "MASTER_KEY",
        ] {
            cmd.env_remove(var);
        }
        cmd.current_dir(dir.path())
            .env("DATA_DIR", dir.path())
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
    };
    let mut create = Command::new(BIN);
    env(&mut create);
    let out = create
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

    let mut serve = Command::new(BIN);
    env(&mut serve);
    let mut child = serve
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
            .expect("the server starts");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };

    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    mock.set_fault(Fault::chunk_delay(Duration::from_millis(20)));
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "ops@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let api = |method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{base}{path}"))
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
    let account: Value = api(
        reqwest::Method::POST,
        "/api/accounts",
        json!({"name": "m", "provider": "openai",
        "base_url": mock.openai_base_url(), "api_key": mock.api_key(), "models": ["gpt-4o-mini"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    api(
        reqwest::Method::POST,
        &format!("/api/groups/{gid}/accounts"),
        json!({"account_id": account["id"]}),
    )
    .await
    .unwrap();
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

    // Twenty clients stream (each answer takes ~200 ms) until the server goes away.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..20 {
        let (http, base, key, stop) = (http.clone(), base.clone(), key.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = json!({"model": "gpt-4o-mini", "stream": c % 2 == 0,
                    "messages": [{"role": "user", "content": format!("client {c} request {i} one two three four five six seven eight")}]});
                let sent = http.post(format!("{base}/v1/chat/completions")).bearer_auth(&key).json(&body).send().await;
                match sent {
                    Ok(res) => {
                        let _ = res.bytes().await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        mock.stats().in_flight > 0,
        "load is running when the signal comes"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(exit.success(), "{exit:?}");

    let served = mock
        .stats()
        .by_route
        .get("chat_completions")
        .copied()
        .unwrap_or(0);
    assert!(served > 50, "enough load: {served}");
    let url = format!("sqlite://{}", dir.path().join("aicarpool.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (records, upstream_ok): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN account_id IS NOT NULL AND attempts > 0 THEN 1 ELSE 0 END), 0) FROM usage_records",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        upstream_ok as u64, served,
        "one record per request the upstream served ({records} records)"
    );
}

/// A stream still running when the drain time is up is ended by the server before it returns,
/// so its usage record reaches the writer before the writer is closed (it was lost: the
/// stream's task outlived the writer), and says the server cut it off (it said the client
/// had gone).
#[tokio::test]
async fn a_stream_past_the_drain_time_is_cut_and_still_recorded() {
    use futures_util::StreamExt;
    let gw = common::gateway::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve_until(
        listener,
        common::site_for(&gw.state),
        server::CLIENT_IDLE_TIMEOUT,
        Duration::from_millis(300),
        async {
            let _ = stopped.await;
        },
    ));
    gw.mock.set_fault(Fault::hold_after_first_chunk().times(1));
    let res = gw
        .http
        .post(format!("http://{addr}/v1/chat/completions"))
        .bearer_auth(&gw.key)
        .json(&json!({"model": "gpt-4o-mini", "stream": true,
                      "messages": [{"role": "user", "content": "one two three four"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    body.next().await.unwrap().unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server returned after its drain time")
        .unwrap()
        .unwrap();
    // What `aicarpool serve` does next: close the usage writer, which writes what it holds.
    gw.state.gateway().close().await;
    let rows = aicarpool::db::usage::recent(gw.state.db(), gw.group_id, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].streamed);
    assert!(rows[0].input_tokens > 0, "{:?}", rows[0]);
    // The server ended it, not the client, whose connection was still open.
    assert_eq!(rows[0].error_class.as_deref(), Some("server_shutdown"));
    assert_eq!(rows[0].status, 503);
    drop(body);
}
