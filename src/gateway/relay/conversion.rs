//! How upstream stream events become the client's: passed through when both sides speak the
//! same wire format, translated (in one or two stages) when they do not, with the usage read
//! on the way.

use serde_json::{Value, json};

use super::STREAM_ERROR;
use crate::gateway::sse::SseEvent;
use crate::gateway::translate::{
    AnswerShape, ChatToMessagesStream, ChatToResponsesStream, MessagesToChatStream,
    responses_error_event,
};
use crate::gateway::upstream::Wire;
use crate::gateway::upstream_event::{self, BadEvent};
use crate::gateway::usage::Usage;

/// One translation step of a stream.
enum Stage {
    MessagesToChat(Box<MessagesToChatStream>),
    ChatToMessages(Box<ChatToMessagesStream>),
    ChatToResponses(Box<ChatToResponsesStream>),
}

impl Stage {
    fn on_event(&mut self, ev: &SseEvent) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.on_event(ev),
            Self::ChatToMessages(s) => s.on_event(ev),
            Self::ChatToResponses(s) => s.on_event(ev),
        }
    }

    /// An upstream event the relay has already parsed into `v`.
    fn on_parsed(&mut self, ev: &SseEvent, v: &Value) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.on_parsed(ev, v),
            Self::ChatToMessages(s) => s.on_parsed(v),
            Self::ChatToResponses(s) => s.on_parsed(v),
        }
    }

    fn finish(&mut self) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.finish(),
            Self::ChatToMessages(s) => s.finish(),
            Self::ChatToResponses(s) => s.finish(),
        }
    }

    /// The client's error event; `code` is shown where the dialect has a code (chat chunks,
    /// the Responses `error` event; `response.failed` keeps the Responses API's own
    /// `server_error`).
    fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        match self {
            Self::MessagesToChat(s) => s.fail(code, message),
            Self::ChatToMessages(s) => s.fail(message),
            Self::ChatToResponses(s) => s.fail(code, message),
        }
    }

    fn usage(&self) -> Usage {
        match self {
            Self::MessagesToChat(s) => s.usage(),
            Self::ChatToMessages(s) => s.usage(),
            Self::ChatToResponses(s) => s.usage(),
        }
    }
}

/// How upstream events become client events.
pub struct Conversion {
    upstream: Wire,
    pub(super) client: Wire,
    /// Translation steps; empty when both sides speak the same format.
    stages: Vec<Stage>,
    /// Same-format chat stream whose usage chunk the client did not ask for.
    strip_usage_chunk: bool,
    usage: Usage,
    /// Whether the upstream's final count came: a stream cut before it is billed by what it
    /// delivered ([`Relay::billed_usage`]).
    pub(super) final_usage_seen: bool,
    terminal_seen: bool,
    /// A native Responses stream's response id (what a later `previous_response_id` names).
    pub(super) response_id: Option<String>,
    /// A native Responses stream's first lifecycle event (`response.created`), for the
    /// `response.failed` that ends it if the upstream fails.
    created: Option<String>,
    /// The `sequence_number` the next event of a native Responses stream takes.
    next_sequence: u64,
}

impl Conversion {
    /// The conversion from `upstream` to `client` events.
    pub fn new(
        upstream: Wire,
        client: Wire,
        include_usage: bool,
        client_body: &Value,
        model: &str,
    ) -> Conversion {
        let shape = AnswerShape::of_client_body(client_body);
        let stages = match (upstream, client) {
            (Wire::Messages, Wire::Chat) => vec![Stage::MessagesToChat(Box::new(
                MessagesToChatStream::new(model, include_usage).shaped(shape),
            ))],
            (Wire::Chat, Wire::Messages) => vec![Stage::ChatToMessages(Box::new(
                ChatToMessagesStream::new(model),
            ))],
            (Wire::Chat, Wire::Responses) => vec![Stage::ChatToResponses(Box::new(
                ChatToResponsesStream::new(client_body),
            ))],
            (Wire::Messages, Wire::Responses) => vec![
                Stage::MessagesToChat(Box::new(
                    MessagesToChatStream::new(model, true).shaped(shape),
                )),
                Stage::ChatToResponses(Box::new(ChatToResponsesStream::new(client_body))),
            ],
            _ => Vec::new(),
        };
        Conversion {
            upstream,
            client,
            stages,
            strip_usage_chunk: upstream == Wire::Chat && client == Wire::Chat && !include_usage,
            usage: Usage::default(),
            final_usage_seen: false,
            terminal_seen: false,
            response_id: None,
            created: None,
            next_sequence: 0,
        }
    }

    /// The client events for one upstream event, or why it cannot be relayed. The event is
    /// read once ([`upstream_event::read`]); a translated one is parsed once, for the check
    /// and the translator both.
    pub(super) fn on_event(&mut self, ev: SseEvent) -> Result<Vec<SseEvent>, BadEvent> {
        let reading = upstream_event::read(self.upstream, &ev, !self.stages.is_empty())?;
        if reading.terminal {
            self.terminal_seen = true;
        }
        if self.stages.is_empty() && self.upstream == Wire::Responses {
            if self.response_id.is_none() && reading.response_id.is_some() {
                self.response_id = reading.response_id;
                self.created = Some(ev.data.clone());
            }
            self.next_sequence = reading
                .sequence_number
                .map_or(self.next_sequence + 1, |n| n + 1);
        }
        if let Some(u) = reading.usage {
            // Anthropic's `message_start` counts the input and 1 output token, before any.
            self.final_usage_seen |= !(self.upstream == Wire::Messages && is_message_start(&ev));
            // Anthropic reports cumulative counts over several events; the others once.
            self.usage = match self.upstream {
                Wire::Messages | Wire::CountTokens => self.usage.merge(u),
                Wire::Chat | Wire::Responses => u,
            };
        }
        let Some((first, rest)) = self.stages.split_first_mut() else {
            if self.strip_usage_chunk && reading.usage_only {
                return Ok(Vec::new());
            }
            return Ok(vec![ev]);
        };
        let mut events = match &reading.value {
            Some(v) => first.on_parsed(&ev, v),
            None if ev.is_done() => first.on_event(&ev),
            None => Vec::new(),
        };
        for stage in rest {
            events = events.iter().flat_map(|e| stage.on_event(e)).collect();
        }
        Ok(events)
    }

    /// Upstream ended normally.
    pub(super) fn finish(&mut self) -> Vec<SseEvent> {
        if self.stages.is_empty() {
            return if self.terminal_seen {
                Vec::new()
            } else {
                self.fail(
                    STREAM_ERROR,
                    "the upstream ended the stream before it was complete",
                )
            };
        }
        let mut out = Vec::new();
        let n = self.stages.len();
        for i in 0..n {
            let mut events = self.stages[i].finish();
            for stage in &mut self.stages[i + 1..] {
                events = events.iter().flat_map(|e| stage.on_event(e)).collect();
            }
            out.extend(events);
        }
        out
    }

    /// Upstream died or misbehaved: the client's protocol-correct error, with `code` where the
    /// dialect carries one.
    pub(super) fn fail(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        if let Some(last) = self.stages.last_mut() {
            return last.fail(code, message);
        }
        match self.client {
            Wire::Messages | Wire::CountTokens => vec![SseEvent::named(
                "error",
                json!({"type": "error", "error": {"type": "api_error", "message": message}}).to_string(),
            )],
            Wire::Chat => vec![SseEvent::data(
                json!({"error": {"message": message, "type": "server_error", "param": null, "code": code}}).to_string(),
            )],
            Wire::Responses => self.responses_failed(code, message),
        }
    }

    /// How a native Responses stream ends when the upstream fails, as OpenAI ends one: an
    /// `error` event, then `response.failed` with the response as it was created (status
    /// `failed`, the error), each with the next `sequence_number`.
    fn responses_failed(&mut self, code: &str, message: &str) -> Vec<SseEvent> {
        let mut error = responses_error_event(code, message);
        error["type"] = "error".into();
        error["sequence_number"] = self.next_sequence.into();
        let mut out = vec![SseEvent::named("error", error.to_string())];
        let created = self.created.take();
        let response = created
            .and_then(|data| serde_json::from_str::<Value>(&data).ok())
            .map(|mut event| event["response"].take())
            .filter(Value::is_object);
        if let Some(mut response) = response {
            response["status"] = "failed".into();
            response["error"] = json!({ "code": "server_error", "message": message });
            let failed = json!({ "type": "response.failed",
                "sequence_number": self.next_sequence + 1, "response": response });
            out.push(SseEvent::named("response.failed", failed.to_string()));
        }
        self.next_sequence += out.len() as u64;
        out
    }

    /// The usage seen so far: the first stage's view when translating (it reads the upstream).
    pub(super) fn usage(&self) -> Usage {
        match self.stages.first() {
            Some(stage) => stage.usage().merge(self.usage),
            None => self.usage,
        }
    }

    pub(super) fn complete(&self) -> bool {
        self.terminal_seen
    }
}

/// Whether `ev` is an Anthropic stream's `message_start` (named so, or with that type where a
/// compatible provider leaves the name out).
fn is_message_start(ev: &SseEvent) -> bool {
    match ev.event.as_deref() {
        Some(name) => name == "message_start",
        None => ev
            .data
            .trim_start()
            .starts_with(r#"{"type":"message_start""#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion(upstream: Wire, client: Wire) -> Conversion {
        Conversion::new(upstream, client, false, &json!({"model": "m"}), "m")
    }

    fn json_of(ev: &SseEvent) -> Value {
        serde_json::from_str(&ev.data).unwrap()
    }

    #[test]
    fn passthrough_relays_unknown_but_valid_events_untouched_and_refuses_garbage() {
        let mut chat = conversion(Wire::Chat, Wire::Chat);
        let novel = SseEvent::data(r#"{"id":"c","choices":[],"obfuscation":"xyz","usage":null}"#);
        assert_eq!(chat.on_event(novel.clone()), Ok(vec![novel]));
        assert_eq!(
            chat.on_event(SseEvent::data(r#"{"choices":"nope"}"#)),
            Err(BadEvent::Shape(Wire::Chat))
        );
        assert_eq!(
            chat.on_event(SseEvent::data("{not json")),
            Err(BadEvent::NotJson)
        );
        let err = json_of(&chat.fail(BadEvent::CODE, BadEvent::NotJson.message())[0]);
        assert_eq!(err["error"]["code"], "upstream_bad_event");
        assert_eq!(err["error"]["type"], "server_error");

        let mut messages = conversion(Wire::Messages, Wire::Messages);
        for ev in [
            SseEvent::named("ping", r#"{"type": "ping"}"#),
            SseEvent::named("new_thing", r#"{"type":"new_thing","extra":[1,2]}"#),
        ] {
            assert_eq!(messages.on_event(ev.clone()), Ok(vec![ev]));
        }
        assert_eq!(
            messages.on_event(SseEvent::named("message_start", "{not json")),
            Err(BadEvent::NotJson)
        );
        let err = &messages.fail(BadEvent::CODE, "m")[0];
        assert_eq!(err.event.as_deref(), Some("error"));
        assert_eq!(json_of(err)["error"]["type"], "api_error");

        let mut responses = conversion(Wire::Responses, Wire::Responses);
        assert_eq!(
            responses.on_event(SseEvent::named("response.created", r#"{"response":{}}"#)),
            Err(BadEvent::Shape(Wire::Responses))
        );
        assert_eq!(
            json_of(&responses.fail(BadEvent::CODE, "m")[0])["code"],
            "upstream_bad_event"
        );
    }

    /// A native Responses stream the upstream fails ends as OpenAI ends one: `error` (code
    /// and message at the top and as an `error` object), then `response.failed` with the
    /// response as created, numbered on from the upstream's last event.
    #[test]
    fn a_failed_native_responses_stream_ends_in_error_then_response_failed() {
        let mut c = conversion(Wire::Responses, Wire::Responses);
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","model":"gpt-4o","status":"in_progress","output":[]}}"#;
        let delta = r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"m","output_index":0,"content_index":0,"delta":"hi"}"#;
        c.on_event(SseEvent::named("response.created", created))
            .unwrap();
        c.on_event(SseEvent::named("response.output_text.delta", delta))
            .unwrap();
        assert_eq!(c.response_id.as_deref(), Some("resp_1"));
        let out = c.fail(
            STREAM_ERROR,
            "the connection to the upstream was lost mid-stream",
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].event.as_deref(), Some("error"));
        let error = json_of(&out[0]);
        assert_eq!(error["type"], "error");
        assert_eq!(error["sequence_number"], 5);
        assert_eq!(error["code"], STREAM_ERROR);
        assert_eq!(error["error"]["code"], STREAM_ERROR);
        assert!(error["error"]["message"].as_str().unwrap().contains("lost"));
        assert_eq!(out[1].event.as_deref(), Some("response.failed"));
        let failed = json_of(&out[1]);
        assert_eq!(failed["sequence_number"], 6);
        assert_eq!(failed["response"]["id"], "resp_1");
        assert_eq!(failed["response"]["model"], "gpt-4o");
        assert_eq!(failed["response"]["status"], "failed");
        assert_eq!(failed["response"]["error"]["code"], "server_error");

        // A provider without sequence numbers: they count the events relayed.
        let mut c = conversion(Wire::Responses, Wire::Responses);
        let created = r#"{"type":"response.created","response":{"id":"resp_2"}}"#;
        c.on_event(SseEvent::named("response.created", created))
            .unwrap();
        let out = c.fail(STREAM_ERROR, "cut");
        assert_eq!(json_of(&out[0])["sequence_number"], 1);
        assert_eq!(json_of(&out[1])["sequence_number"], 2);
    }

    #[test]
    fn translated_streams_refuse_garbage_and_end_in_the_clients_error() {
        // Anthropic -> chat: the error chunk carries the code, a cut the same as a bad event.
        let mut to_chat = conversion(Wire::Messages, Wire::Chat);
        let start = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;
        let out = to_chat
            .on_event(SseEvent::named("message_start", start))
            .unwrap();
        assert_eq!(json_of(&out[0])["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(to_chat.usage().input_tokens, 3);
        assert_eq!(
            to_chat.on_event(SseEvent::named("content_block_delta", "{not json")),
            Err(BadEvent::NotJson)
        );
        let err = json_of(&to_chat.fail(STREAM_ERROR, "cut")[0]);
        assert_eq!(err["error"]["code"], "upstream_stream_error");
        assert!(!to_chat.complete());

        // Chat -> Anthropic.
        let mut to_messages = conversion(Wire::Chat, Wire::Messages);
        assert_eq!(
            to_messages.on_event(SseEvent::data(r#"{"choices":"nope"}"#)),
            Err(BadEvent::Shape(Wire::Chat))
        );
        let err = &to_messages.fail(BadEvent::CODE, "bad")[0];
        assert_eq!(err.event.as_deref(), Some("error"));

        // Anthropic -> Responses: both stages, and `response.failed` at the end.
        let mut to_responses = conversion(Wire::Messages, Wire::Responses);
        assert!(
            !to_responses
                .on_event(SseEvent::named("message_start", start))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            to_responses.on_event(SseEvent::named("message_delta", "null")),
            Err(BadEvent::NotObject)
        );
        let out = to_responses.fail(BadEvent::CODE, "bad");
        let error = json_of(&out[0]);
        assert_eq!(out[0].event.as_deref(), Some("error"));
        assert_eq!(error["code"], "upstream_bad_event");
        let failed = json_of(&out[1]);
        assert_eq!(failed["type"], "response.failed");
        assert_eq!(failed["response"]["error"]["message"], "bad");
        assert_eq!(
            failed["sequence_number"],
            error["sequence_number"].as_u64().unwrap() + 1
        );

        // A chat upstream's `[DONE]` still ends a translated stream.
        let mut done = conversion(Wire::Chat, Wire::Messages);
        let out = done.on_event(SseEvent::done()).unwrap();
        assert!(done.complete());
        assert_eq!(out.last().unwrap().event.as_deref(), Some("message_stop"));
    }

    #[test]
    fn only_the_final_count_of_a_stream_is_taken_for_its_output() {
        let start = r#"{"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}}"#;
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#;
        for client in [Wire::Messages, Wire::Chat] {
            let mut c = conversion(Wire::Messages, client);
            c.on_event(SseEvent::named("message_start", start)).unwrap();
            assert!(!c.final_usage_seen, "message_start's 1 is a placeholder");
            c.on_event(SseEvent::named("message_delta", delta)).unwrap();
            assert!(c.final_usage_seen);
            assert_eq!(c.usage().output_tokens, 42);
        }
        // Unnamed, as some compatible providers send it.
        let mut c = conversion(Wire::Messages, Wire::Messages);
        c.on_event(SseEvent::data(start)).unwrap();
        assert!(!c.final_usage_seen);

        let mut chat = conversion(Wire::Chat, Wire::Chat);
        chat.on_event(SseEvent::data(
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
        ))
        .unwrap();
        assert!(!chat.final_usage_seen);
        chat.on_event(SseEvent::data(
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":7}}"#,
        ))
        .unwrap();
        assert!(chat.final_usage_seen);
    }
}
