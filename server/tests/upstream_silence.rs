//! Upstreams that say less than they should: a stream that ends before its first event is no
//! answer (the next account is tried, nothing is billed), and a whole answer without usage is
//! billed by the gateway's estimate, as a cut stream is, instead of being free.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::sse_events;
use common::misbehaving::{chat, messages, responses, start};
use serde_json::Value;
use server::mock_upstream::{Fault, MockRoute};

/// A stream that ends before any event that says something (blank, a keep-alive comment, an
/// event without data, Anthropic's ping) or whose first event is chat's `[DONE]` is no
/// answer: the attempt fails before anything reaches the client, the next account is tried,
/// and with none left the client gets a 502 in its dialect and nothing is billed.
#[tokio::test]
async fn a_stream_that_ends_before_its_first_event_fails_over_and_costs_nothing() {
    let gw = start().await;
    let cases = [
        (
            MockRoute::ChatCompletions,
            " ",
            "/v1/chat/completions",
            chat("gpt-4o-mini", true),
        ),
        (
            MockRoute::ChatCompletions,
            ": keep-alive\n\n",
            "/v1/chat/completions",
            chat("gpt-4o-mini", true),
        ),
        (
            MockRoute::ChatCompletions,
            "event: ping\n\n",
            "/v1/chat/completions",
            chat("gpt-4o-mini", true),
        ),
        (
            MockRoute::ChatCompletions,
            "data: [DONE]\n\n",
            "/v1/chat/completions",
            chat("gpt-4o-mini", true),
        ),
        (
            MockRoute::ChatCompletions,
            "data: [DONE]\n\n",
            "/v1/messages",
            messages("gpt-4o-mini", true),
        ),
        (
            MockRoute::Messages,
            "event: ping\n\n",
            "/v1/messages",
            messages("claude-sonnet-4-5", true),
        ),
        (
            MockRoute::Messages,
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "/v1/chat/completions",
            chat("claude-sonnet-4-5", true),
        ),
        (
            MockRoute::Messages,
            ": hi\n\n",
            "/v1/chat/completions",
            chat("claude-sonnet-4-5", true),
        ),
        (
            MockRoute::Responses,
            "\n\n",
            "/v1/responses",
            responses("gpt-4o-mini", true),
        ),
    ];
    let n = cases.len();
    for (route, raw, path, body) in cases {
        gw.mock.set_fault(Fault::raw_body(raw).on(route).times(1));
        let res = gw.post(path, &body).send().await.unwrap();
        let case = format!("{raw:?} on {path} ({})", body["model"]);
        assert_eq!(res.status(), 502, "{case}");
        let err: Value = res.json().await.unwrap();
        if path == "/v1/messages" {
            assert_eq!(err["type"], "error", "{case}: {err}");
            assert_eq!(err["error"]["type"], "api_error", "{case}: {err}");
        } else {
            assert_eq!(err["error"]["type"], "server_error", "{case}: {err}");
        }
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("nothing was sent on"), "{case}: {message}");
    }
    for row in gw.usage(n).await {
        assert_eq!(row.status, 502, "{}", row.model_requested);
        assert_eq!(row.error_class.as_deref(), Some("upstream_bad_event"));
        assert_eq!(
            (row.input_tokens, row.output_tokens, row.cost_micros),
            (0, 0, 0),
            "nothing billed"
        );
    }

    // With another account, the empty stream is only a failed attempt.
    let ups = gw.add_upstreams("twin", &[1000, 1]).await;
    ups[0]
        .0
        .set_fault(Fault::raw_body(": keep-alive\n\n").on(MockRoute::ChatCompletions));
    let res = gw
        .post("/v1/chat/completions", &chat("twin", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-aicarpool-attempts"], "2");
    assert_eq!(
        res.headers()["x-aicarpool-account-id"],
        ups[1].1.to_string().as_str()
    );
    let text = res.text().await.unwrap();
    assert_eq!(sse_events(&text).last().unwrap().1, "[DONE]", "{text}");
}

/// A whole answer without usage (none, or counts that are not counts) is billed by the
/// gateway's estimate: the input from the request, the output from the answer's text (11
/// characters of "hello world" are 3 tokens), same dialect or translated; a streamed one
/// already was.
#[tokio::test]
async fn a_whole_answer_without_usage_is_billed_by_the_estimate() {
    let gw = start().await;
    let chat_answer = |usage: &str| {
        format!(
            r#"{{"id":"x","object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"hello world"}},"finish_reason":"stop"}}]{usage}}}"#
        )
    };
    let messages_answer = r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hello world"}],"stop_reason":"end_turn"}"#;
    let cases = [
        (
            MockRoute::ChatCompletions,
            chat_answer(""),
            "/v1/chat/completions",
            chat("gpt-4o-mini", false),
        ),
        (
            MockRoute::ChatCompletions,
            chat_answer(r#","usage":{"prompt_tokens":"9","completion_tokens":5.7}"#),
            "/v1/chat/completions",
            chat("gpt-4o-mini", false),
        ),
        (
            MockRoute::ChatCompletions,
            chat_answer(r#","usage":null"#),
            "/v1/messages",
            messages("gpt-4o-mini", false),
        ),
        (
            MockRoute::Messages,
            messages_answer.to_owned(),
            "/v1/messages",
            messages("claude-sonnet-4-5", false),
        ),
        (
            MockRoute::Messages,
            messages_answer.to_owned(),
            "/v1/chat/completions",
            chat("claude-sonnet-4-5", false),
        ),
    ];
    let n = cases.len();
    for (route, raw, path, body) in cases {
        gw.mock
            .set_fault(Fault::raw_body(raw.clone()).on(route).times(1));
        let res = gw.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{raw} on {path}");
        let text = res.text().await.unwrap();
        assert!(text.contains("hello world"), "{text}");
    }
    for row in gw.usage(n).await {
        let case = format!("{} on {}", row.model_requested, row.endpoint);
        assert_eq!(row.output_tokens, 3, "{case}");
        assert!(row.input_tokens > 0, "{case}");
        assert!(row.cost_micros > 0, "{case}: billed");
    }

    // A reported count stands: no estimate.
    gw.mock.set_fault(
        Fault::raw_body(chat_answer(
            r#","usage":{"prompt_tokens":40,"completion_tokens":1}"#,
        ))
        .on(MockRoute::ChatCompletions)
        .times(1),
    );
    let res = gw
        .post("/v1/chat/completions", &chat("gpt-4o-mini", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = gw.usage(n + 1).await.pop().unwrap();
    assert_eq!((row.input_tokens, row.output_tokens), (40, 1));
}
