//! What an attempt's outcome does to its account: a failure feeds its health (and, when it
//! is news, its last error on the accounts page); an answer gives its cap slot back, closes a
//! circuit left open; a stored Responses answer is pinned to it.

use std::sync::Arc;

use super::catalog::Candidate;
use super::engine::Gateway;
use super::health::{HealthEvent, HealthPolicy, HealthState};
use super::relay::{OnEnd, OnResponseId, StreamEnd};
use super::response_pins;
use super::upstream::AttemptFailure;
use super::usage::Usage;
use crate::counters::{CounterStore, Lease};
use crate::db::{accounts, now_ms};

impl Gateway {
    /// Feeds a failed attempt into the account's health.
    pub(super) async fn note_failure(&self, candidate: &Candidate, failure: &AttemptFailure) {
        let id = candidate.account.id;
        self.selector.observe(id, false, None);
        let Some(event) = failure.event else { return };
        let before = self.counters.health(id);
        let after = self
            .counters
            .report(id, event, now_ms(), &self.policy)
            .await;
        let opened = after.open_until > before.open_until;
        if failure.account_fault
            || opened
            || matches!(event, HealthEvent::RateLimited(_)) && before.cooldown_until == 0
        {
            let message = match failure.status {
                Some(status) => format!("HTTP {status}: {}", failure.error.message),
                None => failure.error.message.clone(),
            };
            let db = self.db().clone();
            tokio::spawn(async move {
                if let Err(e) =
                    accounts::record_health(&db, id, Some(&message), None, now_ms()).await
                {
                    tracing::warn!(account = id, "could not record the account's error: {e}");
                }
            });
        }
    }

    /// After a whole answer: give the slot back and close the circuit if it was not closed.
    pub(super) async fn settle_account(
        &self,
        id: i64,
        lease: Option<Lease>,
        end: StreamEnd,
        usage: Usage,
    ) {
        account_done(&self.counters, &self.policy, id, lease, end, usage).await;
    }

    /// What a relayed stream does when it ends.
    pub(super) fn on_stream_end(&self, id: i64, lease: Option<Lease>) -> OnEnd {
        let counters = Arc::clone(&self.counters);
        let policy = self.policy;
        Box::new(move |end, usage| {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            runtime.spawn(async move {
                account_done(&counters, &policy, id, lease, end, usage).await;
            });
        })
    }

    /// Pins a stored Responses stream's response (in `group`) to account `id` the moment the
    /// upstream names it: a client continuing right after `response.completed`, on any node,
    /// finds the pin even before this stream's end is read.
    pub(super) fn pin_response(&self, group: i64, id: i64) -> OnResponseId {
        let counters = Arc::clone(&self.counters);
        Box::new(move |response| {
            let key = response_pins::key(group, response);
            counters.sticky_set_now(key, id, response_pins::PIN_TTL, now_ms());
        })
    }
}

/// An attempt that reached the client ended: its cap slot goes back with the tokens used, and
/// its health learns the outcome. Healthy accounts cost no write: only a change is reported.
async fn account_done(
    counters: &CounterStore,
    policy: &HealthPolicy,
    id: i64,
    lease: Option<Lease>,
    end: StreamEnd,
    usage: Usage,
) {
    if let Some(lease) = &lease {
        let tokens = usage.total_input().saturating_add(usage.output_tokens);
        counters.release(lease, tokens, now_ms()).await;
    }
    let event = match end {
        StreamEnd::Complete => HealthEvent::Success,
        StreamEnd::UpstreamFailed => HealthEvent::Failure,
        StreamEnd::ClientGone => return,
    };
    if event == HealthEvent::Failure || counters.health(id) != HealthState::default() {
        counters.report(id, event, now_ms(), policy).await;
    }
}

/// An attempt's cap slot while the attempt runs: handed on with [`HeldLease::take`] where the
/// attempt ends (failure, whole answer, stream), and given back (with no tokens) when dropped
/// still holding it: the request was dropped mid-attempt, as when its client hangs up before
/// the upstream's first byte. In memory nothing else would ever free that slot (Redis leases
/// expire on their own, after the lease TTL).
pub(super) struct HeldLease(Option<(Lease, Arc<CounterStore>)>);

impl HeldLease {
    pub(super) fn new(counters: &Arc<CounterStore>, lease: Option<Lease>) -> HeldLease {
        HeldLease(lease.map(|lease| (lease, Arc::clone(counters))))
    }

    /// The slot, for whatever ends the attempt to give back.
    pub(super) fn take(&mut self) -> Option<Lease> {
        self.0.take().map(|(lease, _)| lease)
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        let Some((lease, counters)) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { counters.release(&lease, 0, now_ms()).await });
        }
    }
}
