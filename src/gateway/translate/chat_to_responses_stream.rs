//! OpenAI `chat.completion.chunk` stream -> Responses API stream events.
//!
//! Every event is named after its `type` and carries a `sequence_number`, as OpenAI's do.
//! Output items are emitted one at a time (the provider's reasoning, the text message, then
//! each function call), each closed with its `.done` events before the next opens.

use serde_json::{Value, json};

use super::responses_object::{
    Status, function_call_item, message_item, reasoning_item, refusal_item, response_object,
};
use super::{chat_reasoning, derive_id, random_id, unix_now};
use crate::gateway::sse::SseEvent;
use crate::gateway::usage::Usage;

#[derive(Debug)]
enum OpenItem {
    /// A chat provider's reasoning, streamed as a `reasoning` item's summary, and the chat
    /// field it came in.
    Reasoning {
        id: String,
        text: String,
        field: &'static str,
    },
    /// An assistant message with one part: `output_text`, or `refusal` when the model
    /// declined (chat's `delta.refusal`).
    Message {
        id: String,
        text: String,
        refusal: bool,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        index: u64,
    },
}

/// Turns chat chunks into Responses events, one upstream event at a time.
#[derive(Debug)]
pub struct ChatToResponsesStream {
    req: Value,
    id: String,
    created_at: u64,
    sequence: u64,
    usage: Usage,
    saw_usage: bool,
    started: bool,
    done: bool,
    finish_reason: Option<String>,
    output: Vec<Value>,
    open: Option<OpenItem>,
    seen_calls: Vec<u64>,
}

impl ChatToResponsesStream {
    /// `req` is the client's Responses request, echoed in the response snapshots.
    pub fn new(req: &Value) -> Self {
        Self {
            req: req.clone(),
            id: derive_id(None, "resp_"),
            created_at: unix_now(),
            sequence: 0,
            usage: Usage::default(),
            saw_usage: false,
            started: false,
            done: false,
            finish_reason: None,
            output: Vec::new(),
            open: None,
            seen_calls: Vec::new(),
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
            self.complete(&mut out);
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
            let code = err["code"].as_str().unwrap_or("upstream_stream_error");
            return self.fail(code, msg);
        }
        if let Some(u) = Usage::from_chat(v) {
            self.usage = self.usage.merge(u);
            self.saw_usage = true;
        }
        if !self.started {
            self.id = derive_id(v["id"].as_str(), "resp_");
        }
        self.start(&mut out);
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else {
            return out;
        };
        if let Some((field, reasoning)) = chat_reasoning::of(&choice["delta"]) {
            self.reasoning_delta(reasoning, field, &mut out);
        }
        for (key, refusal) in [("content", false), ("refusal", true)] {
            if let Some(text) = choice["delta"][key].as_str().filter(|t| !t.is_empty()) {
                self.text_delta(text, refusal, &mut out);
            }
        }
        let calls = choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten();
        for (pos, call) in calls.enumerate() {
            self.call_delta(call, pos as u64, &mut out);
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
        }
        out
    }

    /// Upstream ended: closes open items and sends the terminal event.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.done {
            self.complete(&mut out);
        }
        out
    }

    /// Upstream died mid-stream: as OpenAI ends a failed stream, an `error` event (`code`,
    /// the message), then `response.failed` carrying the message.
    pub fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.start(&mut out);
        self.done = true;
        let error = super::responses_error_event(code, message);
        out.push(self.event("error", error));
        let mut response = self.snapshot(Status::Failed);
        response["error"] = json!({ "code": "server_error", "message": message });
        out.push(self.event("response.failed", json!({ "response": response })));
        out
    }

    fn text_delta(&mut self, text: &str, refusal: bool, out: &mut Vec<SseEvent>) {
        let (part, kind) = if refusal {
            (json!({ "type": "refusal", "refusal": "" }), "refusal")
        } else {
            (
                json!({ "type": "output_text", "text": "", "annotations": [] }),
                "output_text",
            )
        };
        if !matches!(self.open, Some(OpenItem::Message { refusal: r, .. }) if r == refusal) {
            self.close_item(out);
            let id = random_id("msg_");
            let output_index = self.output.len();
            let item = json!({ "id": id, "type": "message", "status": "in_progress",
                "role": "assistant", "content": [] });
            out.push(self.event(
                "response.output_item.added",
                json!({ "output_index": output_index, "item": item }),
            ));
            out.push(self.event(
                "response.content_part.added",
                json!({ "item_id": id,
                "output_index": output_index, "content_index": 0, "part": part }),
            ));
            self.open = Some(OpenItem::Message {
                id,
                text: String::new(),
                refusal,
            });
        }
        let Some(id) = self.append_text(text) else {
            return;
        };
        let mut body = json!({ "item_id": id, "output_index": self.output.len(),
            "content_index": 0, "delta": text });
        if !refusal {
            body["logprobs"] = json!([]);
        }
        out.push(self.event(&format!("response.{kind}.delta"), body));
    }

    /// Reasoning streams as OpenAI streams a reasoning summary: the item, its one summary
    /// part, then the part's text deltas.
    fn reasoning_delta(&mut self, text: &str, field: &'static str, out: &mut Vec<SseEvent>) {
        if !matches!(self.open, Some(OpenItem::Reasoning { field: f, .. }) if f == field) {
            self.close_item(out);
            let id = random_id("rs_");
            let output_index = self.output.len();
            out.push(self.event(
                "response.output_item.added",
                json!({ "output_index": output_index,
                    "item": { "id": id, "type": "reasoning", "summary": [] } }),
            ));
            out.push(self.event(
                "response.reasoning_summary_part.added",
                json!({ "item_id": id, "output_index": output_index, "summary_index": 0,
                    "part": { "type": "summary_text", "text": "" } }),
            ));
            self.open = Some(OpenItem::Reasoning {
                id,
                text: String::new(),
                field,
            });
        }
        let Some(id) = self.append_text(text) else {
            return;
        };
        let body = json!({ "item_id": id, "output_index": self.output.len(),
            "summary_index": 0, "delta": text });
        out.push(self.event("response.reasoning_summary_text.delta", body));
    }

    /// Appends `text` to the open message or reasoning item; that item's id, if one is open.
    fn append_text(&mut self, text: &str) -> Option<String> {
        match &mut self.open {
            Some(
                OpenItem::Message { id, text: acc, .. } | OpenItem::Reasoning { id, text: acc, .. },
            ) => {
                acc.push_str(text);
                Some(id.clone())
            }
            _ => None,
        }
    }

    fn call_delta(&mut self, call: &Value, pos: u64, out: &mut Vec<SseEvent>) {
        let index = call["index"].as_u64().unwrap_or(pos);
        let is_open = matches!(&self.open, Some(OpenItem::Call { index: i, .. }) if *i == index);
        if !is_open {
            if self.seen_calls.contains(&index) {
                return;
            }
            self.seen_calls.push(index);
            self.close_item(out);
            let (id, call_id) = (
                random_id("fc_"),
                call["id"]
                    .as_str()
                    .map_or_else(|| random_id("call_"), str::to_owned),
            );
            let name = call
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let item = function_call_item(&id, &call_id, &name, "", "in_progress");
            let output_index = self.output.len();
            out.push(self.event(
                "response.output_item.added",
                json!({ "output_index": output_index, "item": item }),
            ));
            self.open = Some(OpenItem::Call {
                id,
                call_id,
                name,
                arguments: String::new(),
                index,
            });
        }
        let fragment = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let id = match &mut self.open {
            Some(OpenItem::Call { id, arguments, .. }) if !fragment.is_empty() => {
                arguments.push_str(fragment);
                id.clone()
            }
            _ => return,
        };
        let body = json!({ "item_id": id, "output_index": self.output.len(), "delta": fragment });
        out.push(self.event("response.function_call_arguments.delta", body));
    }

    fn close_item(&mut self, out: &mut Vec<SseEvent>) {
        let output_index = self.output.len();
        let item = match self.open.take() {
            None => return,
            Some(OpenItem::Reasoning { id, text, field }) => {
                let base =
                    json!({ "item_id": id, "output_index": output_index, "summary_index": 0 });
                let mut done = base.clone();
                done["text"] = text.as_str().into();
                out.push(self.event("response.reasoning_summary_text.done", done));
                let mut part = base;
                part["part"] = json!({ "type": "summary_text", "text": text });
                out.push(self.event("response.reasoning_summary_part.done", part));
                reasoning_item(&id, &text, field)
            }
            Some(OpenItem::Message { id, text, refusal }) => {
                let base =
                    json!({ "item_id": id, "output_index": output_index, "content_index": 0 });
                let mut done = base.clone();
                let item = if refusal {
                    done["refusal"] = text.as_str().into();
                    out.push(self.event("response.refusal.done", done));
                    refusal_item(&id, &text, "completed")
                } else {
                    done["text"] = text.as_str().into();
                    done["logprobs"] = json!([]);
                    out.push(self.event("response.output_text.done", done));
                    message_item(&id, &text, "completed")
                };
                let mut part = base;
                part["part"] = item["content"][0].clone();
                out.push(self.event("response.content_part.done", part));
                item
            }
            Some(OpenItem::Call {
                id,
                call_id,
                name,
                mut arguments,
                ..
            }) => {
                // A call without arguments streamed none; clients parse them as JSON, and
                // OpenAI sends "{}".
                if arguments.is_empty() {
                    arguments.push_str("{}");
                    out.push(self.event(
                        "response.function_call_arguments.delta",
                        json!({
                        "item_id": id, "output_index": output_index, "delta": arguments }),
                    ));
                }
                out.push(self.event("response.function_call_arguments.done", json!({
                    "item_id": id, "output_index": output_index, "name": name, "arguments": arguments })));
                function_call_item(&id, &call_id, &name, &arguments, "completed")
            }
        };
        out.push(self.event(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": item }),
        ));
        self.output.push(item);
    }

    fn start(&mut self, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.snapshot(Status::InProgress);
        out.push(self.event("response.created", json!({ "response": response })));
        let response = self.snapshot(Status::InProgress);
        out.push(self.event("response.in_progress", json!({ "response": response })));
    }

    fn complete(&mut self, out: &mut Vec<SseEvent>) {
        self.start(out);
        self.close_item(out);
        self.done = true;
        let status = Status::from_finish(self.finish_reason.as_deref());
        let kind = match status {
            Status::Incomplete(_) => "response.incomplete",
            _ => "response.completed",
        };
        let response = self.snapshot(status);
        out.push(self.event(kind, json!({ "response": response })));
    }

    fn snapshot(&self, status: Status) -> Value {
        let usage = (self.saw_usage && status != Status::InProgress).then_some(self.usage);
        response_object(
            &self.req,
            &self.id,
            self.created_at,
            status,
            self.output.clone(),
            usage,
        )
    }

    fn event(&mut self, kind: &str, mut body: Value) -> SseEvent {
        body["type"] = kind.into();
        body["sequence_number"] = self.sequence.into();
        self.sequence += 1;
        SseEvent::named(kind, body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(events: &[SseEvent]) -> Vec<Value> {
        events
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    #[test]
    fn length_is_incomplete_and_failure_is_response_failed() {
        let mut t = ChatToResponsesStream::new(&json!({"model": "m"}));
        let _ = t.on_event(&SseEvent::data(
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"ab"}}]}"#,
        ));
        let _ = t.on_event(&SseEvent::data(
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
        ));
        let v = decode(&t.on_event(&SseEvent::done()));
        let last = v.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], "ab");

        let mut t = ChatToResponsesStream::new(&json!({"model": "m"}));
        let _ = t.on_event(&SseEvent::data(
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}"#,
        ));
        let v = decode(&t.fail("upstream_stream_error", "upstream timed out"));
        assert_eq!(v[0]["type"], "error");
        assert_eq!(v[0]["code"], "upstream_stream_error");
        assert_eq!(v[0]["error"]["message"], "upstream timed out");
        assert_eq!(v[1]["type"], "response.failed");
        assert_eq!(v[1]["response"]["status"], "failed");
        assert_eq!(v[1]["response"]["error"]["message"], "upstream timed out");
        let numbers: Vec<u64> = v
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [numbers[0], numbers[0] + 1], "{v:?}");
        assert!(t.finish().is_empty());
    }

    /// An OpenAI-compatible provider streaming a call without arguments: the Responses
    /// client gets "{}", whole and streamed.
    #[test]
    fn a_call_without_arguments_is_an_empty_object() {
        let mut t = ChatToResponsesStream::new(&json!({"model": "m"}));
        let mut out = Vec::new();
        for chunk in [
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"clock","arguments":""}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ] {
            out.extend(t.on_event(&SseEvent::data(chunk)));
        }
        out.extend(t.on_event(&SseEvent::done()));
        let v = decode(&out);
        let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
        let at = kinds
            .iter()
            .position(|k| *k == "response.function_call_arguments.delta")
            .unwrap();
        assert_eq!(v[at]["delta"], "{}");
        assert_eq!(v[at + 1]["type"], "response.function_call_arguments.done");
        assert_eq!(v[at + 1]["arguments"], "{}");
        assert_eq!(
            v.last().unwrap()["response"]["output"][0]["arguments"],
            "{}"
        );
        let whole = json!({"choices": [{"finish_reason": "tool_calls", "message": {
            "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "clock", "arguments": ""}}]}}]});
        let out = super::super::chat_response_to_responses(&whole, &json!({}));
        assert_eq!(out["output"][0]["arguments"], "{}");
    }

    /// A streamed chat refusal reaches a Responses client as OpenAI streams one: a message
    /// with a `refusal` part and `response.refusal.*` events.
    #[test]
    fn a_streamed_refusal_is_a_refusal_part() {
        let mut t = ChatToResponsesStream::new(&json!({"model": "m"}));
        let mut out = Vec::new();
        for chunk in [
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"refusal":"I cannot "}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"refusal":"help."},"finish_reason":"stop"}]}"#,
        ] {
            out.extend(t.on_event(&SseEvent::data(chunk)));
        }
        out.extend(t.on_event(&SseEvent::done()));
        let v = decode(&out);
        let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.refusal.delta",
                "response.refusal.delta",
                "response.refusal.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(v[3]["part"], json!({"type": "refusal", "refusal": ""}));
        assert_eq!(v[6]["refusal"], "I cannot help.");
        let part = json!({"type": "refusal", "refusal": "I cannot help."});
        assert_eq!(v[7]["part"], part);
        assert_eq!(v[9]["response"]["output"][0]["content"], json!([part]));
    }

    /// DeepSeek's streamed `reasoning_content` reaches a Responses client (Codex CLI) as
    /// OpenAI streams a reasoning summary, before the answer's own items.
    #[test]
    fn streamed_reasoning_is_a_reasoning_item() {
        let mut t = ChatToResponsesStream::new(&json!({"model": "m"}));
        let mut out = Vec::new();
        for chunk in [
            r#"{"id":"d","choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":"Think"}}]}"#,
            r#"{"id":"d","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"ing."}}]}"#,
            r#"{"id":"d","choices":[{"index":0,"delta":{"content":"Done.","reasoning_content":null},"finish_reason":"stop"}]}"#,
        ] {
            out.extend(t.on_event(&SseEvent::data(chunk)));
        }
        out.extend(t.on_event(&SseEvent::done()));
        let v = decode(&out);
        let kinds: Vec<&str> = v.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(v[2]["item"]["type"], "reasoning");
        assert_eq!(v[4]["delta"], "Think");
        assert_eq!(v[6]["text"], "Thinking.");
        let item = &v[8]["item"];
        assert_eq!(
            (&item["summary"], &item["encrypted_content"]),
            (
                &json!([{"type": "summary_text", "text": "Thinking."}]),
                &json!("aicarpool.chat.reasoning_content")
            )
        );
        assert_eq!(v[9]["output_index"], 1);
        let output = &v.last().unwrap()["response"]["output"];
        assert_eq!(output[0]["id"], v[2]["item"]["id"]);
        assert_eq!(output[1]["content"][0]["text"], "Done.");
    }
}
