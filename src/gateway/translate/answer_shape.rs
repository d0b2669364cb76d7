//! The shape a chat client expects its answer in when an Anthropic account serves it: JSON
//! text for `response_format` (served through the forced `json_response` tool), or the legacy
//! `function_call` for clients that sent `functions`. Decided once from the client's body and
//! applied to the whole answer or to each stream event.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Value, json};

use super::messages_response_to_chat;

/// The forced tool that carries a structured answer on Anthropic accounts.
pub const JSON_TOOL: &str = "json_response";

/// How the answer is reshaped for the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerShape {
    /// The client asked for JSON (`response_format`, or the Responses API's `text.format`):
    /// the `json_response` tool's input is the message content.
    pub json: bool,
    /// The client sent legacy `functions`: a tool call is `message.function_call`.
    pub legacy_functions: bool,
}

impl AnswerShape {
    /// The shape asked for by a client's chat or Responses body. The body was checked when
    /// its request was translated, so only the kinds are read here.
    pub fn of_client_body(body: &Value) -> AnswerShape {
        let format = body
            .pointer("/response_format/type")
            .or_else(|| body.pointer("/text/format/type"))
            .and_then(Value::as_str);
        AnswerShape {
            json: matches!(format, Some("json_object" | "json_schema")),
            legacy_functions: body
                .get("functions")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty()),
        }
    }

    /// Whether any reshaping happens.
    pub fn is_plain(self) -> bool {
        self == AnswerShape::default()
    }

    /// An Anthropic message whose `json_response` tool call became a text block (and whose
    /// `tool_use` stop became `end_turn` when no other tool was called).
    fn anthropic_message<'a>(self, resp: &'a Value) -> Cow<'a, Value> {
        let blocks = resp.get("content").and_then(Value::as_array);
        if !self.json || !blocks.is_some_and(|b| b.iter().any(is_json_tool)) {
            return Cow::Borrowed(resp);
        }
        let mut out = resp.clone();
        let mut other_tools = false;
        if let Some(blocks) = out.get_mut("content").and_then(Value::as_array_mut) {
            for block in blocks.iter_mut() {
                if is_json_tool(block) {
                    let text = serde_json::to_string(&block["input"]).unwrap_or_default();
                    *block = json!({ "type": "text", "text": text });
                } else if block["type"] == "tool_use" {
                    other_tools = true;
                }
            }
        }
        if !other_tools && out["stop_reason"] == "tool_use" {
            out["stop_reason"] = "end_turn".into();
        }
        Cow::Owned(out)
    }

    /// A chat completion's tool call as the legacy `function_call` (the first call only:
    /// legacy clients get one).
    fn legacy_chat(self, mut chat: Value) -> Value {
        if !self.legacy_functions {
            return chat;
        }
        let choice = &mut chat["choices"][0];
        let Some(message) = choice.get_mut("message").and_then(Value::as_object_mut) else {
            return chat;
        };
        if let Some(Value::Array(calls)) = message.remove("tool_calls")
            && let Some(call) = calls.into_iter().next()
        {
            message.insert("function_call".into(), call["function"].clone());
        }
        if choice["finish_reason"] == "tool_calls" {
            choice["finish_reason"] = "function_call".into();
        }
        chat
    }

    /// A chat `finish_reason` as this client expects it.
    pub(crate) fn finish_reason(self, reason: &'static str) -> &'static str {
        if self.legacy_functions && reason == "tool_calls" {
            "function_call"
        } else {
            reason
        }
    }
}

fn is_json_tool(block: &Value) -> bool {
    block["type"] == "tool_use" && block["name"] == JSON_TOOL
}

/// An Anthropic message as a chat completion in the client's `shape`.
pub fn messages_response_to_chat_shaped(resp: &Value, model: &str, shape: AnswerShape) -> Value {
    let resp = shape.anthropic_message(resp);
    shape.legacy_chat(messages_response_to_chat(&resp, model))
}

/// Rewrites Anthropic stream events so the `json_response` tool streams as a text block:
/// its start becomes a text block start, its `input_json_delta` fragments text deltas, and a
/// `tool_use` stop `end_turn` when no other tool was called.
#[derive(Debug, Default)]
pub(crate) struct JsonToolStream {
    /// Content-block indexes of `json_response` calls.
    blocks: HashSet<u64>,
    /// Those of them that have streamed no input text yet.
    silent: HashSet<u64>,
    other_tools: bool,
}

impl JsonToolStream {
    /// The event as the chat translator should read it.
    pub(crate) fn rewrite<'a>(&mut self, v: &'a Value) -> Cow<'a, Value> {
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match v["type"].as_str() {
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => {
                if v["content_block"]["name"] != JSON_TOOL {
                    self.other_tools = true;
                    return Cow::Borrowed(v);
                }
                self.blocks.insert(index);
                self.silent.insert(index);
                let mut out = v.clone();
                out["content_block"] = json!({ "type": "text", "text": "" });
                Cow::Owned(out)
            }
            Some("content_block_delta")
                if self.blocks.contains(&index) && v["delta"]["type"] == "input_json_delta" =>
            {
                if v["delta"]["partial_json"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
                {
                    self.silent.remove(&index);
                }
                let mut out = v.clone();
                out["delta"] = json!({ "type": "text_delta", "text": v["delta"]["partial_json"] });
                Cow::Owned(out)
            }
            // An input streamed as nothing (or empty fragments) is `{}`, as the whole answer
            // has it: the client parses the content as JSON. The block's stop carries it.
            Some("content_block_stop") if self.silent.remove(&index) => Cow::Owned(json!({
                "type": "content_block_delta", "index": index,
                "delta": { "type": "text_delta", "text": "{}" },
            })),
            Some("message_delta")
                if !self.other_tools
                    && !self.blocks.is_empty()
                    && v["delta"]["stop_reason"] == "tool_use" =>
            {
                let mut out = v.clone();
                out["delta"]["stop_reason"] = "end_turn".into();
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_read_from_chat_and_responses_bodies() {
        let of = AnswerShape::of_client_body;
        assert!(of(&json!({"response_format": {"type": "json_object"}})).json);
        assert!(of(&json!({"response_format": {"type": "json_schema"}})).json);
        assert!(of(&json!({"text": {"format": {"type": "json_schema"}}})).json);
        assert!(of(&json!({"response_format": {"type": "text"}})).is_plain());
        assert!(of(&json!({"functions": []})).is_plain());
        assert!(of(&json!({"functions": [{"name": "f"}]})).legacy_functions);
    }

    #[test]
    fn json_tool_answer_becomes_content_and_stops() {
        let resp = json!({"id": "msg_1", "type": "message", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "json_response",
             "input": {"city": "Paris", "n": 2}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}});
        let shape = AnswerShape {
            json: true,
            ..AnswerShape::default()
        };
        let out = messages_response_to_chat_shaped(&resp, "m", shape);
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(choice["message"]["content"], "{\"city\":\"Paris\",\"n\":2}");
        assert!(choice["message"].get("tool_calls").is_none());
        // Without the shape the same answer is a tool call.
        let plain = messages_response_to_chat_shaped(&resp, "m", AnswerShape::default());
        assert_eq!(plain["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn legacy_clients_get_one_function_call() {
        let resp = json!({"id": "msg_1", "type": "message", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "clock", "input": {}}],
            "stop_reason": "tool_use"});
        let shape = AnswerShape {
            legacy_functions: true,
            ..AnswerShape::default()
        };
        let out = messages_response_to_chat_shaped(&resp, "m", shape);
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "function_call");
        assert_eq!(
            choice["message"]["function_call"],
            json!({"name": "weather", "arguments": "{\"city\":\"Paris\"}"})
        );
        assert!(choice["message"].get("tool_calls").is_none());
        assert!(choice["message"]["content"].is_null());
    }

    #[test]
    fn legacy_stream_gets_function_call_deltas() {
        use super::super::MessagesToChatStream;
        use super::super::messages_to_chat_stream::tests::{
            ANTHROPIC_STREAM, parse_in_irregular_chunks,
        };
        let shape = AnswerShape {
            legacy_functions: true,
            ..AnswerShape::default()
        };
        let mut t = MessagesToChatStream::new("m", false).shaped(shape);
        let mut chunks = Vec::new();
        for ev in parse_in_irregular_chunks(ANTHROPIC_STREAM) {
            chunks.extend(t.on_event(&ev));
        }
        chunks.extend(t.finish());
        let chunks: Vec<Value> = chunks
            .iter()
            .filter(|e| !e.is_done())
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        assert!(
            chunks
                .iter()
                .all(|c| c["choices"][0]["delta"].get("tool_calls").is_none())
        );
        let calls: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"].get("function_call"))
            .collect();
        assert_eq!(calls[0], &json!({"name": "get_weather", "arguments": ""}));
        let arguments: String = calls[1..]
            .iter()
            .map(|c| c["arguments"].as_str().unwrap())
            .collect();
        assert_eq!(arguments, "{\"location\": \"San Francisco, CA\"}");
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "function_call"
        );
    }

    #[test]
    fn json_tool_stream_events_become_text_events() {
        let mut s = JsonToolStream::default();
        let start = json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "json_response", "input": {}}});
        assert_eq!(
            s.rewrite(&start)["content_block"],
            json!({"type": "text", "text": ""})
        );
        let delta = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}});
        assert_eq!(
            s.rewrite(&delta)["delta"],
            json!({"type": "text_delta", "text": "{\"a\":"})
        );
        let block_stop = json!({"type": "content_block_stop", "index": 0});
        assert!(matches!(s.rewrite(&block_stop), Cow::Borrowed(_)));
        let stop = json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}});
        assert_eq!(s.rewrite(&stop)["delta"]["stop_reason"], "end_turn");
        // An input that streamed nothing but an empty fragment is the empty object.
        let mut s = JsonToolStream::default();
        s.rewrite(&start);
        let empty = json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": ""}});
        assert_eq!(s.rewrite(&empty)["delta"]["text"], "");
        assert_eq!(
            s.rewrite(&block_stop).as_ref(),
            &json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "{}"}})
        );
        // Another tool's events pass untouched, and its stop stays a tool stop.
        let mut s = JsonToolStream::default();
        let other = json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "u", "name": "weather", "input": {}}});
        assert!(matches!(s.rewrite(&other), Cow::Borrowed(_)));
        assert!(matches!(s.rewrite(&stop), Cow::Borrowed(_)));
    }
}
