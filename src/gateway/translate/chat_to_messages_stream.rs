//! OpenAI `chat.completion.chunk` stream -> Anthropic Messages stream.
//!
//! A provider's reasoning (`reasoning_content`, `reasoning`) streams as a `thinking` block,
//! signed at its end as [`chat_reasoning`] describes, so it can go back the way it came.
//!
//! Anthropic blocks can't interleave, so a tool call opens a `tool_use` block that stays
//! open until another block starts; fragments for an already-closed tool call (providers
//! that interleave parallel calls) can't be placed and are dropped.

use serde_json::{Value, json};

use super::{chat_reasoning, derive_id, stop_reason_of_answer, tool_id};
use crate::gateway::sse::SseEvent;
use crate::gateway::usage::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text(u64),
    /// A `thinking` block of the reasoning that came in the chat field named.
    Thinking(u64, &'static str),
    Tool {
        block: u64,
        call: u64,
    },
}

/// Turns chat chunks into the Anthropic event sequence, one upstream event at a time.
#[derive(Debug)]
pub struct ChatToMessagesStream {
    id: String,
    model: String,
    usage: Usage,
    started: bool,
    done: bool,
    finish_reason: Option<String>,
    next_block: u64,
    open: Open,
    seen_calls: Vec<u64>,
    /// The model refused (`delta.refusal`): its text streams as text, the stop is `refusal`.
    refused: bool,
}

impl ChatToMessagesStream {
    /// `model` is the name shown to the client.
    pub fn new(model: &str) -> Self {
        Self {
            id: derive_id(None, "msg_"),
            model: model.to_owned(),
            usage: Usage::default(),
            started: false,
            done: false,
            finish_reason: None,
            next_block: 0,
            open: Open::None,
            seen_calls: Vec::new(),
            refused: false,
        }
    }

    /// Usage reported by upstream so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Translates one upstream chunk (or `[DONE]`); unparseable events yield nothing.
    pub fn on_event(&mut self, ev: &SseEvent) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if ev.is_done() {
            self.close(&mut out);
            return out;
        }
        match serde_json::from_str::<Value>(&ev.data) {
            Ok(v) => self.on_parsed(&v),
            Err(_) => out,
        }
    }

    /// Translates one upstream chunk already parsed into `v`.
    pub fn on_parsed(&mut self, v: &Value) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let msg = err["message"]
                .as_str()
                .or(err.as_str())
                .unwrap_or("upstream error");
            return self.fail(msg);
        }
        if let Some(u) = Usage::from_chat(v) {
            self.usage = self.usage.merge(u);
        }
        if !self.started {
            self.id = derive_id(v["id"].as_str(), "msg_");
        }
        self.start(&mut out);
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
            return out;
        };
        let delta = &choice["delta"];
        if let Some((field, reasoning)) = chat_reasoning::of(delta) {
            if !matches!(self.open, Open::Thinking(_, f) if f == field) {
                self.close_block(&mut out);
                let index = self.open_block(|i| Open::Thinking(i, field));
                out.push(event(
                    "content_block_start",
                    json!({ "index": index, "content_block":
                        { "type": "thinking", "thinking": "", "signature": "" } }),
                ));
            }
            out.push(event(
                "content_block_delta",
                json!({ "index": self.block_index(),
                "delta": { "type": "thinking_delta", "thinking": reasoning } }),
            ));
        }
        let refusal = delta["refusal"].as_str().filter(|t| !t.is_empty());
        self.refused |= refusal.is_some();
        let content = delta["content"].as_str().filter(|t| !t.is_empty());
        for text in content.into_iter().chain(refusal) {
            if !matches!(self.open, Open::Text(_)) {
                self.close_block(&mut out);
                let index = self.open_block(Open::Text);
                out.push(event(
                    "content_block_start",
                    json!({ "index": index,
                    "content_block": { "type": "text", "text": "" } }),
                ));
            }
            out.push(event(
                "content_block_delta",
                json!({ "index": self.block_index(),
                "delta": { "type": "text_delta", "text": text } }),
            ));
        }
        for (pos, call) in delta["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            self.tool_delta(call, pos as u64, &mut out);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
            self.close_block(&mut out);
        }
        out
    }

    /// Upstream ended: closes any open block and ends the message.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.done {
            self.close(&mut out);
        }
        out
    }

    /// Upstream died mid-stream: an Anthropic `error` event as the last event.
    pub fn fail(&mut self, message: &str) -> Vec<SseEvent> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![event(
            "error",
            json!({ "error": { "type": "api_error", "message": message } }),
        )]
    }

    fn tool_delta(&mut self, call: &Value, pos: u64, out: &mut Vec<SseEvent>) {
        let index = call["index"].as_u64().unwrap_or(pos);
        let fragment = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let is_open = matches!(self.open, Open::Tool { call, .. } if call == index);
        if !is_open {
            if self.seen_calls.contains(&index) {
                return;
            }
            self.seen_calls.push(index);
            self.close_block(out);
            let block = self.open_block(|block| Open::Tool { block, call: index });
            out.push(event(
                "content_block_start",
                json!({ "index": block, "content_block": {
                "type": "tool_use", "id": tool_id(call["id"].as_str()),
                "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
                "input": {} } }),
            ));
        }
        if !fragment.is_empty() {
            out.push(event(
                "content_block_delta",
                json!({ "index": self.block_index(),
                "delta": { "type": "input_json_delta", "partial_json": fragment } }),
            ));
        }
    }

    fn start(&mut self, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(event(
            "message_start",
            json!({ "message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": self.usage.to_messages_json() } }),
        ));
    }

    fn open_block(&mut self, make: impl FnOnce(u64) -> Open) -> u64 {
        let index = self.next_block;
        self.next_block += 1;
        self.open = make(index);
        index
    }

    fn block_index(&self) -> u64 {
        match self.open {
            Open::Text(i) | Open::Thinking(i, _) | Open::Tool { block: i, .. } => i,
            Open::None => 0,
        }
    }

    fn close_block(&mut self, out: &mut Vec<SseEvent>) {
        // Anthropic signs a thinking block last, just before it ends.
        if let Open::Thinking(index, field) = self.open {
            out.push(event(
                "content_block_delta",
                json!({ "index": index, "delta":
                    { "type": "signature_delta", "signature": chat_reasoning::signature(field) } }),
            ));
        }
        if self.open != Open::None {
            out.push(event(
                "content_block_stop",
                json!({ "index": self.block_index() }),
            ));
            self.open = Open::None;
        }
    }

    fn close(&mut self, out: &mut Vec<SseEvent>) {
        self.start(out);
        self.close_block(out);
        let reason = stop_reason_of_answer(
            self.finish_reason.as_deref(),
            !self.seen_calls.is_empty(),
            self.refused,
        );
        out.push(event(
            "message_delta",
            json!({
            "delta": { "stop_reason": reason, "stop_sequence": null },
            "usage": self.usage.to_messages_json() }),
        ));
        out.push(event("message_stop", json!({})));
        self.done = true;
    }
}

/// A named Anthropic event whose data carries the same `type`.
fn event(kind: &str, mut body: Value) -> SseEvent {
    body["type"] = kind.into();
    SseEvent::named(kind, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> (Vec<(String, Value)>, Usage) {
        let mut t = ChatToMessagesStream::new("gpt-4o");
        let mut out = Vec::new();
        for c in chunks {
            out.extend(t.on_event(&SseEvent::data(*c)));
        }
        out.extend(t.finish());
        let events = out
            .iter()
            .map(|e| {
                (
                    e.event.clone().unwrap(),
                    serde_json::from_str(&e.data).unwrap(),
                )
            })
            .collect();
        (events, t.usage())
    }

    #[test]
    fn chat_tool_call_fragments_become_anthropic_sequence() {
        let (events, usage) = run(&[
            r#"{"id":"chatcmpl-A1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{"content":"Checking."},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\":\"Paris\"}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"clock","arguments":"{}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-A1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}"#,
            r#"{"id":"chatcmpl-A1","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":31,"total_tokens":151,"prompt_tokens_details":{"cached_tokens":100}}}"#,
            "[DONE]",
        ]);
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(events[0].1["message"]["id"], "msg_A1");
        assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 0);
        assert_eq!(
            events[4].1,
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
                "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather", "input": {}}})
        );
        assert_eq!(
            events[6].1,
            json!({"type": "content_block_delta", "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": "ation\":\"Paris\"}"}})
        );
        assert_eq!(events[8].1["index"], 2);
        assert_eq!(events[11].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(
            events[11].1["usage"],
            json!({"input_tokens": 20, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 100, "output_tokens": 31})
        );
        assert_eq!(usage.cache_read_tokens, 100);
    }

    #[test]
    fn stream_without_done_is_closed_and_length_maps_to_max_tokens() {
        let (events, _) = run(&[
            r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}"#,
            r#"{"id":"x","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
        ]);
        assert_eq!(events.len(), 6);
        assert_eq!(events[4].1["delta"]["stop_reason"], "max_tokens");
        assert_eq!(events[5].0, "message_stop");
    }

    #[test]
    fn failure_emits_anthropic_error_event() {
        let mut t = ChatToMessagesStream::new("m");
        let _ = t.on_event(&SseEvent::data(
            r#"{"id":"x","choices":[{"delta":{"content":"a"}}]}"#,
        ));
        let out = t.fail("upstream connection reset");
        assert_eq!(out[0].event.as_deref(), Some("error"));
        let v: Value = serde_json::from_str(&out[0].data).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "error": {"type": "api_error", "message": "upstream connection reset"}})
        );
        assert!(t.finish().is_empty());
    }

    /// OpenAI streams a named `tool_choice`'s call with `finish_reason` `stop`.
    #[test]
    fn tool_calls_stop_for_tool_use_whatever_the_finish_reason() {
        let (events, _) = run(&[
            r#"{"id":"chatcmpl-2","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Seoul\"}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-2","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]);
        let delta = events.iter().find(|(k, _)| k == "message_delta").unwrap();
        assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[1].1["content_block"]["type"], "tool_use");
    }

    /// A streamed refusal was an empty `end_turn` answer; it streams as text and stops for
    /// `refusal`.
    #[test]
    fn a_streamed_refusal_is_text_and_a_refusal_stop() {
        let (events, _) = run(&[
            r#"{"id":"chatcmpl-3","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-3","choices":[{"index":0,"delta":{"refusal":"I cannot "},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-3","choices":[{"index":0,"delta":{"refusal":"help with that."},"finish_reason":null}]}"#,
            r#"{"id":"chatcmpl-3","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ]);
        let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let text: String = events[2..4]
            .iter()
            .map(|(_, v)| v["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, "I cannot help with that.");
        assert_eq!(events[5].1["delta"]["stop_reason"], "refusal");
    }

    /// DeepSeek's thinking model streams `reasoning_content` first (recorded shape): a
    /// `thinking` block, signed just before it ends, then the text and the tool call.
    #[test]
    fn streamed_reasoning_is_a_signed_thinking_block() {
        let (events, _) = run(&[
            r#"{"id":"d1","object":"chat.completion.chunk","created":1,"model":"deepseek-v4-pro","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":""},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"d1","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"The user"},"finish_reason":null}]}"#,
            r#"{"id":"d1","choices":[{"index":0,"delta":{"content":null,"reasoning_content":" asks."},"finish_reason":null}]}"#,
            r#"{"id":"d1","choices":[{"index":0,"delta":{"content":"Checking.","reasoning_content":null},"finish_reason":null}]}"#,
            r#"{"id":"d1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_00_a","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},"finish_reason":null}]}"#,
            r#"{"id":"d1","choices":[{"index":0,"delta":{"content":""},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":20,"total_tokens":29}}"#,
            "[DONE]",
        ]);
        let shown: Vec<String> = events
            .iter()
            .map(|(k, v)| match k.as_str() {
                "content_block_start" => format!("start {}", v["content_block"]["type"]),
                "content_block_delta" => {
                    let d = &v["delta"];
                    let text = [
                        &d["thinking"],
                        &d["text"],
                        &d["signature"],
                        &d["partial_json"],
                    ]
                    .into_iter()
                    .find_map(Value::as_str)
                    .unwrap_or("");
                    format!("{} {} {text}", v["index"], d["type"].as_str().unwrap())
                }
                other => other.to_owned(),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "message_start",
                "start \"thinking\"",
                "0 thinking_delta The user",
                "0 thinking_delta  asks.",
                "0 signature_delta aicarpool.chat.reasoning_content",
                "content_block_stop",
                "start \"text\"",
                "1 text_delta Checking.",
                "content_block_stop",
                "start \"tool_use\"",
                "2 input_json_delta {}",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(events[12].1["delta"]["stop_reason"], "tool_use");
        // A stream that ends while thinking still signs and closes the block.
        let (cut, _) = run(&[
            r#"{"id":"d2","choices":[{"index":0,"delta":{"reasoning":"hmm"},"finish_reason":null}]}"#,
        ]);
        assert_eq!(cut[3].1["delta"]["signature"], "aicarpool.chat.reasoning");
        assert_eq!(cut[4].0, "content_block_stop");
    }
}
