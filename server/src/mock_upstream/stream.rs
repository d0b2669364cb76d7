//! Response bodies: whole, or sent piece by piece from a task so that stream faults (delays
//! between events, a hold after the first event, a cut mid-stream) happen on the wire.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Frame};
use serde_json::Value;
use tokio::sync::mpsc;

use super::faults::Effects;
use super::state::{InFlight, Shared};

/// The body of every mock response.
pub(crate) type MockBody = BoxBody<Bytes, io::Error>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> MockBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// One piece of a body sent piece by piece.
#[derive(Clone, Debug)]
pub(crate) enum Piece {
    /// An opening event (`message_start`, `response.created`, the role chunk…).
    Head(Bytes),
    /// A content delta; `drop_mid_stream_after` counts these.
    Delta(Bytes),
    /// A closing event; a cut stream never sends the first of these.
    Tail(Bytes),
}

impl Piece {
    fn bytes(&self) -> &Bytes {
        match self {
            Piece::Head(b) | Piece::Delta(b) | Piece::Tail(b) => b,
        }
    }
}

/// A server-sent event: `event: NAME\ndata: JSON\n\n`, or only the data line without a name.
pub(crate) fn sse(event: Option<&str>, data: &Value) -> Bytes {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n").into(),
        None => format!("data: {data}\n\n").into(),
    }
}

/// A body sent piece by piece by a task, shaped by the stream faults in `effects`. The
/// request stays in flight until the task ends.
pub(crate) fn shaped(
    shared: Arc<Shared>,
    pieces: Vec<Piece>,
    effects: &Effects,
    guard: InFlight,
) -> MockBody {
    let (tx, rx) = mpsc::channel(4);
    let effects = effects.clone();
    tokio::spawn(async move {
        let _guard = guard;
        // Subscribed before the first piece goes out, so a release sent as soon as the client
        // sees it is not missed.
        let release = effects.hold.then(|| shared.wait_for_release());
        let mut release = release.map(Box::pin);
        let mut deltas = 0u32;
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0
                && let Some(delay) = effects.chunk_delay
            {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = tx.closed() => return,
                }
            }
            if let Some(limit) = effects.drop_after
                && deltas >= limit
                && !matches!(piece, Piece::Head(_))
            {
                // hyper drops what it has not written yet when the body fails, so let it take
                // and flush every piece sent so far first.
                while tx.capacity() < tx.max_capacity() && !tx.is_closed() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                let cut = io::Error::new(io::ErrorKind::ConnectionAborted, "mock: cut mid-stream");
                let _ = tx.send(Err(cut)).await;
                return;
            }
            if tx
                .send(Ok(Frame::data(piece.bytes().clone())))
                .await
                .is_err()
            {
                return;
            }
            if matches!(piece, Piece::Delta(_)) {
                deltas += 1;
            }
            if let Some(wait) = release.take() {
                shared.held().fetch_add(1, Ordering::SeqCst);
                tokio::select! {
                    () = wait => {}
                    () = tx.closed() => {}
                }
                shared.held().fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
    ChannelBody { rx }.boxed()
}

/// A body fed by a channel; an `Err` item makes hyper cut the connection.
struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, io::Error>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx)
    }
}
