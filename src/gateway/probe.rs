//! A probe a request claimed, given back when the attempt ends without news of the account.

use std::sync::Arc;

use super::health::{HealthEvent, HealthPolicy};
use crate::counters::CounterStore;
use crate::db::now_ms;

/// A probe this request claimed. When the attempt ends without news of the account (the
/// client left before the answer, the provider rate-limited or refused it, the request was
/// refused, or it was never sent because a cap or budget skipped the account) the claim is
/// given back on drop, so the next request may probe rather than wait out the claim's timeout.
pub(super) struct ProbeClaim {
    counters: Arc<CounterStore>,
    policy: HealthPolicy,
    id: i64,
    pending: bool,
}

impl ProbeClaim {
    /// Claims the probe of account `id` (with `last_resort`, of its open circuit); `None` when
    /// another request holds it, on this node or another.
    pub(super) async fn take(
        counters: &Arc<CounterStore>,
        policy: HealthPolicy,
        id: i64,
        last_resort: bool,
    ) -> Option<ProbeClaim> {
        counters
            .claim_probe(id, now_ms(), &policy, last_resort)
            .await
            .then(|| ProbeClaim {
                counters: Arc::clone(counters),
                policy,
                id,
                pending: true,
            })
    }

    /// The account's health was told the outcome (a success closed the circuit).
    pub(super) fn told(mut self) {
        self.pending = false;
    }

    /// The attempt failed; a failure told the account's health (and spaced the next probe).
    pub(super) fn failed(self, event: Option<HealthEvent>) {
        if event == Some(HealthEvent::Failure) {
            self.told();
        }
    }
}

impl Drop for ProbeClaim {
    fn drop(&mut self) {
        if !self.pending {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let counters = Arc::clone(&self.counters);
        let (id, policy) = (self.id, self.policy);
        runtime.spawn(async move {
            counters
                .report(id, HealthEvent::ProbeReleased, now_ms(), &policy)
                .await;
        });
    }
}
