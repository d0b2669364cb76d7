//! Requests answered before their body is read (a wrong key, a compressed body, a body over
//! the cap): the answer reaches a client that is still sending, the rest of the body is read
//! and dropped so the connection is not reset under the client, and the connection stays
//! usable; a client that waits for `100 Continue` gets the answer without sending the body.
//! And a body under the cap that comes in many chunks is read whole; a malformed one that would
//! be sent on unchanged is refused without reaching a provider.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::gateway::{self, Gateway, read_until_closed};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(gw: &Gateway) -> SocketAddr {
    gw.base.trim_start_matches("http://").parse().unwrap()
}

/// A chat request whose body is about `size` bytes.
fn chat_of(size: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "x".repeat(size)}]}))
    .unwrap()
}

/// Sends a small chat request on `stream` that closes the connection, and returns the answer.
async fn next_request(gw: &Gateway, stream: &mut TcpStream) -> String {
    let next = String::from_utf8(chat_of(2)).unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{next}",
        gw.key,
        next.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(stream, Duration::from_secs(10)).await
}

/// Reads one answer with a `Content-Length` body from `stream`.
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .expect("the connection is not reset before the answer is read");
        assert!(
            n > 0,
            "closed before a whole answer: {}",
            String::from_utf8_lossy(&all)
        );
        all.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&all);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a content-length");
            if all.len() >= end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

/// A client sending a large body with a wrong key gets its 401 as soon as the head is read,
/// can send the rest of the body without its connection being reset, and can go on using
/// the connection; one that waits for `100 Continue` gets the 401 without sending the body.
#[tokio::test]
async fn a_large_body_sent_with_a_wrong_key_gets_its_401_and_keeps_its_connection() {
    let gw = gateway::start().await;
    let mut body = chat_of(4 << 20);
    let mut stream = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acp_wrong\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..64 * 1024]).await.unwrap();
    let mut answer = vec![0; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the 401 comes before the body is sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains("invalid_api_key") || answer.contains("401"),
        "{answer}"
    );
    // The rest of 4 MiB: more than the socket buffers hold, so the gateway must be reading it.
    for chunk in body[64 * 1024..].chunks(256 * 1024) {
        stream
            .write_all(chunk)
            .await
            .expect("the connection is not reset while the body is still being sent");
    }
    body.clear();
    // The same connection serves the next request.
    let answer = next_request(&gw, &mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        gw.mock.requests().len(),
        1,
        "only the second request went upstream"
    );

    // A client that waits for `100 Continue` (curl does, for large bodies) gets the 401
    // instead and never has to send the body.
    let mut stream = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acp_wrong\r\n\
         Content-Type: application/json\r\nContent-Length: 4000000\r\nExpect: 100-continue\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
}

/// A body over `MAX_BODY_BYTES` is a 413, whether its length is declared or it comes in
/// chunks, and the client, which (like the OpenAI Python SDK) sends all of it before it reads,
/// gets the 413 rather than a reset, and keeps its connection.
#[tokio::test]
async fn a_body_over_the_cap_sent_whole_gets_its_413_not_a_reset() {
    let gw = gateway::start_with(|c| c.gateway.max_body_bytes = 1 << 20).await;
    // Well over what the socket buffers hold, so the client cannot finish unless the gateway
    // keeps reading.
    let body = chat_of(16 << 20);
    for chunked in [false, true] {
        let mut stream = TcpStream::connect(addr(&gw)).await.unwrap();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {}", body.len())
        };
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n",
            gw.key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let send = async {
            for piece in body.chunks(256 * 1024) {
                if chunked {
                    stream
                        .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                        .await?;
                    stream.write_all(piece).await?;
                    stream.write_all(b"\r\n").await?;
                } else {
                    stream.write_all(piece).await?;
                }
            }
            if chunked {
                stream.write_all(b"0\r\n\r\n").await?;
            }
            std::io::Result::Ok(())
        };
        tokio::time::timeout(Duration::from_secs(30), send)
            .await
            .expect("the gateway keeps reading the body")
            .unwrap_or_else(|e| panic!("chunked {chunked}: the body could not be sent: {e}"));
        let answer = read_answer(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "chunked {chunked}: {answer}"
        );
        assert!(answer.contains("MAX_BODY_BYTES"), "{answer}");
        let answer = next_request(&gw, &mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "chunked {chunked}: {answer}"
        );
    }
    assert_eq!(
        gw.mock.requests().len(),
        2,
        "only the small requests went upstream"
    );
}

/// A client that waits for `100 Continue` gets the 413 for a declared length over the cap
/// without sending the body; a declared length far beyond anything the gateway would read is
/// answered and the connection closed.
#[tokio::test]
async fn a_declared_length_over_the_cap_is_answered_without_asking_for_the_body() {
    let gw = gateway::start_with(|c| c.gateway.max_body_bytes = 1 << 20).await;
    for (length, expect) in [(4_000_000_u64, true), (40_000_000_000, false)] {
        let mut stream = TcpStream::connect(addr(&gw)).await.unwrap();
        let expect = if expect {
            "Expect: 100-continue\r\n"
        } else {
            ""
        };
        let head = format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n{expect}\r\n{{\"model\"",
            gw.key
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{length}: {answer}");
        assert!(!answer.contains("100 Continue"), "{answer}");
        // Anthropic's error shape on /v1/messages.
        assert!(answer.contains("\"type\":\"error\""), "{answer}");
    }
}

/// A body under the cap that arrives in several chunks is put together whole, in order.
#[tokio::test]
async fn a_body_in_several_chunks_is_read_whole() {
    let gw = gateway::start_with(|c| c.gateway.max_body_bytes = 1 << 20).await;
    let body = String::from_utf8(chat_of(100_000))
        .unwrap()
        .replace("xxxxx", "abcde");
    let mut stream = TcpStream::connect(addr(&gw)).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        gw.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.as_bytes().chunks(7_919) {
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(piece).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
        stream.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = gw.mock.last_request().unwrap();
    assert_eq!(
        seen.body,
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    );
}

/// Bodies a provider would choke on are the gateway's 400 in the caller's dialect, naming the
/// field: no provider sees them, so none can answer with a 5xx that counts against its account.
#[tokio::test]
async fn malformed_messages_never_reach_a_provider() {
    let gw = gateway::start().await;
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [null]}),
            "messages[0]",
        ),
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [{"content": "hi"}]}),
            "messages[0].role",
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 9,
                   "messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 9, "messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "input": [7]}),
            "input[0]",
        ),
    ];
    for (path, body, param) in cases {
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{path} {body}");
        let err: Value = res.json().await.unwrap();
        if path == "/v1/messages" {
            assert_eq!(err["type"], "error", "{err}");
            assert_eq!(err["error"]["type"], "invalid_request_error", "{err}");
            assert!(
                err["error"]["message"].as_str().unwrap().contains(param),
                "{err}"
            );
        } else {
            assert_eq!(err["error"]["param"], param, "{err}");
        }
    }
    assert_eq!(
        gw.mock.stats().total,
        0,
        "a provider saw a malformed request"
    );
    gw.chat_ok(&gw.key, "gpt-4o-mini").await;
}
