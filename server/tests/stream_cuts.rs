//! Streams that do not run their course: the first chunk reaches the client while the upstream
//! is still writing, a client that leaves cancels the upstream, an upstream that dies mid-stream
//! ends the client's stream with an error event in its dialect, and what each is billed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::gateway::{self, sse_events};
use common::upstream::{brief_chat as chat, brief_messages as messages};
use futures_util::StreamExt;
use serde_json::{Value, json};
use server::mock_upstream::Fault;
#[tokio::test]
async fn the_first_chunk_reaches_the_client_before_the_upstream_finishes() {
    let gw = gateway::start().await;
    gw.mock.set_fault(Fault::hold_after_first_chunk().times(1));
    let mut body = chat("gpt-4o-mini", "long answer please");
    body["stream"] = json!(true);
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the first chunk arrived while the upstream was still holding")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("assistant"));
    assert_eq!(gw.mock.stats().held, 1, "the upstream has not finished yet");
    gw.mock.release();
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(String::from_utf8_lossy(&rest).contains("[DONE]"));
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_upstream_and_is_recorded() {
    let gw = gateway::start().await;
    gw.mock
        .set_fault(Fault::chunk_delay(Duration::from_millis(200)).times(1));
    let mut body = chat("gpt-4o-mini", "w w w w w w w w w w w w w w w w w w w w");
    body["stream"] = json!(true);
    let res = gw.post("/v1/chat/completions", &body).send().await.unwrap();
    let mut stream = res.bytes_stream();
    stream.next().await.unwrap().unwrap();
    assert_eq!(gw.mock.stats().in_flight, 1);
    drop(stream);
    let mut cancelled = false;
    for _ in 0..100 {
        if gw.mock.stats().in_flight == 0 {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        cancelled,
        "the upstream request was still running after the client left"
    );
    let rows = gw.usage(1).await;
    assert_eq!(rows[0].status, 499);
    assert_eq!(rows[0].error_class.as_deref(), Some("client_closed"));
    // The stream was cut before its usage chunk: the prompt is billed by estimate, not free.
    assert!(rows[0].input_tokens >= 10, "{:?}", rows[0]);
    assert!(rows[0].cost_micros > 0, "{:?}", rows[0]);
}

#[tokio::test]
async fn an_upstream_dying_mid_stream_ends_with_a_protocol_error_event() {
    let gw = gateway::start().await;
    gw.mock.set_fault(Fault::drop_mid_stream_after(2).times(2));
    let mut body = messages("claude-sonnet-4-5", "a b c d e f g h");
    body["stream"] = json!(true);
    let text = gw
        .post("/v1/messages", &body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    let delivered_messages: usize = events
        .iter()
        .filter_map(|(_, data)| serde_json::from_str::<Value>(data).ok())
        .filter_map(|v| {
            v.pointer("/delta/text")
                .and_then(Value::as_str)
                .map(str::len)
        })
        .sum();
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"), "{text}");
    let err: Value = serde_json::from_str(data).unwrap();
    assert_eq!(err["type"], "error");
    assert!(
        !events
            .iter()
            .any(|(n, _)| n.as_deref() == Some("message_stop"))
    );

    let mut body = chat("gpt-4o-mini", "a b c d e f g h");
    body["stream"] = json!(true);
    let text = gw
        .post("/v1/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&text);
    let delivered_chat: usize = events
        .iter()
        .filter_map(|(_, data)| serde_json::from_str::<Value>(data).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::len)
        })
        .sum();
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert!(last["error"]["message"].is_string(), "{text}");
    let rows = gw.usage(2).await;
    // The delivered part is billed, at least a token per four bytes; Anthropic's `message_start` (1
    // output token, before any text) is no count of it.
    for (r, delivered) in rows.iter().zip([delivered_messages, delivered_chat]) {
        assert_eq!(r.error_class.as_deref(), Some("upstream_stream_error"));
        assert!(delivered >= 8, "{delivered} bytes of text before the cut");
        assert!(
            r.output_tokens >= delivered.div_ceil(4) as i64,
            "{} output tokens billed for {delivered} bytes delivered ({})",
            r.output_tokens,
            r.endpoint
        );
    }
}

/// A cut stream's output is estimated from the text delivered, but never above the request's
/// output cap: the provider stops there, so long words (a token per four characters is an
/// estimate) cannot bill more than the budget reserved. Same dialect and translated.
#[tokio::test]
async fn a_cut_streams_estimated_output_stays_within_its_cap() {
    let gw = gateway::start().await;
    let long = "x".repeat(60);
    let prompt = format!("{long} {long} {long}");
    let mut bodies = Vec::new();
    for (path, model) in [
        ("/v1/chat/completions", "gpt-4o-mini"),
        ("/v1/chat/completions", "claude-sonnet-4-5"),
    ] {
        let mut b = chat(model, &prompt);
        b["max_tokens"] = json!(4);
        bodies.push((path, b));
    }
    let mut b = messages("claude-sonnet-4-5", &prompt);
    b["max_tokens"] = json!(4);
    bodies.push(("/v1/messages", b));
    for (i, (path, mut body)) in bodies.into_iter().enumerate() {
        body["stream"] = json!(true);
        gw.mock.set_fault(Fault::drop_mid_stream_after(3).times(1));
        let text = gw
            .post(path, &body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(&long), "{text}");
        let row = gw.usage(i + 1).await.pop().unwrap();
        assert_eq!(
            row.error_class.as_deref(),
            Some("upstream_stream_error"),
            "{row:?}"
        );
        assert_eq!(row.output_tokens, 4, "{path} {}: {row:?}", body["model"]);
    }
}
