//! Failed-login throttling, per account and per client address, in memory.
//!
//! Each key keeps the times of its recent failures; once a key has `max` failures inside the
//! window, attempts are refused until the oldest one leaves the window. Several nodes each
//! count their own failures (a later store can share them through Redis).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys tracked at most; past this the oldest-touched half is dropped, so a flood of
/// addresses cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// A sliding-window failure counter.
#[derive(Debug)]
pub struct FailureLimiter {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureLimiter {
    /// Allows `max` failures per key within `window`.
    pub fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` when the key is blocked right now.
    pub fn blocked_for(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().ok()?;
        let times = map.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() >= self.max {
            times
                .front()
                .map(|oldest| self.window.saturating_sub(now.duration_since(*oldest)))
        } else {
            None
        }
    }

    /// Records a failure.
    pub fn record_failure(&self, key: &str) {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let times = map.entry(key.to_owned()).or_default();
        times.push_back(now);
        while times.len() > self.max {
            times.pop_front();
        }
    }

    /// Forgets a key's failures (after a successful login).
    pub fn clear(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_the_window_passes() {
        let limiter = FailureLimiter::new(3, Duration::from_millis(200));
        for _ in 0..3 {
            assert!(limiter.blocked_for("a").is_none());
            limiter.record_failure("a");
        }
        let wait = limiter.blocked_for("a").unwrap();
        assert!(wait <= Duration::from_millis(200) && wait > Duration::ZERO);
        assert!(limiter.blocked_for("b").is_none(), "keys are independent");
        std::thread::sleep(Duration::from_millis(220));
        assert!(limiter.blocked_for("a").is_none());
        limiter.record_failure("a");
        limiter.clear("a");
        assert!(limiter.blocked_for("a").is_none());
    }
}
