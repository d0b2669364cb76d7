//! Upstreams that answer 200 with something malformed: garbage stream events, odd whole bodies.
//! The client always gets a well-formed answer in its own dialect: an in-stream error event
//! once a stream has started, a 502 before, never an empty success; and the usage record says
//! what happened. Valid events the gateway does not know still pass through untouched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::{Gateway, sse_events};
use common::misbehaving::{chat, messages, responses, start};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockRoute};

/// Posts `body` to `path` with `raw` as the upstream's answer on `route`; the client's text.
async fn through(gw: &Gateway, route: MockRoute, raw: &str, path: &str, body: &Value) -> String {
    gw.mock.set_fault(Fault::raw_body(raw).on(route).times(1));
    let res = gw.post(path, body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

fn json_of(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"))
}

const CHAT_ROLE: &str = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";
const MESSAGE_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";

/// The last event of a chat stream is an error chunk with `code`, and no `[DONE]` follows.
fn assert_chat_error(text: &str, code: &str) {
    let events = sse_events(text);
    assert!(!events.iter().any(|(_, d)| d == "[DONE]"), "{text}");
    let last = json_of(&events.last().unwrap().1);
    assert_eq!(last["error"]["code"], code, "{text}");
    assert_eq!(last["error"]["type"], "server_error");
    assert!(
        !events
            .iter()
            .filter_map(|(_, d)| serde_json::from_str::<Value>(d).ok())
            .any(|c| c["choices"][0]["finish_reason"] == "stop"),
        "no fake finish: {text}"
    );
}

/// The last event of an Anthropic stream is `error`, and no `message_stop` came.
fn assert_messages_error(text: &str) {
    let events = sse_events(text);
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"), "{text}");
    assert_eq!(json_of(data)["error"]["type"], "api_error");
    assert!(
        !events
            .iter()
            .any(|(n, _)| n.as_deref() == Some("message_stop")),
        "{text}"
    );
}

#[tokio::test]
async fn same_dialect_garbage_streams_end_in_the_clients_error_event() {
    let gw = start().await;
    let path = "/v1/chat/completions";
    let not_json = format!("{CHAT_ROLE}data: {{not json\n\ndata: [DONE]\n\n");
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        &not_json,
        path,
        &chat("gpt-4o-mini", true),
    )
    .await;
    // What came before the bad event was relayed as it was.
    assert!(text.starts_with(CHAT_ROLE), "{text}");
    assert_chat_error(&text, "upstream_bad_event");
    assert!(
        json_of(&sse_events(&text).last().unwrap().1)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let bad_shape = format!("{CHAT_ROLE}data: {{\"choices\":\"nope\"}}\n\ndata: [DONE]\n\n");
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        &bad_shape,
        path,
        &chat("gpt-4o-mini", true),
    )
    .await;
    assert_chat_error(&text, "upstream_bad_event");

    // Garbage as the very first event: nothing was sent yet, so it is a 502 (the only
    // account failed), not a 200 with an error inside.
    let anthropic = "event: message_start\ndata: {not json\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    gw.mock
        .set_fault(Fault::raw_body(anthropic).on(MockRoute::Messages).times(1));
    let res = gw
        .post("/v1/messages", &messages("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let body = json_of(&res.text().await.unwrap());
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("began its stream with an event that is not valid JSON"),
        "{body}"
    );

    let rows = gw.usage(3).await;
    for r in &rows {
        assert_eq!(r.error_class.as_deref(), Some("upstream_bad_event"));
    }
    let statuses: Vec<_> = rows.iter().map(|r| (r.status, r.streamed)).collect();
    assert_eq!(statuses[..2], [(200, true), (200, true)]);
    assert_eq!(statuses[2].0, 502);
}

#[tokio::test]
async fn a_garbage_first_event_fails_over_to_the_next_account() {
    let gw = start().await;
    let ups = gw.add_upstreams("twin", &[1000, 1]).await;
    // The account almost always tried first starts every stream with garbage, after a
    // comment (its own frame), so the check has to read past a chunk without an event.
    ups[0].0.set_fault(
        Fault::raw_body(": warming up\n\ndata: {\"choices\":\n\ndata: [DONE]\n\n")
            .on(MockRoute::ChatCompletions),
    );
    let mut failed_over = 0;
    for _ in 0..10 {
        let res = gw
            .post("/v1/chat/completions", &chat("twin", true))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let attempts = res.headers()["x-aicarpool-attempts"]
            .to_str()
            .unwrap()
            .to_owned();
        let served_by = res.headers()["x-aicarpool-account-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = res.text().await.unwrap();
        assert_eq!(served_by, ups[1].1.to_string(), "{text}");
        let events = sse_events(&text);
        assert_eq!(events.last().unwrap().1, "[DONE]", "{text}");
        assert!(!text.contains("upstream_bad_event"), "{text}");
        if attempts == "2" {
            failed_over += 1;
        }
    }
    assert!(failed_over > 0, "the garbage account was never tried first");
    assert!(!ups[0].0.requests().is_empty());
}

#[tokio::test]
async fn translated_garbage_streams_fail_in_the_clients_dialect() {
    let gw = start().await;
    let garbage = format!(
        "{MESSAGE_START}event: content_block_delta\ndata: {{not json\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    );
    // Chat client, Anthropic upstream.
    let text = through(
        &gw,
        MockRoute::Messages,
        &garbage,
        "/v1/chat/completions",
        &chat("claude-sonnet-4-5", true),
    )
    .await;
    assert_chat_error(&text, "upstream_bad_event");
    let first = json_of(&sse_events(&text)[0].1);
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");

    // Responses client, Anthropic upstream.
    let text = through(
        &gw,
        MockRoute::Messages,
        &garbage,
        "/v1/responses",
        &responses("claude-sonnet-4-5", true),
    )
    .await;
    let events = sse_events(&text);
    let types: Vec<String> = events
        .iter()
        .map(|(_, d)| json_of(d)["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("response.created"));
    assert_eq!(
        types.last().map(String::as_str),
        Some("response.failed"),
        "{text}"
    );
    assert!(!types.iter().any(|t| t == "response.completed"), "{text}");
    let failed = json_of(&events.last().unwrap().1);
    assert_eq!(failed["response"]["status"], "failed");
    assert!(
        failed["response"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    // Anthropic client, OpenAI upstream: a chunk whose `choices` is not an array.
    let garbage = format!("{CHAT_ROLE}data: {{\"choices\":\"nope\"}}\n\ndata: [DONE]\n\n");
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        &garbage,
        "/v1/messages",
        &messages("gpt-4o-mini", true),
    )
    .await;
    assert_messages_error(&text);
    assert_eq!(sse_events(&text)[0].0.as_deref(), Some("message_start"));

    let rows = gw.usage(3).await;
    for r in &rows {
        assert_eq!(
            r.error_class.as_deref(),
            Some("upstream_bad_event"),
            "{}",
            r.endpoint
        );
        assert_eq!(r.status, 200);
    }
    // What the upstream reported before the bad event is kept.
    assert_eq!(rows[0].input_tokens, 3);
}

#[tokio::test]
async fn valid_events_the_gateway_does_not_know_pass_through_untouched() {
    let gw = start().await;
    let openai = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"obfuscation\":\"q1\",\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"new_field\":{\"x\":[1]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n",
        "data: [DONE]\n\n",
    );
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        openai,
        "/v1/chat/completions",
        &chat("gpt-4o-mini", true),
    )
    .await;
    assert_eq!(text, openai);

    let anthropic = format!(
        "{MESSAGE_START}event: ping\ndata: {{\"type\": \"ping\"}}\n\nevent: brand_new\ndata: {{\"type\":\"brand_new\",\"payload\":[1,{{}}]}}\n\nevent: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}},\"usage\":{{\"output_tokens\":4}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    );
    let text = through(
        &gw,
        MockRoute::Messages,
        &anthropic,
        "/v1/messages",
        &messages("claude-sonnet-4-5", true),
    )
    .await;
    assert_eq!(text, anthropic);

    let rows = gw.usage(2).await;
    for r in &rows {
        assert_eq!((r.status, r.error_class.as_deref()), (200, None));
    }
    assert_eq!((rows[0].input_tokens, rows[0].output_tokens), (2, 1));
    assert_eq!((rows[1].input_tokens, rows[1].output_tokens), (3, 4));
}

/// An event past the 16 MiB bound is not buffered; dropping it quietly would leave a hole in
/// the answer, so the stream ends there with the client's error event.
#[tokio::test]
async fn an_event_over_16_mib_ends_the_stream_with_an_error() {
    let gw = start().await;
    let huge = "x".repeat(17 * 1024 * 1024);
    let after = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after\"}}]}\n\n";
    let raw = format!("{CHAT_ROLE}data: {{\"pad\":\"{huge}\"}}\n\n{after}data: [DONE]\n\n");
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        &raw,
        "/v1/chat/completions",
        &chat("gpt-4o-mini", true),
    )
    .await;
    assert!(
        text.starts_with(CHAT_ROLE),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(!text.contains("after"), "nothing past the hole is relayed");
    assert_chat_error(&text, "upstream_bad_event");
    let message = json_of(&sse_events(&text).last().unwrap().1)["error"]["message"].clone();
    assert!(
        message.as_str().unwrap().contains("larger than 16 MiB"),
        "{message}"
    );
    let rows = gw.usage(1).await;
    assert_eq!(rows[0].error_class.as_deref(), Some("upstream_bad_event"));
}

#[tokio::test]
async fn a_stream_without_its_end_is_truncated_and_cut_streams_share_one_code() {
    let gw = start().await;
    // No `[DONE]`: the client learns the answer is incomplete.
    let text = through(
        &gw,
        MockRoute::ChatCompletions,
        CHAT_ROLE,
        "/v1/chat/completions",
        &chat("gpt-4o-mini", true),
    )
    .await;
    assert_chat_error(&text, "upstream_stream_error");
    // A cut connection: the same code whichever upstream the chat client reached.
    for model in ["gpt-4o-mini", "claude-sonnet-4-5"] {
        gw.mock.set_fault(Fault::drop_mid_stream_after(2).times(1));
        let text = gw
            .post("/v1/chat/completions", &chat(model, true))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_chat_error(&text, "upstream_stream_error");
    }
    let rows = gw.usage(3).await;
    let classes: Vec<_> = rows.iter().map(|r| r.error_class.as_deref()).collect();
    assert_eq!(
        classes,
        [
            Some("upstream_stream_truncated"),
            Some("upstream_stream_error"),
            Some("upstream_stream_error")
        ]
    );
}

#[tokio::test]
async fn odd_whole_answers_are_502_in_the_callers_dialect() {
    let gw = start().await;
    let send = |route, raw: &'static str, path: &'static str, body: Value| {
        let gw = &gw;
        async move {
            gw.mock.set_fault(Fault::raw_body(raw).on(route).times(1));
            let res = gw.post(path, &body).send().await.unwrap();
            let status = res.status().as_u16();
            (status, json_of(&res.text().await.unwrap()))
        }
    };
    // Translated: an object the translator cannot read.
    let (status, body) = send(
        MockRoute::Messages,
        r#"{"foo":1}"#,
        "/v1/chat/completions",
        chat("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unexpected body (not a message)"),
        "{body}"
    );
    let (status, body) = send(
        MockRoute::ChatCompletions,
        r#"{"choices":[]}"#,
        "/v1/messages",
        messages("gpt-4o-mini", false),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "api_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no choices"),
        "{body}"
    );
    let (status, body) = send(
        MockRoute::Messages,
        "null",
        "/v1/responses",
        responses("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(status, 502);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a JSON object"),
        "{body}"
    );

    // Same dialect: an answer of the dialect passes as it is (extra fields too); an object
    // without one is a 502, and an error object sent with a 200 does not reach the client
    // (its text may name the account's key).
    let (status, body) = send(
        MockRoute::ChatCompletions,
        r#"{"choices":[],"provider_extra":{"x":1}}"#,
        "/v1/chat/completions",
        chat("gpt-4o-mini", false),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, json!({"choices": [], "provider_extra": {"x": 1}}))
    );
    let (status, body) = send(
        MockRoute::ChatCompletions,
        r#"{"foo":1}"#,
        "/v1/chat/completions",
        chat("gpt-4o-mini", false),
    )
    .await;
    assert_eq!(status, 502);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no choices"),
        "{body}"
    );
    let (status, body) = send(
        MockRoute::Messages,
        r#"{"error":{"message":"quota exhausted for key mock-key"}}"#,
        "/v1/messages",
        messages("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(status, 502);
    assert!(!body.to_string().contains("mock-key"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("an error object instead of an answer"),
        "{body}"
    );
    let (status, body) = send(
        MockRoute::ChatCompletions,
        "null",
        "/v1/chat/completions",
        chat("gpt-4o-mini", false),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["type"], "server_error");
    let (status, body) = send(
        MockRoute::Messages,
        "[1]",
        "/v1/messages",
        messages("claude-sonnet-4-5", false),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["type"], "api_error");

    let rows = gw.usage(8).await;
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.status, r.error_class.as_deref()))
        .collect();
    let bad = (502, Some("upstream_bad_body"));
    assert_eq!(got, [bad, bad, bad, (200, None), bad, bad, bad, bad]);
}

/// The provider's own error events: as the first event the attempt fails (the next account
/// serves the request); later, the stream ends with the gateway's error event, recorded as a
/// failed stream. Either way the provider's text (which may name the account's key or its
/// internal URLs) does not reach the client.
#[tokio::test]
async fn provider_error_events_fail_over_first_and_never_reach_the_client() {
    let gw = start().await;
    let ups = gw.add_upstreams("twin", &[1000, 1]).await;
    let leak = "Incorrect API key provided: mock-key. Upstream http://10.9.8.7:8000/v1 failed";
    ups[0].0.set_fault(
        Fault::raw_body(format!(
            "data: {{\"error\":{{\"message\":\"{leak}\"}}}}\n\ndata: [DONE]\n\n"
        ))
        .on(MockRoute::ChatCompletions),
    );
    for _ in 0..5 {
        let res = gw
            .post("/v1/chat/completions", &chat("twin", true))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let served_by = res.headers()["x-aicarpool-account-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = res.text().await.unwrap();
        assert_eq!(served_by, ups[1].1.to_string(), "{text}");
        assert!(
            !text.contains("mock-key") && !text.contains("10.9.8.7"),
            "{text}"
        );
    }
    ups[0].0.clear_faults();

    // Mid-stream, in Anthropic's dialect: the client's error event is the gateway's own.
    let anthropic = format!(
        "{MESSAGE_START}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"api_error\",\"message\":\"{leak}\"}}}}\n\n"
    );
    let text = through(
        &gw,
        MockRoute::Messages,
        &anthropic,
        "/v1/messages",
        &messages("claude-sonnet-4-5", true),
    )
    .await;
    assert!(
        !text.contains("mock-key") && !text.contains("10.9.8.7"),
        "{text}"
    );
    let events = sse_events(&text);
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"), "{text}");
    assert!(
        json_of(data)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reported an error")
    );
    let rows = gw.usage(1).await;
    assert_eq!(
        rows[0].error_class.as_deref(),
        Some("upstream_stream_error")
    );
    assert_eq!(rows[0].input_tokens, 3);
}

/// A whole answer past 32 MiB is refused as it arrives (the connection dropped), not held in
/// memory and parsed: a 502 that says so, and the next account would be tried.
#[tokio::test]
async fn a_whole_answer_past_32_mib_is_a_502() {
    let gw = start().await;
    let huge = format!(r#"{{"choices":[],"pad":"{}"}}"#, "a".repeat(33 << 20));
    gw.mock.set_fault(
        Fault::raw_body(huge)
            .on(MockRoute::ChatCompletions)
            .times(1),
    );
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let body = json_of(&res.text().await.unwrap());
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("larger than 32 MiB"), "{message}");
    let rows = gw.usage(1).await;
    assert_eq!(rows[0].error_class.as_deref(), Some("upstream_too_large"));
}
