//! Reading upstream events: what passes, what is refused and why, per wire format.

use super::*;

/// Reads `data` both ways (from the text, and parsed for a translator); they must agree.
fn both(wire: Wire, data: &str) -> Result<Reading, BadEvent> {
    let ev = SseEvent::data(data);
    let text = read(wire, &ev, false);
    let kept = read(wire, &ev, true);
    match (&text, &kept) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (a.usage, a.terminal, a.usage_only, &a.response_id),
                (b.usage, b.terminal, b.usage_only, &b.response_id),
                "{data}"
            );
            assert!(a.value.is_none());
            assert_eq!(
                b.value.is_some(),
                !data.trim().is_empty() && data != "[DONE]"
            );
        }
        (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "{data}"),
    }
    text
}

/// The providers' own error events end the stream as errors (their text is not relayed);
/// `error: null` in a chunk is no error.
#[test]
fn error_events_are_errors_in_every_wire() {
    for (wire, data) in [
        (
            Wire::Chat,
            r#"{"error":{"message":"Incorrect API key provided: sk-1"}}"#,
        ),
        (Wire::Chat, r#"{"choices":[],"error":"quota"}"#),
        (
            Wire::Messages,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
        (
            Wire::Responses,
            r#"{"type":"error","code":"server_error","message":"x"}"#,
        ),
    ] {
        assert_eq!(both(wire, data).err(), Some(BadEvent::ErrorEvent), "{data}");
    }
    assert!(both(Wire::Chat, r#"{"choices":[],"error":null}"#).is_ok());
    let failed = r#"{"type":"response.failed","response":{"id":"resp_1","error":{"code":"x"}}}"#;
    assert!(both(Wire::Responses, failed).unwrap().terminal);
}

/// A whole answer passed on as it is must be one of its wire: its answer array present
/// (anything else the provider adds passes), and an error object sent with a 200 is named.
#[test]
fn whole_answers_need_their_answer_array() {
    let missing = |wire, text: &str| whole_usage(wire, text.as_bytes()).unwrap().missing;
    assert_eq!(
        missing(Wire::Chat, r#"{"choices":[],"extra":{"content":1}}"#),
        None
    );
    assert_eq!(missing(Wire::Chat, r#"{"foo":1}"#), Some("no choices"));
    assert_eq!(
        missing(Wire::Chat, r#"{"choices":"x"}"#),
        Some("no choices")
    );
    assert_eq!(
        missing(
            Wire::Chat,
            r#"{"error":{"message":"quota exhausted for key sk-1"}}"#
        ),
        Some("an error object instead of an answer")
    );
    assert_eq!(
        missing(Wire::Messages, r#"{"type":"message","content":[]}"#),
        None
    );
    assert_eq!(
        missing(Wire::Messages, r#"{"type":"message"}"#),
        Some("no content")
    );
    assert_eq!(missing(Wire::Responses, r#"{"output":[{"a":[1]}]}"#), None);
    assert_eq!(
        missing(Wire::Responses, r#"{"output":null}"#),
        Some("no output")
    );
    assert_eq!(missing(Wire::CountTokens, r#"{"input_tokens":3}"#), None);
}

/// The response id (what a later `previous_response_id` names) comes from the lifecycle
/// events and from a whole Response; an id of another type is none, not a bad event.
#[test]
fn a_responses_id_is_read_from_lifecycle_events_and_whole_answers() {
    let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}}"#;
    let reading = both(Wire::Responses, created).unwrap();
    assert_eq!(reading.response_id.as_deref(), Some("resp_1"));
    let delta = r#"{"type":"response.output_text.delta","item_id":"msg_1","delta":"hi"}"#;
    assert_eq!(both(Wire::Responses, delta).unwrap().response_id, None);
    let odd = r#"{"type":"response.created","response":{"id":7}}"#;
    assert_eq!(both(Wire::Responses, odd).unwrap().response_id, None);
    let whole = br#"{"id":"resp_\u0032","object":"response","output":[]}"#;
    let whole = whole_usage(Wire::Responses, whole).unwrap();
    assert_eq!(whole.id.as_deref(), Some("resp_2"));
    let odd = br#"{"id":{"a":[1,{"b":null}]},"output":[]}"#;
    assert_eq!(whole_usage(Wire::Responses, odd).unwrap().id, None);
}

/// A whole answer passed on as it is reads the same usage from its text as the tree
/// readers do, and the same refusals.
#[test]
fn whole_answers_read_from_text_as_from_a_tree() {
    let cases = [
        (
            Wire::Chat,
            r#"{"id":"x","choices":[{"message":{"content":"{\"usage\":{}}"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
        ),
        (
            Wire::Chat,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"prompt_cache_hit_tokens":5,"completion_tokens":1}}"#,
        ),
        (Wire::Chat, r#"{"choices":[],"usage":null}"#),
        // Escaped keys are keys too.
        (
            Wire::Chat,
            r#"{"\u0069d":"x","choices":[],"us\u0061ge":{"prompt_tokens":3,"completion_tokens":2}}"#,
        ),
        (Wire::Chat, r#" {"choices":[]} "#),
        (
            Wire::Messages,
            r#"{"type":"message","content":[],"usage":{"input_tokens":4,"output_tokens":9,"cache_read_input_tokens":1,"cache_creation_input_tokens":2}}"#,
        ),
        (
            Wire::Responses,
            r#"{"object":"response","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":6}}"#,
        ),
        (Wire::CountTokens, r#"{"input_tokens":12}"#),
    ];
    for (wire, text) in cases {
        let tree: Value = serde_json::from_str(text).unwrap();
        let expected = Usage::from_wire(wire, &tree).unwrap_or_default();
        assert_eq!(
            whole_usage(wire, text.as_bytes()).map(|w| w.usage),
            Ok(expected),
            "{text}"
        );
    }
    let first = whole_usage(Wire::Chat, cases[0].1.as_bytes())
        .unwrap()
        .usage;
    assert_eq!(
        (
            first.input_tokens,
            first.cache_read_tokens,
            first.output_tokens
        ),
        (10, 2, 3)
    );
    for (text, bad) in [
        (&b" [1]"[..], BadEvent::NotObject),
        (b"\"x\"", BadEvent::NotObject),
        (b"{\"usage\":", BadEvent::NotJson),
        (b"<html>", BadEvent::NotJson),
        (b"{} trailing", BadEvent::NotJson),
        (b"", BadEvent::NotJson),
    ] {
        assert_eq!(whole_usage(Wire::Chat, text), Err(bad));
    }
}

#[test]
fn chat_chunks_must_be_objects_with_an_array_of_choices() {
    let bad = [
        ("{not json", BadEvent::NotJson),
        (r#"{"choices":[]} trailing"#, BadEvent::NotJson),
        (r#"{"choices":"nope"}"#, BadEvent::Shape(Wire::Chat)),
        (r#"{"choices":{"0":{}}}"#, BadEvent::Shape(Wire::Chat)),
        ("null", BadEvent::NotObject),
        ("[1,2]", BadEvent::NotObject),
        (r#""text""#, BadEvent::NotObject),
        ("42", BadEvent::NotObject),
    ];
    for (data, expected) in bad {
        assert_eq!(both(Wire::Chat, data).err(), Some(expected), "{data}");
    }
    assert!(
        !BadEvent::NotJson.message().is_empty()
            && BadEvent::Shape(Wire::Chat).message().contains("choices")
    );
    // Providers' extras pass: unknown fields, `choices: null`, an empty object.
    for data in [
        r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null,"x_new":{"a":[1]}}"#,
        r#"{"choices":null}"#,
        "{}",
    ] {
        let r = both(Wire::Chat, data).unwrap();
        assert!(!r.terminal && !r.usage_only && r.usage.is_none(), "{data}");
    }
    let done = both(Wire::Chat, "[DONE]").unwrap();
    assert!(done.terminal);
    let usage = both(
        Wire::Chat,
        r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}"#,
    )
    .unwrap();
    assert!(usage.usage_only);
    assert_eq!(
        usage.usage,
        Some(Usage {
            input_tokens: 5,
            output_tokens: 3,
            cache_read_tokens: 2,
            cache_write_tokens: 0
        })
    );
    // Usage on a chunk that also carries content is read but the chunk is not usage-only.
    let mixed = both(
        Wire::Chat,
        r#"{"choices":[{"delta":{}}],"usage":{"completion_tokens":1}}"#,
    )
    .unwrap();
    assert!(!mixed.usage_only && mixed.usage.is_some());
}

#[test]
fn anthropic_events_need_a_string_type() {
    for (data, expected) in [
        ("{not json", BadEvent::NotJson),
        (r#"{"foo":1}"#, BadEvent::Shape(Wire::Messages)),
        (r#"{"type":7}"#, BadEvent::Shape(Wire::Messages)),
        (r#"{"type":null}"#, BadEvent::Shape(Wire::Messages)),
        ("null", BadEvent::NotObject),
    ] {
        assert_eq!(both(Wire::Messages, data).err(), Some(expected), "{data}");
    }
    // Pings, new event types and odd extra fields pass.
    for data in [
        r#"{"type": "ping"}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}}"#,
        r#"{"type":"brand_new_event","message":"a string here","usage":null}"#,
    ] {
        let r = both(Wire::Messages, data).unwrap();
        assert!(!r.terminal && r.usage.is_none(), "{data}");
    }
    let start = both(
        Wire::Messages,
        r#"{"type":"message_start","message":{"id":"msg_1","content":[],"usage":{"input_tokens":25,"cache_read_input_tokens":4000,"output_tokens":1}}}"#,
    )
    .unwrap();
    assert_eq!(
        start.usage.map(|u| (u.input_tokens, u.cache_read_tokens)),
        Some((25, 4000))
    );
    let delta = both(
        Wire::Messages,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}"#,
    )
    .unwrap();
    assert_eq!(delta.usage.map(|u| u.output_tokens), Some(42));
    // Escapes in the type still compare as text.
    assert!(
        both(Wire::Messages, r#"{"type":"message\u005fstop"}"#)
            .unwrap()
            .terminal
    );
}

#[test]
fn responses_events_need_a_type_and_only_terminal_ones_report_usage() {
    assert_eq!(
        both(Wire::Responses, r#"{"sequence_number":1}"#).err(),
        Some(BadEvent::Shape(Wire::Responses))
    );
    let usage = r#"{"usage":{"input_tokens":9,"output_tokens":4}}"#;
    let created = both(
        Wire::Responses,
        &format!(r#"{{"type":"response.created","response":{usage}}}"#),
    )
    .unwrap();
    assert!(!created.terminal && created.usage.is_none());
    let completed = both(
        Wire::Responses,
        &format!(
            r#"{{"type":"response.completed","response":{{"output":[{{"type":"message"}}],{}}}}}"#,
            &usage[1..usage.len() - 1]
        ),
    )
    .unwrap();
    assert!(completed.terminal);
    assert_eq!(completed.usage.map(|u| u.output_tokens), Some(4));
    let odd = both(
        Wire::Responses,
        r#"{"type":"response.output_text.delta","response":"not an object","delta":"x"}"#,
    )
    .unwrap();
    assert!(!odd.terminal);
}

#[test]
fn an_event_without_data_is_neither_bad_nor_anything() {
    for wire in [Wire::Chat, Wire::Messages, Wire::Responses] {
        let r = both(wire, " ").unwrap();
        assert!(!r.terminal && r.usage.is_none() && r.value.is_none());
    }
}
