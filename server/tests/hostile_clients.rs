//! Clients that misbehave on purpose, over real sockets against the binary's serving loop:
//! slow or idle connections are closed, a stalled body is a 408, wrong methods and unknown
//! paths get an answer in the caller's dialect, compressed or non-text input is named, browser
//! preflights are answered.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::gateway::{self, Gateway, read_until_closed};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockRoute};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A second listener on the same gateway whose client timeouts are one second.
async fn impatient(gw: &Gateway) -> SocketAddr {
    gateway::serve_in_background(common::site_for(&gw.state), Duration::from_secs(1)).await
}

fn chat_body() -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_request_head_sent_byte_by_byte_and_never_finished_is_cut_off() {
    let gw = gateway::start().await;
    let addr = impatient(&gw).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Keep trickling header bytes slower than any real client would.
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .unwrap();
    let rest = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(!rest.contains("200 OK"), "{rest}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let gw = gateway::start().await;
    let addr = impatient(&gw).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        gw.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The answer comes, then nothing more is asked: the gateway hangs up by itself.
    let all = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(all.starts_with("HTTP/1.1 200"), "{all}");
    assert!(all.contains("gpt-4o-mini"), "{all}");
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_in_the_callers_dialect() {
    let gw = gateway::start().await;
    let addr = impatient(&gw).await;
    for (path, dialect_marker) in [
        ("/v1/chat/completions", "\"error\":{"),
        ("/v1/messages", "\"type\":\"error\""),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{{\"model\":",
            gw.key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("stopped arriving"), "{answer}");
        assert!(answer.contains(dialect_marker), "{path}: {answer}");
    }
    assert_eq!(gw.mock.requests().len(), 0, "nothing reached the provider");
}

/// A body that keeps arriving, a byte at a time, never trips the idle timeout: past the grace
/// time (the idle timeout) it must average a kilobyte a second, or it is a 408 naming the pace.
#[tokio::test]
async fn a_body_trickled_byte_by_byte_is_a_408_naming_its_pace() {
    let gw = gateway::start().await;
    let addr = impatient(&gw).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n",
        gw.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // Well inside the idle timeout between bytes, for longer than the grace time.
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b" ").await.is_err() {
            break;
        }
    }
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("slower than 1024 bytes a second"),
        "{answer}"
    );
    assert!(
        answer.contains("\"type\":\"error\""),
        "Anthropic's dialect: {answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(gw.mock.requests().len(), 0, "nothing reached the provider");
}

/// Large bodies take room in MAX_BODY_MEMORY for as long as their bytes live (to the end of
/// a stream, which keeps the request to bill a cut): with no room left, another large body
/// waits and then is a 503 with `retry-after`, small requests pass, and the room comes back
/// when the stream ends. Concurrent 32 MiB uploads took 64-150 MB each without a bound.
#[tokio::test]
async fn large_bodies_wait_for_room_and_small_ones_do_not() {
    use futures_util::StreamExt;
    let gw = gateway::start_with(|c| {
        c.gateway.max_body_bytes = 2 * 1024 * 1024;
        c.gateway.max_body_memory = 2 * 1024 * 1024;
        c.gateway.body_memory_wait = Duration::from_millis(500);
    })
    .await;
    let large = |stream: bool| {
        json!({"model": "gpt-4o-mini", "stream": stream,
               "messages": [{"role": "user", "content": "x".repeat(1_500_000)}]})
    };
    gw.mock.set_fault(Fault::hold_after_first_chunk().times(1));
    let held = gw
        .post("/v1/chat/completions", &large(true))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let mut held = held.bytes_stream();
    held.next().await.unwrap().unwrap();

    let res = gw
        .post("/v1/chat/completions", &large(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["code"], "body_memory_full", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MAX_BODY_MEMORY"),
        "{err}"
    );
    let res = gw
        .post("/v1/chat/completions", &chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a small body needs no room");

    // The held stream ends; its room comes back.
    gw.mock.release();
    while held.next().await.is_some() {}
    drop(held);
    let mut status = 0;
    for _ in 0..50 {
        let res = gw
            .post("/v1/chat/completions", &large(false))
            .send()
            .await
            .unwrap();
        status = res.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_in_the_callers_dialect() {
    let gw = gateway::start().await;
    for (method, path, allow, anthropic) in [
        ("GET", "/v1/chat/completions", "POST", false),
        ("PUT", "/v1/responses", "POST", false),
        ("GET", "/v1/messages", "POST", true),
        ("DELETE", "/v1/messages/count_tokens", "POST", true),
        ("POST", "/v1/models", "GET", false),
        ("GET", "/api/chat/completions", "POST", false),
    ] {
        let res = gw
            .http
            .request(method.parse().unwrap(), format!("{}{path}", gw.base))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        let message = if anthropic {
            assert_eq!(body["type"], "error", "{body}");
            body["error"]["message"].as_str().unwrap().to_owned()
        } else {
            assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
            body["error"]["message"].as_str().unwrap().to_owned()
        };
        assert!(message.contains(&format!("use {allow}")), "{message}");
    }
}

#[tokio::test]
async fn browser_preflights_are_answered_and_answers_carry_cors_headers() {
    let gw = gateway::start().await;
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/api/chat/completions",
    ] {
        let res = gw
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", gw.base))
            .header("origin", "https://chat.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,x-api-key,anthropic-version",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        let methods = res.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("POST"), "{methods}");
    }
    let res = gw
        .post("/v1/chat/completions", &chat_body())
        .header("origin", "https://chat.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

/// Headers the wire adds or that change with the moment: not part of the comparison.
const WIRE_HEADERS: [&str; 3] = ["date", "content-length", "transfer-encoding"];

/// The binary serves the proxy's POST endpoints on a direct lane that skips the router and
/// its layers (`server::proxy::Direct`); the router serves the same paths to in-process
/// callers. Both must answer alike: status, every header and its values (CORS, request id,
/// security headers, the gateway's own), for answers, streams, errors in both dialects and an
/// upstream failure.
#[tokio::test]
async fn the_direct_lane_answers_with_the_routers_headers() {
    let gw = gateway::start().await;
    let router = common::router_for(&gw.state);
    let mut streamed = chat_body();
    streamed["stream"] = json!(true);
    let messages = json!({"model": "claude-sonnet-4-5", "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});
    let cases: Vec<(&str, Value, &str, bool)> = vec![
        ("/v1/chat/completions", chat_body(), &gw.key, false),
        ("/v1/chat/completions", streamed, &gw.key, false),
        ("/v1/messages", messages.clone(), &gw.key, false),
        ("/v1/messages/count_tokens", messages, &gw.key, false),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": "hi"}),
            &gw.key,
            false,
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5"}),
            &gw.key,
            false,
        ),
        ("/v1/chat/completions", chat_body(), "acp_not_a_key", false),
        ("/v1/chat/completions", chat_body(), &gw.key, true),
    ];
    for (n, (path, body, key, upstream_fails)) in cases.into_iter().enumerate() {
        if upstream_fails {
            gw.mock
                .set_fault(Fault::status(500).on(MockRoute::ChatCompletions));
        }
        let id = format!("parity-{n}");
        let direct = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(key)
            .header("x-request-id", &id)
            .json(&body)
            .send()
            .await
            .unwrap();
        let routed = common::through_router(&router, path, key, &id, &body).await;
        gw.mock.clear_faults();
        let case = format!("case {n}: POST {path}");
        assert_eq!(direct.status().as_u16(), routed.status().as_u16(), "{case}");
        let names = |headers: &axum::http::HeaderMap| {
            let mut names: Vec<String> = headers
                .keys()
                .map(|k| k.as_str().to_owned())
                .filter(|k| !WIRE_HEADERS.contains(&k.as_str()))
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(direct.headers()), names(routed.headers()), "{case}");
        for name in names(routed.headers()) {
            let values = |headers: &axum::http::HeaderMap| -> Vec<Vec<u8>> {
                headers
                    .get_all(&name)
                    .iter()
                    .map(|v| v.as_bytes().to_vec())
                    .collect()
            };
            assert_eq!(
                values(direct.headers()),
                values(routed.headers()),
                "{case}: {name}"
            );
        }
        assert_eq!(direct.headers()["x-request-id"], id.as_str(), "{case}");
        // Anthropic's routes also name it as Anthropic does (`request-id`), the others not.
        let anthropic_id = direct.headers().get("request-id").map(|v| v.as_bytes());
        if path.starts_with("/v1/messages") {
            assert_eq!(anthropic_id, Some(id.as_bytes()), "{case}");
        } else {
            assert_eq!(anthropic_id, None, "{case}");
        }
    }

    // Without a usable id (none, or one too long to log and store), each lane makes one up
    // (a UUID) and answers with it.
    let unusable = gw
        .post("/v1/chat/completions", &chat_body())
        .header("x-request-id", "i".repeat(100_000))
        .send()
        .await
        .unwrap();
    let id = unusable.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let direct = gw
        .post("/v1/chat/completions", &chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 200);
    let made_up = direct.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&made_up).is_ok(), "{made_up}");
    let mut recorded = false;
    for _ in 0..100 {
        let rows = aicarpool::db::usage::recent(gw.state.db(), gw.group_id, 50)
            .await
            .unwrap();
        if rows.iter().any(|r| r.request_id == made_up) {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recorded, "no usage record carries the made-up id {made_up}");
}

#[tokio::test]
async fn compressed_bodies_and_non_text_keys_are_named_not_misread() {
    let gw = gateway::start().await;
    let res = gw
        .http
        .post(format!("{}/v1/chat/completions", gw.base))
        .bearer_auth(&gw.key)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["code"], "unsupported_content_encoding",
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("gzip"),
        "{body}"
    );

    let key = format!("{}\u{e4}", gw.key);
    let res = gw
        .http
        .post(format!("{}/v1/messages", gw.base))
        .header(
            "x-api-key",
            reqwest::header::HeaderValue::from_bytes(key.as_bytes()).unwrap(),
        )
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("x-api-key") && message.contains("ASCII"),
        "{message}"
    );
    assert_eq!(gw.mock.requests().len(), 0, "nothing reached the provider");
}

#[tokio::test]
async fn unknown_paths_answer_in_json_in_the_callers_dialect() {
    let gw = gateway::start().await;
    for (method, path, anthropic) in [
        ("POST", "/v1/messages/batches", true),
        ("GET", "/v1/messages/msg_123", true),
        ("GET", "/v1", false),
        ("POST", "/v1/", false),
        ("POST", "/v1/completions", false),
        ("POST", "/api/chat/completion", false),
        // A base URL with a trailing slash, or capitals: still JSON, and the path to use.
        ("POST", "//v1/chat/completions", false),
        ("GET", "/V1/models", false),
        ("POST", "//v1//messages", true),
    ] {
        let res = gw
            .http
            .request(method.parse().unwrap(), format!("{}{path}", gw.base))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        let text = res.text().await.unwrap();
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        if anthropic {
            assert_eq!(body["type"], "error", "{body}");
            assert_eq!(body["error"]["type"], "not_found_error", "{body}");
        } else if path.starts_with("/api/") {
            // The JSON API's own 404.
            assert_eq!(body["error"]["type"], "not_found_error", "{body}");
        } else {
            // OpenAI's own shape for an unknown URL.
            assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
            assert_eq!(body["error"]["code"], "unknown_route", "{body}");
        }
        assert!(text.contains(path.trim_end_matches('/')), "{text}");
        if path.contains("//") || path.contains('V') {
            assert!(text.contains("did you mean /v1/"), "{text}");
        }
    }
    // A stray slash inside /v1 (a base URL ending in `/`): the endpoint meant is named.
    for (path, meant, anthropic) in [
        ("/v1/chat/completions/", "/v1/chat/completions", false),
        ("/v1//messages", "/v1/messages", true),
    ] {
        let res = gw
            .http
            .post(format!("{}{path}", gw.base))
            .bearer_auth(&gw.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["type"] == "error", anthropic, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("did you mean {meant}?")),
            "{path}: {message}"
        );
    }
}

/// Targets in a forward proxy's forms (`host:port`) name no path: a 400 saying so (they
/// panicked in the page fallback, and the client got no answer), and serving goes on.
#[tokio::test]
async fn a_target_without_a_path_is_a_400_not_a_panic() {
    let gw = gateway::start().await;
    let addr = impatient(&gw).await;
    for head in [
        "GET 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST example.com:443 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{head}: {answer}");
        assert!(answer.contains("has no path"), "{head}: {answer}");
    }
    // The asterisk form has a path (`*`), and is some route's 404 or an OPTIONS answer.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(!answer.starts_with("HTTP/1.1 5"), "{answer}");
    let res = gw
        .post("/v1/chat/completions", &chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
