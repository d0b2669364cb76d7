//! A floor under the speed of request bodies. The idle timeout cuts a body that stops; one
//! that trickles a byte a second never stops, and would hold its connection and buffer for as
//! long as the client likes (32 MiB at that pace is a year). As Kestrel does
//! (`MinRequestBodyDataRate`), a body must average [`MIN_BYTES_PER_SEC`] once a grace time has
//! passed; a slower one fails with [`BodyTooSlow`], which the proxy answers 408.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Buf;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// The slowest average a request body may arrive at after the grace time: far below any real
/// uplink (a 2G phone sends several times this).
pub const MIN_BYTES_PER_SEC: u64 = 1024;

/// The error of a body that arrived slower than [`MIN_BYTES_PER_SEC`].
#[derive(Debug)]
pub struct BodyTooSlow {
    /// Bytes received before it was cut.
    pub received: u64,
    /// Time since the body's first poll.
    pub elapsed: Duration,
}

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body arrived at {} bytes in {:.0?}, slower than {MIN_BYTES_PER_SEC} bytes a second",
            self.received, self.elapsed
        )
    }
}

impl std::error::Error for BodyTooSlow {}

/// `inner`, failing once its average rate after `grace` falls under [`MIN_BYTES_PER_SEC`].
/// Checked as frames arrive: a body that sends nothing is the idle timeout's.
pub struct MinRate<B> {
    inner: B,
    grace: Duration,
    started: Option<Instant>,
    received: u64,
}

impl<B> MinRate<B> {
    /// Wraps `inner`; the clock starts at the first poll (when the handler starts reading).
    pub fn new(inner: B, grace: Duration) -> MinRate<B> {
        MinRate {
            inner,
            grace,
            started: None,
            received: 0,
        }
    }
}

impl<B> Body for MinRate<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let started = *this.started.get_or_insert_with(Instant::now);
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            this.received += data.remaining() as u64;
        }
        let elapsed = started.elapsed();
        if elapsed > this.grace && !this.inner.is_end_stream() {
            let floor = (u128::from(MIN_BYTES_PER_SEC) * elapsed.as_millis()) / 1000;
            if u128::from(this.received) < floor {
                return Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    received: this.received,
                    elapsed,
                }))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Bytes;

    fn trickle(
        chunks: usize,
        every: Duration,
    ) -> StreamBody<
        impl futures_util::Stream<Item = Result<Frame<Bytes>, std::convert::Infallible>> + Unpin,
    > {
        let stream = futures_util::stream::unfold(0, move |i| async move {
            if i == chunks {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok(Frame::data(Bytes::from_static(b"x"))), i + 1))
        });
        StreamBody::new(Box::pin(stream))
    }

    #[tokio::test]
    async fn a_trickle_is_cut_after_the_grace_time_and_a_body_within_it_is_not() {
        let every = Duration::from_millis(20);
        let grace = Duration::from_millis(200);
        let body = MinRate::new(trickle(1000, every), grace);
        let err = body.collect().await.expect_err("cut");
        let slow = err.downcast_ref::<BodyTooSlow>().expect("BodyTooSlow");
        // Cut at the first byte past the grace time, long before the body's end.
        assert!(slow.elapsed > grace, "{slow}");
        assert!((5..=20).contains(&slow.received), "{slow}");
        // Within the grace time any pace goes.
        let body = MinRate::new(trickle(3, every), grace);
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 3);
    }
}
