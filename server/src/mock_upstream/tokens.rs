//! What the mock answers and how it counts: one whitespace-separated word is one token, the
//! reply is `mock reply: <last user text>`, and a tool is called when the user asks about the
//! weather (or the request forces a tool), or as scripted: `mock:call NAME {JSON}` in the last
//! user text calls the defined tool `NAME` with those arguments.

use serde_json::Value;

/// The start of every text reply.
const REPLY_PREFIX: &str = "mock reply:";
/// The arguments of the mock's tool calls unless scripted.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"city":"Paris"}"#;
/// A user text with this, then a tool's name and a JSON object, calls that tool with those
/// arguments: `mock:call Read {"file_path": "/tmp/x"}`. Lets a test drive a real client's
/// tool loop (the client runs the tool and sends its result back).
const SCRIPTED_CALL: &str = "mock:call ";

/// Whitespace-separated words in `text`: the mock's token count.
pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Every piece of text in a message, content part or list of them, joined by spaces: plain
/// strings, `text` fields, tool-call arguments and inputs, tool results.
pub(crate) fn text_of(value: &Value) -> String {
    let mut out = String::new();
    collect_text(value, &mut out);
    out
}

fn collect_text(value: &Value, out: &mut String) {
    let mut push = |text: &str| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(text);
    };
    match value {
        Value::String(text) => push(text),
        Value::Array(items) => items.iter().for_each(|item| collect_text(item, out)),
        Value::Object(map) => {
            for key in ["text", "arguments", "output"] {
                if let Some(Value::String(text)) = map.get(key) {
                    push(text);
                }
            }
            if let Some(input @ Value::Object(_)) = map.get("input") {
                push(&input.to_string());
            }
            if let Some(output @ Value::Array(_)) = map.get("output") {
                collect_text(output, out);
            }
            for key in ["content", "function", "tool_calls"] {
                if let Some(inner) = map.get(key) {
                    collect_text(inner, out);
                }
            }
        }
        _ => {}
    }
}

/// What the reply echoes: the results of the tool calls the conversation ends with (given
/// last first, as found walking back), else `last_user`'s text.
pub(crate) fn echoed_text(
    results_last_first: Vec<String>,
    last_user: impl FnOnce() -> String,
) -> String {
    if results_last_first.is_empty() {
        last_user()
    } else {
        let mut results = results_last_first;
        results.reverse();
        results.join(" ")
    }
}

/// Whether `key` appears anywhere in `value` (used to find Anthropic `cache_control`).
pub(crate) fn has_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.contains_key(key) || map.values().any(|v| has_key(v, key)),
        Value::Array(items) => items.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

/// How the request constrains tool use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    /// The model decides (the mock: only when asked about the weather).
    Auto,
    /// Tools must not be called.
    Never,
    /// Some tool must be called.
    Any,
    /// This tool must be called.
    Named(String),
}

/// A request reduced to what the mock's answer depends on, whatever the dialect.
#[derive(Clone, Debug)]
pub(crate) struct Prompt {
    /// System prompt text (Anthropic `system`, OpenAI system/developer messages, Responses
    /// `instructions`).
    pub system: String,
    /// Words in all text of the request: system, messages, tool definitions.
    pub total_words: u64,
    /// Text of the last user message.
    pub last_user_text: String,
    /// The conversation ends with a user turn that is not a tool result.
    pub ends_with_user_text: bool,
    /// Names of the defined tools, in order.
    pub tools: Vec<String>,
    /// Tool choice.
    pub tool_choice: ToolChoice,
    /// The reply's word limit.
    pub max_tokens: Option<u64>,
    /// The request asks for prompt caching (Anthropic `cache_control`, OpenAI
    /// `prompt_cache_key`).
    pub cache_requested: bool,
}

impl Prompt {
    /// Words of `system`, messages and tool definitions; at least 1.
    pub(crate) fn count(system: &str, messages: &[&Value], tools: &[Value]) -> u64 {
        let message_words: u64 = messages.iter().map(|m| words(&text_of(m))).sum();
        let tool_words: u64 = tools.iter().map(|t| words(&t.to_string())).sum();
        (words(system) + message_words + tool_words).max(1)
    }
}

/// What the mock answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A text reply; `truncated` when `max_tokens` cut it.
    Text { text: String, truncated: bool },
    /// A call to `name` with `arguments` (a JSON object, compact).
    ToolCall { name: String, arguments: String },
}

impl Answer {
    /// The answer to `prompt`.
    pub(crate) fn for_prompt(prompt: &Prompt) -> Answer {
        if let Some((name, arguments)) = tool_to_call(prompt) {
            return Answer::ToolCall { name, arguments };
        }
        let limit = prompt.max_tokens.map_or(usize::MAX, |m| m.max(1) as usize);
        let all: Vec<&str> = REPLY_PREFIX
            .split_whitespace()
            .chain(prompt.last_user_text.split_whitespace())
            .collect();
        let truncated = all.len() > limit;
        let text = all[..all.len().min(limit)].join(" ");
        Answer::Text { text, truncated }
    }

    /// Output tokens: the reply's words, or for a tool call the words of its name and
    /// arguments (2).
    pub(crate) fn output_tokens(&self) -> u64 {
        match self {
            Answer::Text { text, .. } => words(text),
            Answer::ToolCall { name, arguments } => words(name) + words(arguments),
        }
    }

    /// The text split into stream deltas, one word each; joined they give the text back.
    pub(crate) fn deltas(text: &str) -> Vec<String> {
        text.split(' ')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_owned()
                } else {
                    format!(" {w}")
                }
            })
            .collect()
    }
}

/// Tool-call arguments in the fragments a stream sends (three, split at character
/// boundaries); joined they give `arguments` back.
pub(crate) fn argument_fragments(arguments: &str) -> Vec<&str> {
    let cut = |n: usize| {
        let mut at = arguments.len() * n / 3;
        while !arguments.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    let (a, b) = (cut(1), cut(2));
    vec![&arguments[..a], &arguments[a..b], &arguments[b..]]
}

fn tool_to_call(prompt: &Prompt) -> Option<(String, String)> {
    let first = prompt.tools.first()?;
    if prompt.tool_choice != ToolChoice::Never
        && prompt.ends_with_user_text
        && let Some(call) = scripted_call(prompt)
    {
        return Some(call);
    }
    let name = match &prompt.tool_choice {
        ToolChoice::Never => None,
        ToolChoice::Any => Some(first.clone()),
        ToolChoice::Named(name) => Some(name.clone()),
        ToolChoice::Auto => (prompt.ends_with_user_text
            && prompt.last_user_text.to_lowercase().contains("weather"))
        .then(|| first.clone()),
    }?;
    Some((name, TOOL_ARGUMENTS.to_owned()))
}

/// `mock:call NAME {JSON}` in the last user text, when `NAME` is a defined tool and the JSON
/// an object (text after it is ignored).
fn scripted_call(prompt: &Prompt) -> Option<(String, String)> {
    let (_, rest) = prompt.last_user_text.split_once(SCRIPTED_CALL)?;
    let (name, json) = rest.trim_start().split_once(char::is_whitespace)?;
    if !prompt.tools.iter().any(|tool| tool == name) {
        return None;
    }
    let arguments = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next()?
        .ok()
        .filter(Value::is_object)?;
    Some((name.to_owned(), arguments.to_string()))
}

/// The answer to `prompt` and its usage; `cache_hit` says whether a system prompt was seen
/// before (and remembers it).
pub(crate) fn answer(prompt: &Prompt, cache_hit: impl FnOnce(&str) -> bool) -> (Answer, Usage) {
    let answer = Answer::for_prompt(prompt);
    let mut usage = Usage {
        input: prompt.total_words,
        output: answer.output_tokens(),
        ..Usage::default()
    };
    let system_words = words(&prompt.system);
    if prompt.cache_requested && system_words > 0 {
        if cache_hit(&prompt.system) {
            usage.cache_read = system_words;
        } else {
            usage.cache_creation = system_words;
        }
    }
    (answer, usage)
}

/// Token usage of one exchange, dialect-neutral.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// All input words, cached ones included.
    pub input: u64,
    /// Output words.
    pub output: u64,
    /// Input words written to the cache (first sight of a system prompt).
    pub cache_creation: u64,
    /// Input words read from the cache (a system prompt seen before).
    pub cache_read: u64,
}

impl Usage {
    /// Input words neither written to nor read from the cache (Anthropic's `input_tokens`).
    pub(crate) fn uncached_input(&self) -> u64 {
        self.input
            .saturating_sub(self.cache_creation + self.cache_read)
    }
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2025-01-31T12:00:00Z`).
pub(crate) fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prompt(text: &str) -> Prompt {
        Prompt {
            system: String::new(),
            total_words: 1,
            last_user_text: text.to_owned(),
            ends_with_user_text: true,
            tools: vec![],
            tool_choice: ToolChoice::Auto,
            max_tokens: None,
            cache_requested: false,
        }
    }

    #[test]
    fn reply_echoes_and_truncates() {
        let mut p = prompt("hello  there world");
        let full = Answer::for_prompt(&p);
        assert_eq!(
            full,
            Answer::Text {
                text: "mock reply: hello there world".into(),
                truncated: false
            }
        );
        p.max_tokens = Some(3);
        let cut = Answer::for_prompt(&p);
        assert_eq!(
            cut,
            Answer::Text {
                text: "mock reply: hello".into(),
                truncated: true
            }
        );
        assert_eq!(cut.output_tokens(), 3);
        assert_eq!(
            Answer::deltas("mock reply: hello").concat(),
            "mock reply: hello"
        );
    }

    #[test]
    fn weather_calls_the_first_tool_unless_tools_are_off() {
        let mut p = prompt("What's the Weather?");
        p.tools = vec!["get_weather".into(), "other".into()];
        assert_eq!(
            Answer::for_prompt(&p),
            Answer::ToolCall {
                name: "get_weather".into(),
                arguments: TOOL_ARGUMENTS.into()
            }
        );
        p.tool_choice = ToolChoice::Never;
        assert!(matches!(Answer::for_prompt(&p), Answer::Text { .. }));
        assert_eq!(argument_fragments(TOOL_ARGUMENTS).concat(), TOOL_ARGUMENTS);
        assert_eq!(argument_fragments("{\"é\":1}").concat(), "{\"é\":1}");
    }

    #[test]
    fn a_scripted_call_names_a_defined_tool_and_its_arguments() {
        let mut p =
            prompt("<reminder>x</reminder> mock:call Read {\"file_path\": \"/tmp/a b\"} please");
        p.tools = vec!["Bash".into(), "Read".into()];
        assert_eq!(
            Answer::for_prompt(&p),
            Answer::ToolCall {
                name: "Read".into(),
                arguments: r#"{"file_path":"/tmp/a b"}"#.into()
            }
        );
        // Not a defined tool, not an object, tools off, or after a tool result: no call.
        for text in ["mock:call Write {}", "mock:call Read [1]", "mock:call Read"] {
            let mut q = p.clone();
            q.last_user_text = text.into();
            assert!(
                matches!(Answer::for_prompt(&q), Answer::Text { .. }),
                "{text}"
            );
        }
        let mut q = p.clone();
        q.tool_choice = ToolChoice::Never;
        assert!(matches!(Answer::for_prompt(&q), Answer::Text { .. }));
        q = p.clone();
        q.ends_with_user_text = false;
        assert!(matches!(Answer::for_prompt(&q), Answer::Text { .. }));
    }

    #[test]
    fn counts_text_everywhere() {
        let msg = json!({"role": "user", "content": [
            {"type": "text", "text": "one two"},
            {"type": "tool_result", "tool_use_id": "x", "content": "three"}
        ]});
        assert_eq!(Prompt::count("sys tem", &[&msg], &[]), 5);
        assert_eq!(Prompt::count("", &[], &[]), 1);
        assert!(has_key(
            &json!({"a": [{"cache_control": {}}]}),
            "cache_control"
        ));
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_738_324_800), "2025-01-31T12:00:00Z");
    }
}
