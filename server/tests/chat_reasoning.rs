//! A chat provider's reasoning (DeepSeek's `reasoning_content`) through translation and back:
//! Claude Code gets it as a `thinking` block and Codex CLI as a `reasoning` item, and when
//! they send those back with a tool call's result the reasoning reaches the provider again
//! on the call's turn, as DeepSeek's thinking models require (they answer 400 without it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::gateway::{self, sse_events};
use serde_json::{Value, json};
use server::mock_upstream::{Fault, MockOptions, MockRoute, MockUpstream};

/// A DeepSeek thinking-mode stream (recorded shape): reasoning, then a tool call, then usage.
const DEEPSEEK_STREAM: &str = concat!(
    r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"The user wants "},"logprobs":null,"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"the weather."},"logprobs":null,"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_00_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Hangzhou\"}"}}]},"logprobs":null,"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":40,"completion_tokens":12,"total_tokens":52}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

const REASONING: &str = "The user wants the weather.";

#[tokio::test]
async fn claude_code_gets_deepseek_reasoning_as_thinking_and_sends_it_back() {
    let gw = gateway::start().await;
    let tools = json!([{"name": "get_weather", "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let question = json!({"role": "user", "content": "Weather in Hangzhou?"});
    gw.mock.set_fault(
        Fault::raw_body(DEEPSEEK_STREAM)
            .on(MockRoute::ChatCompletions)
            .times(1),
    );
    let first = json!({"model": "gpt-4o-mini", "max_tokens": 500, "stream": true,
        "tools": tools, "messages": [question]});
    let res = gw.post("/v1/messages", &first).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();

    // The assistant turn as an Anthropic client assembles it from the events.
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json = String::new();
    for (name, data) in sse_events(&text) {
        let ev: Value = serde_json::from_str(&data).unwrap();
        match name.as_deref() {
            Some("content_block_start") => blocks.push(ev["content_block"].clone()),
            Some("content_block_delta") => {
                let block = blocks.last_mut().unwrap();
                let delta = &ev["delta"];
                match delta["type"].as_str().unwrap() {
                    "thinking_delta" => {
                        let acc = block["thinking"].as_str().unwrap().to_owned();
                        block["thinking"] = (acc + delta["thinking"].as_str().unwrap()).into();
                    }
                    "signature_delta" => block["signature"] = delta["signature"].clone(),
                    "input_json_delta" => partial_json += delta["partial_json"].as_str().unwrap(),
                    other => panic!("unexpected delta {other}: {text}"),
                }
            }
            Some("content_block_stop") if !partial_json.is_empty() => {
                let block = blocks.last_mut().unwrap();
                block["input"] = serde_json::from_str(&std::mem::take(&mut partial_json)).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 2, "{text}");
    assert_eq!(blocks[0]["type"], "thinking");
    assert_eq!(blocks[0]["thinking"], REASONING);
    assert!(
        blocks[0]["signature"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(
        (&blocks[1]["type"], &blocks[1]["input"]),
        (&json!("tool_use"), &json!({"city": "Hangzhou"}))
    );

    // The next request carries the tool's result; the reasoning rides on the call's turn.
    let call_id = blocks[1]["id"].as_str().unwrap().to_owned();
    let second = json!({"model": "gpt-4o-mini", "max_tokens": 500, "tools": tools,
        "messages": [question, {"role": "assistant", "content": blocks},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id,
                                          "content": "Sunny, 21°C"}]}]});
    let res = gw.post("/v1/messages", &second).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let sent = gw.mock.last_request().unwrap().body;
    let turn = &sent["messages"][1];
    assert_eq!(turn["role"], "assistant", "{sent}");
    assert_eq!(turn["reasoning_content"], REASONING, "{sent}");
    assert_eq!(turn["tool_calls"][0]["id"], call_id.as_str());
    assert_eq!(sent["messages"][2]["role"], "tool");

    // Moved to a Claude model, the conversation reaches Anthropic without the block, whose
    // signature Anthropic would refuse.
    let mut on_claude = second.clone();
    on_claude["model"] = json!("claude-sonnet-4-5");
    let res = gw.post("/v1/messages", &on_claude).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let sent = gw.mock.last_request().unwrap().body;
    assert_eq!(sent["messages"][1]["content"].as_array().unwrap().len(), 1);
    assert_eq!(sent["messages"][1]["content"][0]["type"], "tool_use");
}

#[tokio::test]
async fn codex_gets_deepseek_reasoning_as_an_item_and_sends_it_back() {
    let gw = gateway::start().await;
    // A DeepSeek-like account: OpenAI-compatible, so Responses requests are translated.
    let deepseek = MockUpstream::start(MockOptions::default()).await.unwrap();
    gw.add_account(json!({"name": "deepseek", "provider": "openai_compatible",
        "base_url": deepseek.openai_base_url(), "api_key": deepseek.api_key(),
        "models": ["deepseek-v4-pro"]}))
        .await;
    deepseek.set_fault(
        Fault::raw_body(DEEPSEEK_STREAM)
            .on(MockRoute::ChatCompletions)
            .times(1),
    );
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let question = json!({"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Weather in Hangzhou?"}]});
    let first = json!({"model": "deepseek-v4-pro", "stream": true, "store": false,
        "include": ["reasoning.encrypted_content"], "tools": tools, "input": [question]});
    let res = gw.post("/v1/responses", &first).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let completed = sse_events(&text)
        .into_iter()
        .filter_map(|(name, data)| (name.as_deref() == Some("response.completed")).then_some(data))
        .next()
        .unwrap_or_else(|| panic!("no response.completed in {text}"));
    let completed: Value = serde_json::from_str(&completed).unwrap();
    let output = completed["response"]["output"].as_array().unwrap().clone();
    assert_eq!(output.len(), 2, "{completed}");
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0]["summary"][0]["text"], REASONING);
    assert_eq!(output[1]["type"], "function_call");
    assert!(text.contains("response.reasoning_summary_text.delta"));

    // Codex sends the output items back, then the call's output.
    let call_id = output[1]["call_id"].as_str().unwrap().to_owned();
    let mut input = vec![question];
    input.extend(output);
    input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "Sunny"}));
    let second =
        json!({"model": "deepseek-v4-pro", "store": false, "tools": tools, "input": input});
    let res = gw.post("/v1/responses", &second).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let sent = deepseek.last_request().unwrap().body;
    let turn = &sent["messages"][1];
    assert_eq!(turn["role"], "assistant", "{sent}");
    assert_eq!(turn["reasoning_content"], REASONING, "{sent}");
    assert_eq!(turn["tool_calls"][0]["id"], call_id.as_str());
    assert_eq!(sent["messages"][2]["role"], "tool");
    deepseek.shutdown().await;
}

/// The mock thinking as DeepSeek does (`mock:think`: reasoning first, and a tool call's turn
/// without its reasoning refused): the whole answer's thinking block, sent back, is what makes
/// the next request pass; without it the provider's 400 reaches the client.
#[tokio::test]
async fn a_provider_that_requires_its_reasoning_back_gets_it() {
    let gw = gateway::start().await;
    let tools = json!([{"name": "get_weather", "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let question = json!({"role": "user", "content": "mock:think what is the weather?"});
    let first = json!({"model": "gpt-4o-mini", "max_tokens": 500, "tools": tools,
        "messages": [question]});
    let res = gw.post("/v1/messages", &first).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    let content = answer["content"].as_array().unwrap().clone();
    assert_eq!(content[0]["type"], "thinking", "{answer}");
    assert!(
        content[0]["thinking"]
            .as_str()
            .unwrap()
            .starts_with("mock thinking about")
    );
    assert_eq!(content[1]["type"], "tool_use", "{answer}");
    let result = json!({"role": "user", "content": [{"type": "tool_result",
        "tool_use_id": content[1]["id"], "content": "Sunny"}]});
    let next = |assistant: Vec<Value>| {
        json!({"model": "gpt-4o-mini", "max_tokens": 500, "tools": tools,
            "messages": [question, {"role": "assistant", "content": assistant}, result]})
    };
    let res = gw
        .post("/v1/messages", &next(content.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // A client that drops the thinking block: the provider refuses, as DeepSeek does.
    let res = gw
        .post("/v1/messages", &next(content[1..].to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("reasoning_content"), "{message}");
}
