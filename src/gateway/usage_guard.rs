//! A request's usage record, written exactly once however the request ends, and the budget
//! reservations it settles when written.

use std::sync::Arc;
use std::time::Instant;

use super::budget::{Amounts, Reservation};
use super::catalog::Candidate;
use super::error::GatewayError;
use super::recorder::Recorder;
use super::usage::Usage;
use crate::counters::CounterStore;
use crate::db::usage::UsageRow;
use crate::pricing::Price;

/// The budget reservations a request holds, settled when its record is written.
#[derive(Debug, Default)]
pub struct Held {
    /// Key, member and group limits.
    pub request: Option<Reservation>,
    /// Account limits of the account being tried: (account, reservation).
    pub account: Option<(i64, Reservation)>,
}

/// Holds a request's usage record and writes it exactly once: when the request finishes, or,
/// if it is dropped first (the client went away), with status 499 and what was delivered
/// (503 `server_shutdown` when the server stopping cut it off).
/// Writing it also settles the request's budget reservations with the actual amounts, so
/// every way a request can end gives its reservation back.
#[derive(Debug)]
pub struct UsageGuard {
    recorder: Arc<Recorder>,
    row: UsageRow,
    started: Instant,
    armed: bool,
    price: Option<Price>,
    counters: Option<Arc<CounterStore>>,
    held: Held,
}

impl UsageGuard {
    /// A guard for a request that started at `started`.
    pub fn new(
        recorder: Arc<Recorder>,
        row: UsageRow,
        started: Instant,
        counters: Option<Arc<CounterStore>>,
    ) -> UsageGuard {
        UsageGuard {
            recorder,
            row,
            started,
            armed: true,
            price: None,
            counters,
            held: Held::default(),
        }
    }

    /// The reservations to settle.
    pub fn held_mut(&mut self) -> &mut Held {
        &mut self.held
    }

    /// The price the record's cost is computed with (the served model's).
    pub fn set_price(&mut self, price: Option<Price>) {
        self.price = price;
    }

    /// The record being filled in.
    pub fn row_mut(&mut self) -> &mut UsageRow {
        &mut self.row
    }

    /// Notes an attempt at `candidate`.
    pub fn attempt(&mut self, candidate: &Candidate) {
        self.row.attempts += 1;
        self.row.account_id = Some(candidate.account.id);
        self.row.provider = Some(candidate.account.provider.as_str().to_owned());
    }

    /// Moves the record into a new guard (the stream's), leaving this one disarmed.
    pub fn take(&mut self) -> UsageGuard {
        self.armed = false;
        UsageGuard {
            recorder: self.recorder.clone(),
            row: self.row.clone(),
            started: self.started,
            armed: true,
            price: self.price,
            counters: self.counters.clone(),
            held: std::mem::take(&mut self.held),
        }
    }

    /// Marks the first byte sent to the client.
    pub fn first_byte(&mut self) {
        if self.row.ttfb_ms.is_none() {
            self.row.ttfb_ms = Some(elapsed_ms(self.started));
        }
    }

    /// Writes a successful (or partially successful) record.
    pub fn finish_ok(&mut self, status: u16, usage: Usage, error_class: Option<&str>) {
        self.set_usage(usage);
        self.row.status = i64::from(status);
        self.row.error_class = error_class.map(str::to_owned);
        self.write();
    }

    /// Writes the record of a stream whose client went away (or that the server cut off at
    /// shutdown), with what was delivered.
    pub fn finish_gone(&mut self, usage: Usage) {
        if self.armed {
            self.set_usage(usage);
            self.write_unfinished();
        }
    }

    /// Writes the record of a request that ended before its answer did: the client went
    /// away (499 `client_closed`), or the server stopping cut it off (503 `server_shutdown`).
    fn write_unfinished(&mut self) {
        let (status, class) = if self.recorder.cutting_off() {
            (503, "server_shutdown")
        } else {
            (499, "client_closed")
        };
        self.row.status = status;
        self.row.error_class = Some(class.to_owned());
        self.write();
    }

    /// Writes a failed record.
    pub fn fail(&mut self, err: &GatewayError) {
        self.row.status = i64::from(err.status());
        self.row.error_class = Some(err.class.to_owned());
        self.write();
    }

    fn set_usage(&mut self, usage: Usage) {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.row.input_tokens = n(usage.input_tokens);
        self.row.output_tokens = n(usage.output_tokens);
        self.row.cache_read_tokens = n(usage.cache_read_tokens);
        self.row.cache_write_tokens = n(usage.cache_write_tokens);
        self.row.cost_micros = self.price.map_or(0, |p| p.cost_micros(&usage));
    }

    fn usage(&self) -> Usage {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Usage {
            input_tokens: n(self.row.input_tokens),
            output_tokens: n(self.row.output_tokens),
            cache_read_tokens: n(self.row.cache_read_tokens),
            cache_write_tokens: n(self.row.cache_write_tokens),
        }
    }

    /// Settles the reservations with the record's actual amounts.
    fn settle(&mut self) {
        let held = std::mem::take(&mut self.held);
        let Some(counters) = self.counters.clone() else {
            return;
        };
        let mut actual = Amounts::actual(&self.usage(), self.row.cost_micros);
        // A request counts once it was sent to an account. One refused before that (every
        // account passed over for its budget, after the request's own limits were held) used
        // nothing; the records' sums that seed the counters leave it out the same way.
        if self.row.attempts == 0 {
            actual.requests = 0;
        }
        let mut deltas = Vec::new();
        if let Some(r) = &held.request {
            deltas.extend(r.deltas(&actual));
        }
        if let Some((account, r)) = &held.account {
            let served = if self.row.account_id == Some(*account) {
                actual
            } else {
                Amounts::default()
            };
            deltas.extend(r.deltas(&served));
        }
        if deltas.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { counters.settle(&deltas).await });
        }
    }

    fn write(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        self.settle();
        self.row.total_ms = elapsed_ms(self.started);
        if self.row.ttfb_ms.is_none() && self.row.status < 400 {
            self.row.ttfb_ms = Some(self.row.total_ms);
        }
        self.recorder.record(std::mem::take(&mut self.row));
    }
}

impl Drop for UsageGuard {
    fn drop(&mut self) {
        if self.armed {
            self.write_unfinished();
        }
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}
