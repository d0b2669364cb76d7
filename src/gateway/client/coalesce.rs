//! Wake-ups a task gives itself, absorbed.
//!
//! The upstream connection is driven by the request's own task, so hyper's connection and
//! the code reading its answer signal each other through channels whose wakers are the same
//! task. Each such signal wakes the task while it is being polled; tokio then treats the task
//! as yielding: it goes to the back of the run queue and another worker thread is woken to
//! steal it (a futex call, a thread wake-up, often a move to the other thread). Measured with
//! strace on the benchmark: two such futex calls per proxied request.
//!
//! [`Coalesce`] gives the inner future a waker of its own. A wake that arrives while the
//! inner future is being polled only marks it, and the inner future is polled again at once;
//! a wake at any other time goes to the task's waker as usual.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::Stream;
use futures_util::task::AtomicWaker;

/// Not being polled: wakes go to the task.
const IDLE: u8 = 0;
/// Being polled, no wake yet.
const POLLING: u8 = 1;
/// Being polled and woken meanwhile: poll again.
const WOKEN: u8 = 2;

/// Polls in a row at most before yielding to the scheduler as tokio would (tokio's own
/// cooperative budget, for instance, wakes the task and returns pending).
const MAX_ROUNDS: usize = 32;

struct Signal {
    state: AtomicU8,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            match state {
                POLLING => match self.state.compare_exchange_weak(
                    POLLING,
                    WOKEN,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return,
                    Err(now) => state = now,
                },
                WOKEN => return,
                _ => {
                    self.task.wake();
                    return;
                }
            }
        }
    }
}

/// The shared part of [`Coalesce`] and [`CoalesceStream`].
struct Absorber {
    signal: Arc<Signal>,
    waker: Waker,
}

impl Absorber {
    fn new() -> Absorber {
        let signal = Arc::new(Signal {
            state: AtomicU8::new(IDLE),
            task: AtomicWaker::new(),
        });
        Absorber {
            waker: Waker::from(Arc::clone(&signal)),
            signal,
        }
    }

    /// Polls `poll` with the absorbing waker until it is ready or was not woken meanwhile.
    fn run<T>(
        &self,
        cx: &mut Context<'_>,
        mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.signal.task.register(cx.waker());
        let mut inner = Context::from_waker(&self.waker);
        for _ in 0..MAX_ROUNDS {
            self.signal.state.store(POLLING, Ordering::Release);
            if let Poll::Ready(out) = poll(&mut inner) {
                self.signal.state.store(IDLE, Ordering::Release);
                return Poll::Ready(out);
            }
            if self
                .signal
                .state
                .compare_exchange(POLLING, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Poll::Pending;
            }
            // Woken while polled: go again.
        }
        self.signal.state.store(IDLE, Ordering::Release);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A future whose self-inflicted wake-ups are absorbed (see the module docs).
pub struct Coalesce<F> {
    inner: Pin<Box<F>>,
    absorber: Absorber,
}

impl<F: Future> Coalesce<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Coalesce<F> {
        Coalesce {
            inner: Box::pin(inner),
            absorber: Absorber::new(),
        }
    }
}

impl<F: Future> Future for Coalesce<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.absorber.run(cx, |cx| inner.as_mut().poll(cx))
    }
}

/// A stream whose self-inflicted wake-ups are absorbed (see the module docs).
pub struct CoalesceStream<S> {
    inner: Pin<Box<S>>,
    absorber: Absorber,
}

impl<S: Stream> CoalesceStream<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> CoalesceStream<S> {
        CoalesceStream {
            inner: Box::pin(inner),
            absorber: Absorber::new(),
        }
    }
}

impl<S: Stream> Stream for CoalesceStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.absorber.run(cx, |cx| inner.as_mut().poll_next(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wakes that reach the task.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_during_a_poll_are_absorbed_and_later_ones_forwarded() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let stored: Arc<std::sync::Mutex<Option<Waker>>> = Arc::default();
        let keep = Arc::clone(&stored);
        let mut polls = 0;
        // Wakes itself on its first three polls, then waits for an outside wake.
        let mut fut = Coalesce::new(std::future::poll_fn(move |cx| {
            polls += 1;
            match polls {
                1..=3 => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                4 => {
                    *keep
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(cx.waker().clone());
                    Poll::Pending
                }
                _ => Poll::Ready(polls),
            }
        }));
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 0, "self-wakes stay inside");
        let outside = stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        assert!(outside.is_some());
        if let Some(waker) = outside {
            waker.wake();
        }
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "a later wake reaches the task"
        );
        assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(5));
    }

    #[test]
    fn a_future_that_always_wakes_itself_still_yields() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&task);
        let mut fut = Coalesce::new(std::future::poll_fn(|cx: &mut Context<'_>| {
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }));
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
