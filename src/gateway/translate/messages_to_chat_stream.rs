//! Anthropic Messages stream -> OpenAI `chat.completion.chunk` stream.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::answer_shape::{AnswerShape, JsonToolStream};
use super::{derive_id, finish_reason_from_stop, unix_now};
use crate::gateway::sse::SseEvent;
use crate::gateway::usage::Usage;

/// Turns Anthropic stream events into chat chunks, one upstream event at a time.
#[derive(Debug)]
pub struct MessagesToChatStream {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    usage: Usage,
    started: bool,
    finish_sent: bool,
    done: bool,
    stop_reason: Option<String>,
    /// Anthropic content-block index -> chat `tool_calls[].index`.
    tools: HashMap<u64, usize>,
    /// Tool blocks that have streamed no argument text yet.
    no_arguments: BTreeSet<u64>,
    /// The answer shape the client asked for.
    shape: AnswerShape,
    /// Rewrites the `json_response` tool into text when the shape is JSON.
    json_tool: Option<JsonToolStream>,
}

impl MessagesToChatStream {
    /// `model` is the name shown to the client; `include_usage` mirrors the client's
    /// `stream_options.include_usage` (set it when chaining into `ChatToResponsesStream`).
    pub fn new(model: &str, include_usage: bool) -> Self {
        Self {
            id: derive_id(None, "chatcmpl-"),
            model: model.to_owned(),
            created: unix_now(),
            include_usage,
            usage: Usage::default(),
            started: false,
            finish_sent: false,
            done: false,
            stop_reason: None,
            tools: HashMap::new(),
            no_arguments: BTreeSet::new(),
            shape: AnswerShape::default(),
            json_tool: None,
        }
    }

    /// The same converter answering in `shape` (JSON content, legacy `function_call`).
    pub fn shaped(mut self, shape: AnswerShape) -> Self {
        self.json_tool = shape.json.then(JsonToolStream::default);
        self.shape = shape;
        self
    }

    /// Usage reported by upstream so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Translates one upstream event; unparseable or unknown events yield nothing.
    pub fn on_event(&mut self, ev: &SseEvent) -> Vec<SseEvent> {
        match serde_json::from_str::<Value>(&ev.data) {
            Ok(v) => self.on_parsed(ev, &v),
            Err(_) => Vec::new(),
        }
    }

    /// Translates one upstream event already parsed into `v`; unknown events yield nothing.
    pub fn on_parsed(&mut self, ev: &SseEvent, v: &Value) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        if let Some(u) = Usage::from_messages(v) {
            self.usage = self.usage.merge(u);
        }
        let rewritten = self.json_tool.as_mut().map(|j| j.rewrite(v));
        let v = rewritten.as_deref().unwrap_or(v);
        let kind = v["type"].as_str().or(ev.event.as_deref()).unwrap_or("");
        match kind {
            "message_start" => {
                self.id = derive_id(
                    v.pointer("/message/id").and_then(Value::as_str),
                    "chatcmpl-",
                );
                self.start(&mut out);
            }
            "content_block_start" => {
                self.start(&mut out);
                let block = &v["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tools.len();
                        let block_index = v["index"].as_u64().unwrap_or(0);
                        self.tools.insert(block_index, index);
                        self.no_arguments.insert(block_index);
                        if !self.shape.legacy_functions {
                            out.push(self.chunk(json!({ "tool_calls": [{
                                "index": index, "id": block["id"], "type": "function",
                                "function": { "name": block["name"], "arguments": "" } }] })));
                        } else if index == 0 {
                            // Legacy clients get one call, without an id.
                            out.push(self.chunk(json!({ "function_call": {
                                "name": block["name"], "arguments": "" } })));
                        }
                    }
                    Some("text") => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(self.chunk(json!({ "content": t })));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                self.start(&mut out);
                let d = &v["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => out.push(self.chunk(json!({ "content": d["text"] }))),
                    Some("thinking_delta") => {
                        out.push(self.chunk(json!({ "reasoning_content": d["thinking"] })));
                    }
                    Some("input_json_delta") => {
                        let block = v["index"].as_u64().unwrap_or(0);
                        let fragment = d["partial_json"].as_str().unwrap_or("");
                        if !fragment.is_empty() {
                            self.no_arguments.remove(&block);
                            out.extend(self.arguments(block, fragment));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let block = v["index"].as_u64().unwrap_or(0);
                if self.no_arguments.remove(&block) {
                    out.extend(self.arguments(block, "{}"));
                }
            }
            "message_delta" => {
                self.start(&mut out);
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_owned());
                }
                self.finish_chunk(&mut out);
            }
            "message_stop" => self.close(&mut out),
            "error" => {
                let msg = v.pointer("/error/message").and_then(Value::as_str);
                let code = v.pointer("/error/type").and_then(Value::as_str);
                return self.fail(
                    code.unwrap_or("upstream_error"),
                    msg.unwrap_or("upstream error"),
                );
            }
            _ => {}
        }
        out
    }

    /// Upstream ended: completes the chunk sequence if it stopped short.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.done {
            self.close(&mut out);
        }
        out
    }

    /// Upstream died mid-stream: an OpenAI-style error object with `code` as the last event.
    pub fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        let body = json!({ "error": {
            "message": message, "type": "server_error", "param": null, "code": code } });
        vec![SseEvent::data(body.to_string())]
    }

    fn start(&mut self, out: &mut Vec<SseEvent>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({ "role": "assistant", "content": "" })));
        }
    }

    /// An arguments fragment of the tool call in content block `block`, as the client's
    /// shape has it (legacy clients get the first call only).
    fn arguments(&self, block: u64, fragment: &str) -> Option<SseEvent> {
        let &index = self.tools.get(&block)?;
        if !self.shape.legacy_functions {
            Some(self.chunk(json!({ "tool_calls": [{
                "index": index, "function": { "arguments": fragment } }] })))
        } else if index == 0 {
            Some(self.chunk(json!({ "function_call": { "arguments": fragment } })))
        } else {
            None
        }
    }

    fn finish_chunk(&mut self, out: &mut Vec<SseEvent>) {
        if self.finish_sent {
            return;
        }
        self.finish_sent = true;
        // A tool called without arguments streams none (or one empty fragment); OpenAI sends
        // "{}", and clients parse the arguments as JSON. Normally done at the block's stop,
        // here for a stream that ended without it.
        for block in std::mem::take(&mut self.no_arguments) {
            out.extend(self.arguments(block, "{}"));
        }
        let reason = self
            .shape
            .finish_reason(finish_reason_from_stop(self.stop_reason.as_deref()));
        let mut chunk = self.chunk_value(json!({}));
        chunk["choices"][0]["finish_reason"] = reason.into();
        out.push(SseEvent::data(chunk.to_string()));
    }

    fn close(&mut self, out: &mut Vec<SseEvent>) {
        self.start(out);
        self.finish_chunk(out);
        if self.include_usage {
            let chunk = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": self.usage.to_chat_json(),
            });
            out.push(SseEvent::data(chunk.to_string()));
        }
        out.push(SseEvent::done());
        self.done = true;
    }

    fn chunk_value(&self, delta: Value) -> Value {
        json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": null }],
        })
    }

    fn chunk(&self, delta: Value) -> SseEvent {
        SseEvent::data(self.chunk_value(delta).to_string())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gateway::sse::SseParser;

    /// A recorded-shape Anthropic stream: text, then a tool call whose input streams in
    /// fragments, with cache usage on `message_start`.
    pub(crate) const ANTHROPIC_STREAM: &str = concat!(
        "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1024,\"output_tokens\":2}}}\r\n\r\n",
        "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let's check the weather\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco, CA\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    /// Claude calling a tool without parameters: one empty `input_json_delta` fragment.
    pub(crate) const NO_ARGUMENTS_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_C\",\"name\":\"clock\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":12}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    pub(crate) fn parse_in_irregular_chunks(body: &str) -> Vec<SseEvent> {
        let bytes = body.as_bytes();
        let mut parser = SseParser::new();
        let mut events = Vec::new();
        let (mut at, mut step) = (0, 1);
        while at < bytes.len() {
            let end = (at + step).min(bytes.len());
            events.extend(parser.push(&bytes[at..end]));
            at = end;
            step = step * 7 % 61 + 1;
        }
        events.extend(parser.finish());
        events
    }

    fn chunks(events: &[SseEvent]) -> Vec<Value> {
        events
            .iter()
            .filter(|e| !e.is_done())
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    #[test]
    fn anthropic_stream_becomes_chat_chunks() {
        let mut t = MessagesToChatStream::new("sonnet", true);
        let mut out = Vec::new();
        for ev in parse_in_irregular_chunks(ANTHROPIC_STREAM) {
            out.extend(t.on_event(&ev));
        }
        out.extend(t.finish());
        assert!(out.last().unwrap().is_done());
        let c = chunks(&out);
        assert_eq!(c[0]["id"], "chatcmpl-014p7gG3wDgGV9EUtLvnow3U");
        assert_eq!(c[0]["object"], "chat.completion.chunk");
        assert_eq!(
            c[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(
            c[1]["choices"][0]["delta"]["content"],
            "Okay, let's check the weather"
        );
        assert_eq!(
            c[2]["choices"][0]["delta"]["tool_calls"],
            json!([{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}])
        );
        let args: String = c[3..5]
            .iter()
            .map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(args, "{\"location\": \"San Francisco, CA\"}");
        assert_eq!(c[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c[6]["choices"], json!([]));
        assert_eq!(c[6]["usage"]["prompt_tokens"], 1496);
        assert_eq!(c[6]["usage"]["completion_tokens"], 89);
        assert_eq!(c.len(), 7);
        assert_eq!(t.usage().cache_read_tokens, 1024);
    }

    /// The arguments of each call, concatenated as a client's SDK does.
    fn call_arguments(c: &[Value]) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        for call in c
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        {
            let index = call[0]["index"].as_u64().unwrap() as usize;
            if args.len() <= index {
                args.resize(index + 1, String::new());
            }
            args[index].push_str(call[0]["function"]["arguments"].as_str().unwrap());
        }
        args
    }

    /// OpenAI sends "{}" for a call without arguments; "" broke `JSON.parse` in the SDKs.
    #[test]
    fn a_call_without_arguments_streams_an_empty_object() {
        let mut t = MessagesToChatStream::new("sonnet", false);
        let mut out = Vec::new();
        for ev in parse_in_irregular_chunks(NO_ARGUMENTS_STREAM) {
            out.extend(t.on_event(&ev));
        }
        let c = chunks(&out);
        assert_eq!(call_arguments(&c), ["{}"]);
        assert_eq!(
            c.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
        // Without any fragment, and with the stream cut before the block's stop; a call that
        // streamed arguments gets nothing added.
        let events = parse_in_irregular_chunks(ANTHROPIC_STREAM);
        let mut t = MessagesToChatStream::new("sonnet", false);
        let mut out = Vec::new();
        for ev in events
            .iter()
            .filter(|e| e.event.as_deref() != Some("content_block_delta"))
        {
            out.extend(t.on_event(ev));
        }
        assert_eq!(call_arguments(&chunks(&out)), ["{}"]);
        let mut t = MessagesToChatStream::new("sonnet", false);
        let mut out = Vec::new();
        for ev in &events[..7] {
            out.extend(t.on_event(ev));
        }
        out.extend(t.finish());
        assert_eq!(call_arguments(&chunks(&out)), ["{}"]);
        let mut t = MessagesToChatStream::new("sonnet", false);
        let mut out = Vec::new();
        for ev in &events {
            out.extend(t.on_event(ev));
        }
        assert_eq!(
            call_arguments(&chunks(&out)),
            ["{\"location\": \"San Francisco, CA\"}"]
        );
        // Legacy function_call clients get the same.
        let shape = AnswerShape {
            legacy_functions: true,
            ..AnswerShape::default()
        };
        let mut t = MessagesToChatStream::new("sonnet", false).shaped(shape);
        let mut out = Vec::new();
        for ev in parse_in_irregular_chunks(NO_ARGUMENTS_STREAM) {
            out.extend(t.on_event(&ev));
        }
        let args: String = chunks(&out)
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["function_call"]["arguments"].as_str())
            .collect();
        assert_eq!(args, "{}");
    }

    #[test]
    fn no_usage_chunk_unless_asked_and_truncated_stream_is_closed() {
        let mut t = MessagesToChatStream::new("m", false);
        let events = parse_in_irregular_chunks(ANTHROPIC_STREAM);
        let mut out = Vec::new();
        for ev in &events[..4] {
            out.extend(t.on_event(ev));
        }
        out.extend(t.finish());
        let c = chunks(&out);
        assert_eq!(c.last().unwrap()["choices"][0]["finish_reason"], "stop");
        assert!(c.iter().all(|c| c.get("usage").is_none()));
        assert!(out.last().unwrap().is_done());
        assert!(t.finish().is_empty());
    }

    #[test]
    fn upstream_error_event_becomes_openai_error() {
        let mut t = MessagesToChatStream::new("m", false);
        let ev = SseEvent::named(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        let out = t.on_event(&ev);
        let v: Value = serde_json::from_str(&out[0].data).unwrap();
        assert_eq!(v["error"]["message"], "Overloaded");
        assert_eq!(v["error"]["code"], "overloaded_error");
        assert!(t.finish().is_empty());
    }
}
