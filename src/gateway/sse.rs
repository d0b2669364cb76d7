//! Server-Sent Events framing: an incremental, bounded parser for upstream bodies and the
//! writer for what the proxy sends back.
//!
//! The parser follows the WHATWG event-stream rules that matter to LLM APIs: any of `\r\n`,
//! `\n` or `\r` ends a line, `:` lines are comments, one space after `field:` is optional,
//! several `data:` lines join with `\n`, a blank line dispatches. `id` and `retry` are ignored.

/// Largest single event the parser buffers by default; past it the event is dropped.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event: its optional `event:` name and its joined `data:` lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, absent for plain `data:` streams such as OpenAI's.
    pub event: Option<String>,
    /// All `data:` lines of the event joined by `\n`.
    pub data: String,
}

impl SseEvent {
    /// An unnamed event carrying `data`, the OpenAI framing.
    pub fn data(data: impl Into<String>) -> Self {
        Self {
            event: None,
            data: data.into(),
        }
    }

    /// A named event carrying `data`, the Anthropic and Responses framing.
    pub fn named(event: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            event: Some(event.into()),
            data: data.into(),
        }
    }

    /// The `data: [DONE]` sentinel that ends an OpenAI chat stream.
    pub fn done() -> Self {
        Self::data("[DONE]")
    }

    /// Whether this is the OpenAI `[DONE]` sentinel.
    pub fn is_done(&self) -> bool {
        self.data.trim() == "[DONE]"
    }

    /// The wire bytes: `event: X\n`, one `data:` line per data line, then a blank line.
    /// Line breaks inside names or data can't break the framing: names lose them and data
    /// is split on every `\r\n`, `\r` and `\n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        if let Some(name) = &self.event {
            out.extend_from_slice(b"event: ");
            out.extend(name.bytes().filter(|b| *b != b'\r' && *b != b'\n'));
            out.push(b'\n');
        }
        let normalised = self.data.replace("\r\n", "\n").replace('\r', "\n");
        for line in normalised.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }
}

/// Incremental parser: feed body chunks as they arrive, get back complete events.
#[derive(Debug)]
pub struct SseParser {
    max_event_bytes: usize,
    line: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The previous chunk ended in `\r`, so a leading `\n` in the next one is its pair.
    after_cr: bool,
    /// Discarding an oversized event until its blank line.
    skipping: bool,
    skipped_line_has_bytes: bool,
    at_stream_start: bool,
    dropped: u64,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default 16 MiB per-event bound.
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that drops any event whose buffered size passes `max_event_bytes`.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            max_event_bytes,
            line: Vec::new(),
            event: None,
            data: String::new(),
            has_data: false,
            after_cr: false,
            skipping: false,
            skipped_line_has_bytes: false,
            at_stream_start: true,
            dropped: 0,
        }
    }

    /// How many events were dropped for exceeding the bound so far. The engine checks this
    /// after each `push` and decides whether an oversized event is fatal for the stream.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Feeds one chunk, returning every event it completed (possibly none).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.feed(chunk, false).0
    }

    /// Like [`push`](Self::push), but stops at an event past the bound: the events before it,
    /// and whether one was cut there (the rest of the chunk is not read). For a relay, to
    /// which a dropped event is a hole in the answer.
    pub fn push_until_oversized(&mut self, chunk: &[u8]) -> (Vec<SseEvent>, bool) {
        self.feed(chunk, true)
    }

    fn feed(&mut self, chunk: &[u8], stop_at_drop: bool) -> (Vec<SseEvent>, bool) {
        let dropped = self.dropped;
        let cut = |p: &Self| stop_at_drop && p.dropped != dropped;
        let mut out = Vec::new();
        let mut rest = chunk;
        if self.after_cr && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        self.after_cr = false;
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(pos) => {
                    self.append(&rest[..pos]);
                    if cut(self) {
                        return (out, true);
                    }
                    let was_cr = rest[pos] == b'\r';
                    let mut next = pos + 1;
                    if was_cr {
                        if rest.get(next) == Some(&b'\n') {
                            next += 1;
                        } else if next == rest.len() {
                            self.after_cr = true;
                        }
                    }
                    self.end_line(&mut out);
                    rest = &rest[next..];
                }
                None => {
                    self.append(rest);
                    rest = &[];
                }
            }
        }
        let oversized = cut(self);
        (out, oversized)
    }

    /// Ends the stream: a last event that lacked its blank line is still dispatched.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() || self.skipped_line_has_bytes {
            self.end_line(&mut out);
        }
        self.skipping = false;
        self.skipped_line_has_bytes = false;
        self.after_cr = false;
        self.end_line(&mut out);
        out.pop()
    }

    fn append(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.skipping {
            self.skipped_line_has_bytes = true;
            return;
        }
        if self.data.len() + self.line.len() + bytes.len() > self.max_event_bytes {
            self.start_skipping();
            self.skipped_line_has_bytes = true;
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn start_skipping(&mut self) {
        self.dropped += 1;
        self.skipping = true;
        self.line = Vec::new();
        self.data = String::new();
        self.has_data = false;
        self.event = None;
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.skipping {
            if !self.skipped_line_has_bytes {
                self.skipping = false;
            }
            self.skipped_line_has_bytes = false;
            return;
        }
        let raw = std::mem::take(&mut self.line);
        let mut line: &[u8] = &raw;
        if self.at_stream_start {
            self.at_stream_start = false;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event = None;
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event = Some(value.into_owned()),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            _ => {}
        }
        // A line just under the bound plus the joined data may still pass it.
        if self.data.len() > self.max_event_bytes {
            self.start_skipping();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_bytewise(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for b in input {
            out.extend(p.push(std::slice::from_ref(b)));
        }
        out.extend(p.finish());
        out
    }

    #[test]
    fn parses_named_events_across_every_split_point() {
        let input = b"event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping\n\ndata:{\"b\":\r\ndata: 2}\r\revent:x\ndata\n\n";
        let expected = vec![
            SseEvent::named("message_start", "{\"a\":1}"),
            SseEvent::data("{\"b\":\n2}"),
            SseEvent::named("x", ""),
        ];
        assert_eq!(feed_bytewise(input), expected);
        for split in 0..input.len() {
            let mut p = SseParser::new();
            let mut got = p.push(&input[..split]);
            got.extend(p.push(&input[split..]));
            got.extend(p.finish());
            assert_eq!(got, expected, "split at {split}");
        }
    }

    #[test]
    fn finish_dispatches_trailing_event_and_strips_bom() {
        let mut p = SseParser::new();
        assert!(p.push(b"\xEF\xBB\xBFdata: [DONE]").is_empty());
        let ev = p.finish().unwrap();
        assert!(ev.is_done());
        assert_eq!(p.finish(), None);
    }

    #[test]
    fn utf8_split_inside_a_character_survives() {
        let text = "data: héllo 世界\n\n".as_bytes();
        let got = feed_bytewise(text);
        assert_eq!(got, vec![SseEvent::data("héllo 世界")]);
    }

    #[test]
    fn oversized_event_is_dropped_and_counted_then_parsing_resumes() {
        let mut p = SseParser::with_max_event_bytes(16);
        let mut got = p.push(b"data: 0123456789");
        got.extend(p.push(b"abcdefghij\ndata: more\n\ndata: ok\n\n"));
        assert_eq!(got, vec![SseEvent::data("ok")]);
        assert_eq!(p.dropped(), 1);
    }

    #[test]
    fn a_relay_can_stop_at_the_oversized_event() {
        let mut p = SseParser::with_max_event_bytes(16);
        assert_eq!(
            p.push_until_oversized(b"data: a\n\ndata: 0123"),
            (vec![SseEvent::data("a")], false)
        );
        // The events after the cut are not returned: they would follow a hole.
        assert_eq!(
            p.push_until_oversized(b"456789abcdefghij\n\ndata: after\n\n"),
            (vec![], true)
        );
        let mut p = SseParser::with_max_event_bytes(16);
        assert_eq!(
            p.push_until_oversized(b"data: b\n\ndata: 0123456789abcdef"),
            (vec![SseEvent::data("b")], true)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut p = SseParser::with_max_event_bytes(64);
        let mut seed = 7u32;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let len = (seed % 40) as usize;
            let chunk: Vec<u8> = (0..len)
                .map(|i| [b'\r', b'\n', b':', b'd', b'a', 0xff, b' '][(seed as usize + i) % 7])
                .collect();
            let _ = p.push(&chunk);
        }
        let _ = p.finish();
    }

    #[test]
    fn writer_round_trips_through_parser() {
        let ev = SseEvent::named("content_block_delta", "line1\nline2\r\nline3");
        assert_eq!(
            String::from_utf8(ev.to_bytes()).unwrap(),
            "event: content_block_delta\ndata: line1\ndata: line2\ndata: line3\n\n"
        );
        let mut p = SseParser::new();
        let back = p.push(&ev.to_bytes());
        assert_eq!(back[0].data, "line1\nline2\nline3");
        assert_eq!(SseEvent::done().to_bytes(), b"data: [DONE]\n\n");
    }
}
