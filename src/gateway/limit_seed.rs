//! Budget counters start from the usage records. A limit's counter lives in the counter store
//! (process memory, or Redis), keyed by limit and window; a counter that does not exist there
//! yet is not "nothing used": the process restarted (memory), the limit is new, the group's
//! time zone moved its windows, or Redis lost the key. Before a window's counter is first
//! used on this node (reserved against, or shown), it is seeded with the window's usage from
//! the database, the same sums the budget warnings read; an existing counter is kept
//! (whichever node seeds first wins, and reservations made since are not overwritten).
//!
//! Minute windows are not seeded: a minute is over before a restart matters to it. Records
//! still in this node's usage writer queue are written first (the writer is asked not to
//! linger and waited for, up to [`FLUSH_WAIT`]); records still queued on other nodes (their
//! last 100 ms or so) are not in the database yet, and a limit new to every node misses those.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::budget::{Amounts, Limit};
use super::engine::Gateway;
use crate::counters::Charge;
use crate::db::limit_alerts::{self as store, TargetSums};
use crate::model::{LimitMetric, LimitWindow};

/// A limit's window: (limit, metric, window start).
type Window = (i64, &'static str, i64);

/// Windows seeded on this node, with each one's end (`None` for `total`), to forget ended ones.
#[derive(Debug, Default)]
pub struct Seeded(Mutex<HashMap<Window, Option<i64>>>);

/// Entries kept before ended windows are forgotten.
const SWEEP_AT: usize = 4_096;

/// How long seeding waits for this node's queued usage records to reach the database.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Seeded {
    fn lock(&self) -> MutexGuard<'_, HashMap<Window, Option<i64>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Gateway {
    /// Seeds the counters of `limits`' current windows that this node has not seeded yet
    /// (see the module). One query per group and window start; a database error leaves them
    /// unseeded (to try again with the next request) rather than failing the request.
    pub async fn seed_limits(&self, limits: &[Limit], now: i64) {
        let todo: Vec<(&Limit, i64, Option<i64>)> = {
            let seeded = self.seeded.lock();
            limits
                .iter()
                .filter(|l| l.window != LimitWindow::Minute)
                .map(|l| {
                    let (start, end) = l.window_bounds(now);
                    (l, start, end)
                })
                .filter(|(l, start, _)| !seeded.contains_key(&(l.id, l.metric.as_str(), *start)))
                .collect()
        };
        if todo.is_empty() {
            return;
        }
        if !self.recorder.flush(FLUSH_WAIT).await {
            tracing::warn!(
                "usage records queued on this node did not reach the database within {FLUSH_WAIT:?}; \
                 budget counters are seeded without them"
            );
        }
        // (group, window start) -> whether a requests limit needs counting there.
        let mut windows: BTreeMap<(i64, i64), bool> = BTreeMap::new();
        for (l, start, _) in &todo {
            *windows.entry((l.group_id, *start)).or_default() |= l.metric == LimitMetric::Requests;
        }
        let mut sums: BTreeMap<(i64, i64), Vec<TargetSums>> = BTreeMap::new();
        for ((group, start), requests) in windows {
            match store::sums(self.db(), group, start, now.saturating_add(1), requests).await {
                Ok(rows) => {
                    sums.insert((group, start), rows);
                }
                Err(e) => {
                    tracing::warn!(
                        group,
                        "budget counters could not be read from the usage records: {e}"
                    );
                    return;
                }
            }
        }
        let charges: Vec<Charge> = todo
            .iter()
            .map(|(l, start, _)| {
                let rows = sums
                    .get(&(l.group_id, *start))
                    .map_or(&[][..], Vec::as_slice);
                let used = crate::limit_alerts::usage_of(l, rows);
                let used = Amounts {
                    requests: used,
                    tokens: used,
                    cost_micros: used,
                };
                l.charge(&used, now)
            })
            .collect();
        self.counters.seed(&charges).await;
        let mut seeded = self.seeded.lock();
        if seeded.len() >= SWEEP_AT {
            seeded.retain(|_, end| end.is_none_or(|end| end > now));
        }
        for (l, start, end) in todo {
            seeded.insert((l.id, l.metric.as_str(), start), end);
        }
    }
}
