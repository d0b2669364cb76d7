//! Account health: a circuit breaker per account (consecutive failures open it for a while,
//! then exactly one probe request half-opens it), rate-limit cooldowns until the time the
//! provider gave, and accounts taken out because their provider refused the key. When every
//! account a request could use is out for an open circuit, one probe at a time may go as a last
//! resort, at most one per [`HealthPolicy::last_resort_gap`], so a group whose only accounts
//! failed in a burst is back as soon as they are, not when the open time ends. The rules
//! live here as pure functions on [`HealthState`]; the shared store applies them atomically
//! (in memory, or in Redis with a compare-and-set script) so every node agrees.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Tuning of the circuit breaker.
#[derive(Clone, Copy, Debug)]
pub struct HealthPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open the first time; doubled each time a probe fails.
    pub open_for: Duration,
    /// The longest the circuit stays open.
    pub open_max: Duration,
    /// How long a claimed probe keeps others away before another may probe.
    pub probe_timeout: Duration,
    /// Cooldown after a 429 whose answer named no reset time.
    pub default_cooldown: Duration,
    /// While nothing else can serve a request, the least time between last-resort probes of
    /// an account whose circuit is open.
    pub last_resort_gap: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            open_max: Duration::from_secs(300),
            probe_timeout: Duration::from_secs(60),
            default_cooldown: Duration::from_secs(5),
            last_resort_gap: Duration::from_secs(1),
        }
    }
}

/// The shared health of one account. Times are ms since the epoch; 0 means unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthState {
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// How many times in a row the circuit opened (backoff exponent).
    pub opens: u32,
    /// The circuit is open until then; past it, one probe may go.
    pub open_until: i64,
    /// A probe claimed until then; while the circuit is open, the earliest time for a
    /// last-resort probe.
    pub probe_until: i64,
    /// Rate-limited until then.
    pub cooldown_until: i64,
    /// When the provider refused the account's key (it stays out until the account changes).
    pub auth_failed_at: i64,
}

/// Something that happened to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthEvent {
    /// A request succeeded.
    Success,
    /// A server-side failure: 5xx, timeout, reset, refused connection, bad stream.
    Failure,
    /// 429 until the given time (ms), or the default cooldown when `None`.
    RateLimited(Option<i64>),
    /// 401 / 403 from the provider.
    AuthFailed,
    /// This node claims the half-open probe.
    ProbeClaimed,
    /// A claimed probe ended without telling anything about the account (the client left, or
    /// the request itself was refused): the next request may probe.
    ProbeReleased,
}

/// Whether an account may take a request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Healthy.
    Available,
    /// The circuit's open time is over: the first to claim the probe may send one request.
    ProbeDue,
    /// Out, and why.
    Out(OutReason),
}

/// Why an account is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum OutReason {
    /// The circuit is open until then.
    CircuitOpen {
        /// Until (ms).
        until: i64,
    },
    /// Another request is probing it.
    Probing {
        /// Until (ms).
        until: i64,
    },
    /// Rate-limited until then.
    Cooldown {
        /// Until (ms).
        until: i64,
    },
    /// The provider refused the key; an admin must fix the account.
    AuthFailed {
        /// Since (ms).
        since: i64,
    },
}

impl OutReason {
    /// Why the account is out, for the client's 503 (seconds counted from `now`, ms).
    pub fn words(&self, now: i64) -> String {
        let secs = |until: i64| ((until - now).max(0) + 999) / 1000;
        match self {
            OutReason::CircuitOpen { until } => {
                format!(
                    "circuit open after failures, next try in {} s",
                    secs(*until)
                )
            }
            OutReason::Probing { .. } => "being probed after failures".to_owned(),
            OutReason::Cooldown { until } => format!("rate-limited for {} s more", secs(*until)),
            OutReason::AuthFailed { .. } => "its provider refused its key".to_owned(),
        }
    }

    /// The outcome recorded in the usage record's attempt log.
    pub fn class(&self) -> &'static str {
        match self {
            OutReason::CircuitOpen { .. } => "skipped_circuit_open",
            OutReason::Probing { .. } => "skipped_probing",
            OutReason::Cooldown { .. } => "skipped_cooldown",
            OutReason::AuthFailed { .. } => "skipped_auth_failed",
        }
    }
}

impl HealthState {
    /// Whether the account may take a request at `now`.
    pub fn availability(&self, now: i64) -> Availability {
        if self.auth_failed_at > 0 {
            return Availability::Out(OutReason::AuthFailed {
                since: self.auth_failed_at,
            });
        }
        if self.cooldown_until > now {
            return Availability::Out(OutReason::Cooldown {
                until: self.cooldown_until,
            });
        }
        if self.open_until > now {
            return Availability::Out(OutReason::CircuitOpen {
                until: self.open_until,
            });
        }
        if self.open_until > 0 {
            if self.probe_until > now {
                return Availability::Out(OutReason::Probing {
                    until: self.probe_until,
                });
            }
            return Availability::ProbeDue;
        }
        Availability::Available
    }

    /// For an account out only because its circuit is open (no cooldown, key not refused):
    /// whether a last-resort probe may go now (`ProbeDue`), or from when. `None` for others.
    pub fn last_resort(&self, now: i64) -> Option<Availability> {
        if self.auth_failed_at > 0 || self.cooldown_until > now || self.open_until <= now {
            return None;
        }
        Some(if self.probe_until > now {
            Availability::Out(OutReason::CircuitOpen {
                until: self.probe_until,
            })
        } else {
            Availability::ProbeDue
        })
    }

    /// The circuit's state in words: `closed`, `open` or `half_open`.
    pub fn circuit(&self, now: i64) -> &'static str {
        match self.availability(now) {
            Availability::Out(OutReason::CircuitOpen { .. }) => "open",
            Availability::ProbeDue | Availability::Out(OutReason::Probing { .. }) => "half_open",
            _ if self.open_until > 0 => "half_open",
            _ => "closed",
        }
    }

    /// The state after `event` at `now`.
    #[must_use]
    pub fn apply(self, event: HealthEvent, now: i64, policy: &HealthPolicy) -> HealthState {
        let mut s = self;
        match event {
            HealthEvent::Success => {
                s.consecutive_failures = 0;
                s.opens = 0;
                s.open_until = 0;
                s.probe_until = 0;
            }
            HealthEvent::Failure => {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                let half_open = s.open_until > 0 && now >= s.open_until;
                if half_open
                    || (s.open_until == 0 && s.consecutive_failures >= policy.failure_threshold)
                {
                    s.opens = s.opens.saturating_add(1);
                    let factor = 1u32 << (s.opens - 1).min(16);
                    let open_for = policy.open_for.saturating_mul(factor).min(policy.open_max);
                    s.open_until = now + millis(open_for);
                    s.probe_until = (now + millis(policy.last_resort_gap)).min(s.open_until);
                } else if s.open_until > now {
                    // A last-resort probe failed (or a request sent before the circuit opened):
                    // the next one waits the gap. The open time stays as it was.
                    s.probe_until = (now + millis(policy.last_resort_gap)).min(s.open_until);
                }
            }
            HealthEvent::RateLimited(until) => {
                let until = until.unwrap_or(now + millis(policy.default_cooldown));
                s.cooldown_until = s.cooldown_until.max(until);
            }
            HealthEvent::AuthFailed => {
                if s.auth_failed_at == 0 {
                    s.auth_failed_at = now;
                }
            }
            HealthEvent::ProbeClaimed => {
                s.probe_until = now + millis(policy.probe_timeout);
            }
            HealthEvent::ProbeReleased => {
                if s.probe_until > now {
                    s.probe_until = 0;
                }
            }
        }
        s
    }

    /// The compact form stored in Redis.
    pub fn encode(&self) -> String {
        format!(
            "{},{},{},{},{},{}",
            self.consecutive_failures,
            self.opens,
            self.open_until,
            self.probe_until,
            self.cooldown_until,
            self.auth_failed_at
        )
    }

    /// Reads [`HealthState::encode`]'s form; anything else is a fresh state.
    pub fn decode(text: &str) -> HealthState {
        let parts: Vec<i64> = text.split(',').filter_map(|p| p.parse().ok()).collect();
        match parts.as_slice() {
            [f, o, ou, pu, cu, af] => HealthState {
                consecutive_failures: u32::try_from(*f).unwrap_or(0),
                opens: u32::try_from(*o).unwrap_or(0),
                open_until: *ou,
                probe_until: *pu,
                cooldown_until: *cu,
                auth_failed_at: *af,
            },
            _ => HealthState::default(),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: HealthPolicy = HealthPolicy {
        failure_threshold: 3,
        open_for: Duration::from_secs(10),
        open_max: Duration::from_secs(25),
        probe_timeout: Duration::from_secs(5),
        default_cooldown: Duration::from_secs(2),
        last_resort_gap: Duration::from_secs(1),
    };

    #[test]
    fn failures_open_the_circuit_and_one_probe_closes_it() {
        let mut s = HealthState::default();
        for _ in 0..2 {
            s = s.apply(HealthEvent::Failure, 1000, &P);
            assert_eq!(s.availability(1000), Availability::Available);
        }
        s = s.apply(HealthEvent::Failure, 1000, &P);
        assert_eq!(
            s.availability(1000),
            Availability::Out(OutReason::CircuitOpen { until: 11_000 })
        );
        assert_eq!(s.circuit(1000), "open");
        assert_eq!(s.availability(11_000), Availability::ProbeDue);
        s = s.apply(HealthEvent::ProbeClaimed, 11_000, &P);
        assert!(matches!(
            s.availability(11_001),
            Availability::Out(OutReason::Probing { .. })
        ));
        // The probe fails: open again, twice as long.
        let failed = s.apply(HealthEvent::Failure, 12_000, &P);
        assert_eq!(failed.open_until, 32_000);
        // A second failed probe is capped at open_max.
        let failed = failed.apply(HealthEvent::Failure, 32_000, &P);
        assert_eq!(failed.open_until, 57_000);
        // The probe succeeds: closed.
        let ok = s.apply(HealthEvent::Success, 12_000, &P);
        assert_eq!(ok.availability(12_000), Availability::Available);
        assert_eq!(ok.circuit(12_000), "closed");
    }

    #[test]
    fn with_nothing_else_left_an_open_circuit_is_probed_once_per_gap() {
        let mut s = HealthState::default();
        for _ in 0..3 {
            s = s.apply(HealthEvent::Failure, 1000, &P);
        }
        // Opened at 1000 for 10 s; a last-resort probe may go a gap later.
        assert_eq!(
            s.last_resort(1500),
            Some(Availability::Out(OutReason::CircuitOpen { until: 2000 }))
        );
        assert_eq!(s.last_resort(2000), Some(Availability::ProbeDue));
        let claimed = s.apply(HealthEvent::ProbeClaimed, 2000, &P);
        assert_eq!(
            claimed.last_resort(2500),
            Some(Availability::Out(OutReason::CircuitOpen { until: 7000 }))
        );
        // It fails: the open time stays, the next probe waits a gap.
        let failed = claimed.apply(HealthEvent::Failure, 2500, &P);
        assert_eq!(failed.open_until, 11_000);
        assert_eq!(failed.opens, 1);
        assert_eq!(
            failed.last_resort(3499),
            Some(Availability::Out(OutReason::CircuitOpen { until: 3500 }))
        );
        assert_eq!(failed.last_resort(3500), Some(Availability::ProbeDue));
        // The client left during the probe: the next request may probe at once.
        let released = claimed.apply(HealthEvent::ProbeReleased, 2500, &P);
        assert_eq!(released.last_resort(2500), Some(Availability::ProbeDue));
        // It succeeds: closed.
        let ok = claimed.apply(HealthEvent::Success, 2500, &P);
        assert_eq!(ok.availability(2500), Availability::Available);
        assert_eq!(ok.last_resort(2500), None);
        // Cooldowns and refused keys are never probed early; nor is a closed circuit.
        let cooling = s.apply(HealthEvent::RateLimited(Some(5000)), 2000, &P);
        assert_eq!(cooling.last_resort(2000), None);
        let refused = s.apply(HealthEvent::AuthFailed, 2000, &P);
        assert_eq!(refused.last_resort(2000), None);
        assert_eq!(HealthState::default().last_resort(2000), None);
        // Past the open time the ordinary half-open probe applies.
        assert_eq!(s.last_resort(11_000), None);
        assert_eq!(s.availability(11_000), Availability::ProbeDue);
    }

    #[test]
    fn rate_limits_cool_down_until_the_providers_time_and_auth_failures_stay() {
        let s = HealthState::default().apply(HealthEvent::RateLimited(Some(9000)), 1000, &P);
        assert_eq!(
            s.availability(8999),
            Availability::Out(OutReason::Cooldown { until: 9000 })
        );
        assert_eq!(s.availability(9000), Availability::Available);
        let s = HealthState::default().apply(HealthEvent::RateLimited(None), 1000, &P);
        assert_eq!(s.cooldown_until, 3000);
        let s = HealthState::default().apply(HealthEvent::AuthFailed, 5, &P);
        assert!(matches!(
            s.availability(1_000_000),
            Availability::Out(OutReason::AuthFailed { since: 5 })
        ));
        assert_eq!(HealthState::decode(&s.encode()), s);
        assert_eq!(HealthState::decode("junk"), HealthState::default());
    }
}
