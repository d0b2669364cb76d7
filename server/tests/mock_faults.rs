//! The mock upstream's faults as a client meets them (every fault class, over the API and
//! over HTTP), its stats and recorded requests, several mocks side by side, and the
//! `aicarpool mock-upstream` subcommand.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::{Duration, Instant};

use common::gateway::sse_events as events;
use common::mock_client::{anthropic, chat, claude, openai, streamed, text};
use common::upstream::mock;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockRoute, MockUpstream};

#[tokio::test]
async fn status_fault_answers_in_the_dialect_with_reset_headers_then_clears() {
    let mock = mock().await;
    mock.set_fault(
        Fault::status(429)
            .retry_after(7)
            .times(1)
            .on(MockRoute::Messages),
    );
    // Another route is not affected and does not spend the fault.
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let limited = anthropic(&mock, "/v1/messages", &claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    assert_eq!(limited.headers()["x-ratelimit-reset-requests"], "7s");
    let reset = limited.headers()["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(reset.ends_with('Z') && reset.len() == 20, "{reset}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let again = anthropic(&mock, "/v1/messages", &claude("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);

    mock.set_fault(Fault::status(500));
    let failed = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    mock.clear_faults();
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn delay_first_byte_holds_the_headers() {
    let mock = mock().await;
    mock.set_fault(Fault::delay_first_byte(Duration::from_millis(150)).times(1));
    let start = Instant::now();
    let response = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.status(), StatusCode::OK);

    // A client timeout shorter than the delay sees a timeout.
    mock.set_fault(Fault::delay_first_byte(Duration::from_millis(200)).times(1));
    let err = openai(&mock, "/chat/completions", &chat("hi"))
        .timeout(Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn reset_closes_the_connection_without_a_response() {
    let mock = mock().await;
    mock.set_fault(Fault::reset().times(1));
    let err = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(mock.stats().total, 1);
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn drop_mid_stream_cuts_after_n_deltas() {
    let mock = mock().await;
    mock.set_fault(Fault::drop_mid_stream_after(2).times(1));
    let mut response = anthropic(&mock, "/v1/messages", &streamed(claude("a b c d")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = Vec::new();
    let err = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the stream ended cleanly"),
            Err(err) => break err,
        }
    };
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    let raw = String::from_utf8(received).unwrap();
    let names: Vec<String> = events(&raw).into_iter().map(|(n, _)| n.unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta"
        ]
    );
}

#[tokio::test]
async fn chunk_delay_spaces_stream_events() {
    let mock = mock().await;
    mock.set_fault(Fault::chunk_delay(Duration::from_millis(30)).on(MockRoute::ChatCompletions));
    let start = Instant::now();
    let raw = text(
        openai(&mock, "/chat/completions", &streamed(chat("hi")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // role chunk, 3 deltas, finish chunk, [DONE]: five gaps.
    assert_eq!(events(&raw).len(), 6);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn hold_sends_the_first_chunk_then_waits_for_release() {
    let mock = mock().await;
    mock.set_fault(Fault::hold_after_first_chunk().times(1));
    let mut response = openai(&mock, "/chat/completions", &streamed(chat("hi")))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains(r#""role":"assistant""#));
    assert!(mock.wait_until_held(1, Duration::from_secs(2)).await);
    assert_eq!(mock.stats().in_flight, 1);
    let next = tokio::time::timeout(Duration::from_millis(100), response.chunk()).await;
    assert!(next.is_err(), "the stream went on without a release");

    mock.release();
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        String::from_utf8(rest)
            .unwrap()
            .ends_with("data: [DONE]\n\n")
    );
    assert_eq!(mock.stats().held, 0);
    assert_eq!(mock.stats().in_flight, 0);
}

#[tokio::test]
async fn faults_and_release_over_http() {
    let mock = mock().await;
    let control = |path: &str| format!("{}/_mock/{path}", mock.base_url());
    let http = Client::new();
    let bad = http
        .post(control("faults"))
        .json(&json!({"statsu": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let set: Value = http
        .post(control("faults"))
        .json(&json!([{"hold_after_first_chunk": true, "times": 1, "route": "messages"}]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["faults"][0]["route"], "messages");

    let mut response = anthropic(&mock, "/v1/messages", &streamed(claude("hi")))
        .send()
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("event: message_start"));
    assert!(mock.wait_until_held(1, Duration::from_secs(2)).await);
    let released: Value = http
        .post(control("release"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released["released"], 1);
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        String::from_utf8(rest)
            .unwrap()
            .contains("event: message_stop")
    );

    http.post(control("faults"))
        .json(&json!({"status": 503, "route": "/v1/chat/completions"}))
        .send()
        .await
        .unwrap();
    let failed = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.headers()["retry-after"], "1");

    let stats: Value = http
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 2);
    assert_eq!(
        stats["by_route"],
        json!({"chat_completions": 1, "messages": 1})
    );
    http.post(control("reset")).send().await.unwrap();
    let stats: Value = http
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 0);
    let ok = openai(&mock, "/chat/completions", &chat("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn stats_and_recorded_requests() {
    let mock = mock().await;
    mock.set_fault(Fault::hold_after_first_chunk().times(2));
    let mut first = openai(&mock, "/chat/completions", &streamed(chat("one")))
        .send()
        .await
        .unwrap();
    let mut second = anthropic(&mock, "/v1/messages", &streamed(claude("two")))
        .send()
        .await
        .unwrap();
    first.chunk().await.unwrap();
    second.chunk().await.unwrap();
    assert!(mock.wait_until_held(2, Duration::from_secs(2)).await);
    let stats = mock.stats();
    assert_eq!(
        (stats.in_flight, stats.max_in_flight, stats.held),
        (2, 2, 2)
    );
    mock.release();
    first.text().await.unwrap();
    second.text().await.unwrap();

    Client::new()
        .post(format!(
            "{}/chat/completions?trace=1",
            mock.openai_base_url()
        ))
        .bearer_auth("sent-key")
        .header("x-custom", "yes")
        .json(&chat("three"))
        .send()
        .await
        .unwrap();
    let stats = mock.stats();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.by_route["chat_completions"], 2);
    assert_eq!(stats.by_route["messages"], 1);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.max_in_flight, 2);

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[1].route, MockRoute::Messages);
    assert_eq!(requests[1].header("x-api-key"), Some("mock-key"));
    let last = mock.last_request().unwrap();
    assert_eq!(last.method, "POST");
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.query.as_deref(), Some("trace=1"));
    assert_eq!(last.header("authorization"), Some("Bearer sent-key"));
    assert_eq!(last.header("X-Custom"), Some("yes"));
    assert_eq!(last.body["messages"][1]["content"], "three");
}

#[tokio::test]
async fn several_mocks_run_side_by_side_and_stop_on_drop() {
    let mocks = futures_free_start(3).await;
    let mut seen = Vec::new();
    for mock in &mocks {
        let response = openai(mock, "/chat/completions", &chat("hi"))
            .send()
            .await
            .unwrap();
        seen.push(
            response.headers()["x-mock-upstream"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(seen, ["m0", "m1", "m2"]);
    let addr = mocks[0].addr();
    drop(mocks);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

async fn futures_free_start(n: usize) -> Vec<MockUpstream> {
    let mut mocks = Vec::new();
    for i in 0..n {
        let options = MockOptions {
            name: Some(format!("m{i}")),
            ..MockOptions::default()
        };
        mocks.push(MockUpstream::start(options).await.unwrap());
    }
    mocks
}

#[tokio::test]
async fn the_subcommand_prints_its_address_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_aicarpool"))
        .args(["mock-upstream", "--api-key", "sub-key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim_end()
        .strip_prefix("mock upstream listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let set = Client::new()
        .post(format!("{base}/_mock/faults"))
        .json(&json!({"status": 418, "times": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let request = || {
        Client::new()
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "sub-key")
            .json(&claude("hi"))
            .send()
    };
    assert_eq!(request().await.unwrap().status().as_u16(), 418);
    assert_eq!(request().await.unwrap().status(), StatusCode::OK);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "", "stdout carries exactly one line");
}

#[tokio::test]
async fn a_whole_reply_is_cut_halfway_by_drop_mid_stream() {
    let mock = mock().await;
    mock.set_fault(
        Fault::drop_mid_stream_after(1)
            .times(1)
            .on(MockRoute::Responses),
    );
    let body = json!({"model": "gpt-4.1", "input": "hello"});
    let response = openai(&mock, "/responses", &body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.json::<Value>().await.is_err());
    let whole = openai(&mock, "/responses", &body).send().await.unwrap();
    assert_eq!(whole.json::<Value>().await.unwrap()["status"], "completed");
}
