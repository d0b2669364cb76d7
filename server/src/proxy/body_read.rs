//! Reading a proxied request's body: at most the cap, without a copy when it comes in one
//! frame, and large bodies only with room in `MAX_BODY_MEMORY`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use hyper::body::Body as HttpBody;

/// Why a request body was not read.
pub(super) enum BodyRead {
    /// More than the cap arrived; the body, to drain the rest of.
    TooLarge(Body),
    /// The body failed (it stalled, or the connection broke).
    Failed(axum::Error),
    /// A large body found no room in `MAX_BODY_MEMORY` in time.
    NoRoom,
    /// A large body holds so many JSON values that parsing it would take more than all of
    /// `MAX_BODY_MEMORY`.
    TooManyValues {
        /// The values counted.
        values: usize,
        /// The memory parsing them would take, in MiB.
        mib: usize,
    },
}

/// What parsing (and translating) a JSON value of a request body costs in memory, about: a
/// tree node, its map or array slot and its string. Measured on a body of 120 000 small
/// messages translated for an Anthropic account (about 530 bytes a value; 210 not
/// translated). Bodies made of a few long strings (images, documents) cost little more than
/// their size; bodies of many small values cost this much a value.
pub(super) const VALUE_COST: usize = 512;

/// Where a large body takes room ([`aicarpool::gateway::engine::LARGE_BODY`]): the gateway's
/// semaphore, a permit a KiB.
pub(super) struct Room {
    pub(super) memory: Arc<tokio::sync::Semaphore>,
    /// How long to wait for room.
    pub(super) wait: std::time::Duration,
    /// The body's declared length.
    pub(super) declared: Option<u64>,
    /// All the room there is (`MAX_BODY_MEMORY`), in KiB.
    pub(super) total_kib: usize,
}

/// The permits a body holds.
#[derive(Default)]
struct Held {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    kib: usize,
}

impl Room {
    /// Grows `held` to `kib` KiB, waiting at most `self.wait` for it.
    async fn grow(&self, held: &mut Held, kib: usize) -> Result<(), BodyRead> {
        let Some(more) = kib
            .checked_sub(held.kib)
            .filter(|n| *n > 0)
            .and_then(|n| u32::try_from(n).ok())
        else {
            return Ok(());
        };
        let permit = tokio::time::timeout(self.wait, self.memory.clone().acquire_many_owned(more))
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(BodyRead::NoRoom)?;
        match &mut held.permit {
            Some(p) => p.merge(permit),
            None => held.permit = Some(permit),
        }
        held.kib = kib;
        Ok(())
    }
}

/// Request body bytes with the room they hold: freed when the last clone of the bytes goes
/// (the relay keeps them to the end of a stream).
struct Roomed<T> {
    bytes: T,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Roomed<T> {
    fn as_ref(&self) -> &[u8] {
        self.bytes.as_ref()
    }
}

/// Reads a whole request body of at most `cap` bytes. A body in one frame (the usual case)
/// is returned as it is, without a copy or an allocation. A body of
/// [`aicarpool::gateway::engine::LARGE_BODY`] or more takes room for its size first (its
/// declared length up front, a chunked one as it grows), waiting for bodies in memory to go.
pub(super) async fn read_body(mut body: Body, cap: usize, room: Room) -> Result<Bytes, BodyRead> {
    use aicarpool::gateway::engine::LARGE_BODY;
    use http_body_util::BodyExt as _;
    let cap_kib = cap.div_ceil(1024);
    let mut held = Held::default();
    if let Some(declared) = room.declared
        && declared >= LARGE_BODY as u64
    {
        let kib = usize::try_from(declared.div_ceil(1024)).unwrap_or(usize::MAX);
        room.grow(&mut held, kib.min(cap_kib)).await?;
    }
    let mut first = Bytes::new();
    // From the second frame on, the whole body so far.
    let mut all: Vec<u8> = Vec::new();
    let mut len = 0_usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(BodyRead::Failed)?.into_data() else {
            continue; // trailers
        };
        len += data.len();
        if len > cap {
            return Err(BodyRead::TooLarge(body));
        }
        if len >= LARGE_BODY && len > held.kib * 1024 {
            // A megabyte at a time, not a wait a frame.
            let kib = len.div_ceil(LARGE_BODY) * (LARGE_BODY / 1024);
            room.grow(&mut held, kib.min(cap_kib)).await?;
        }
        if first.is_empty() && all.is_empty() {
            first = data;
        } else {
            if all.is_empty() {
                let expected = len.saturating_add(HttpBody::size_hint(&body).lower() as usize);
                all.reserve(expected.min(cap));
                all.extend_from_slice(&std::mem::take(&mut first));
            }
            all.extend_from_slice(&data);
        }
    }
    if held.permit.is_some() {
        // A large body also takes room for what parsing it will cost: that is a cost a JSON
        // value, and a body of many small values costs many times its size.
        let raw = if all.is_empty() { &first[..] } else { &all[..] };
        let values = json_values(raw);
        let kib = len
            .saturating_add(values.saturating_mul(VALUE_COST))
            .div_ceil(1024);
        if kib > room.total_kib {
            return Err(BodyRead::TooManyValues {
                values,
                mib: kib.div_ceil(1024),
            });
        }
        room.grow(&mut held, kib).await?;
    }
    Ok(match (held.permit, all.is_empty()) {
        (None, true) => first,
        (None, false) => Bytes::from(all),
        (Some(permit), true) => Bytes::from_owner(Roomed {
            bytes: first,
            _permit: permit,
        }),
        (Some(permit), false) => Bytes::from_owner(Roomed {
            bytes: all,
            _permit: permit,
        }),
    })
}

/// About how many values a JSON text holds: one, and one more for each object, array and
/// separator outside strings (`[1,2,3]` counts 4, `{"a":"b,c"}` 2). Counted byte by byte
/// (about a millisecond a MiB), so only for large bodies.
fn json_values(raw: &[u8]) -> usize {
    let mut values = 1;
    let mut in_string = false;
    let mut escaped = false;
    for &b in raw {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' | b',' => values += 1,
                _ => {}
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::json_values;

    #[test]
    fn values_are_counted_outside_strings_only() {
        assert_eq!(json_values(b"[1,2,3]"), 4);
        assert_eq!(json_values(br#"{"a":"b,c{["}"#), 2);
        assert_eq!(json_values(br#"{"a":"x\"],[","b":[{},{}]}"#), 7);
        let messages = r#"{"role":"user","content":"hi"}"#;
        let body = format!(
            r#"{{"model":"m","messages":[{}]}}"#,
            [messages; 100].join(",")
        );
        assert_eq!(json_values(body.as_bytes()), 1 + 3 + 100 * 2 + 99);
    }
}
