//! The counter store's contract, run against both stores: process memory and Redis
//! (`AICARPOOL_TEST_REDIS_URL`, set by the test command). Budget reservations are all or
//! nothing and never pass a cap under concurrency; settlement replaces held amounts; caps and
//! leases; health compare-and-set and the single probe; sticky pins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::sync::Arc;
use std::time::Duration;

use aicarpool::counters::{CapHit, Caps, Charge, CounterStore, Refusal};
use aicarpool::gateway::health::{Availability, HealthEvent, HealthPolicy};
use futures_util::future::join_all;

async fn stores() -> Vec<Arc<CounterStore>> {
    let mut out = vec![Arc::new(CounterStore::memory())];
    let url = std::env::var("AICARPOOL_TEST_REDIS_URL")
        .expect("AICARPOOL_TEST_REDIS_URL is not set: run scripts/test.sh, which starts Redis");
    let client = aicarpool::redis::connect(&aicarpool::secret::Secret::new(url))
        .await
        .unwrap();
    let prefix = format!("contract-{}:", aicarpool::gateway::keys::generate());
    out.push(Arc::new(CounterStore::redis(
        client,
        Duration::from_secs(60),
        prefix,
    )));
    out
}

fn charge(key: &str, cap: i64, amount: i64) -> Charge {
    Charge {
        key: key.to_owned(),
        cap,
        amount,
        ttl_ms: 60_000,
    }
}

#[tokio::test]
async fn reservations_are_all_or_nothing_and_settle_to_actuals() {
    for store in stores().await {
        let kind = store.kind();
        store
            .reserve(&[charge("a", 10, 6), charge("b", 100, 6)])
            .await
            .unwrap();
        // b has room, a does not: nothing is held.
        let refused = store
            .reserve(&[charge("b", 100, 6), charge("a", 10, 6)])
            .await;
        assert_eq!(refused, Err(Refusal { index: 1, used: 6 }), "{kind}");
        assert_eq!(
            store.peek(&["a".into(), "b".into()]).await,
            vec![6, 6],
            "{kind}"
        );
        // The request used 2 of its 6: settlement gives 4 back to both.
        store
            .settle(&[("a".into(), -4, 60_000), ("b".into(), -4, 60_000)])
            .await;
        assert_eq!(
            store.peek(&["a".into(), "b".into()]).await,
            vec![2, 2],
            "{kind}"
        );
        // A zero amount never refuses, even at the cap.
        store.reserve(&[charge("a", 2, 0)]).await.unwrap();
        assert!(store.reserve(&[charge("a", 2, 1)]).await.is_err(), "{kind}");
    }
}

#[tokio::test]
async fn concurrent_reservations_never_pass_the_cap() {
    for store in stores().await {
        let results = join_all((0..200).map(|_| {
            let store = store.clone();
            async move { store.reserve(&[charge("c", 1_000, 7)]).await }
        }))
        .await;
        let held = results.iter().filter(|r| r.is_ok()).count() as i64;
        assert_eq!(held, 1_000 / 7, "{}", store.kind());
        assert_eq!(store.peek(&["c".into()]).await, vec![held * 7]);
    }
}

#[tokio::test]
async fn caps_hold_and_leases_come_back() {
    for store in stores().await {
        let kind = store.kind();
        let caps = Caps {
            max_concurrency: Some(2),
            rpm: Some(3),
            tpm: Some(100),
        };
        let now = aicarpool::db::now_ms();
        let a = store.acquire(7, caps, now).await.unwrap();
        let b = store.acquire(7, caps, now).await.unwrap();
        assert_eq!(
            store.acquire(7, caps, now).await,
            Err(CapHit::Concurrency),
            "{kind}"
        );
        store.release(&a, 150, now).await;
        // The slot is back, but the tokens of this minute are over the cap.
        assert_eq!(
            store.acquire(7, caps, now).await,
            Err(CapHit::Tpm),
            "{kind}"
        );
        store.release(&b, 0, now).await;
        let rpm_only = Caps {
            rpm: Some(3),
            ..Caps::default()
        };
        let later = now + 60_000;
        for _ in 0..3 {
            let lease = store.acquire(8, rpm_only, later).await.unwrap();
            store.release(&lease, 0, later).await;
        }
        assert_eq!(
            store.acquire(8, rpm_only, later).await,
            Err(CapHit::Rpm),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn health_is_shared_and_only_one_caller_probes() {
    let policy = HealthPolicy {
        failure_threshold: 2,
        open_for: Duration::from_millis(1),
        ..HealthPolicy::default()
    };
    for store in stores().await {
        let kind = store.kind();
        let now = aicarpool::db::now_ms();
        for _ in 0..2 {
            store.report(42, HealthEvent::Failure, now, &policy).await;
        }
        assert!(
            matches!(store.health(42).availability(now), Availability::Out(_)),
            "{kind}"
        );
        let later = now + 10;
        assert_eq!(
            store.health(42).availability(later),
            Availability::ProbeDue,
            "{kind}"
        );
        let claims = join_all((0..20).map(|_| {
            let store = store.clone();
            async move { store.claim_probe(42, later, &policy, false).await }
        }))
        .await;
        assert_eq!(
            claims.iter().filter(|c| **c).count(),
            1,
            "{kind}: exactly one probe"
        );
        store.report(42, HealthEvent::Success, later, &policy).await;
        assert_eq!(
            store.health(42).availability(later),
            Availability::Available,
            "{kind}"
        );
        // An open circuit: no ordinary probe; last-resort probes one at a time, a gap apart.
        let long = HealthPolicy {
            failure_threshold: 2,
            open_for: Duration::from_secs(60),
            ..HealthPolicy::default()
        };
        for _ in 0..2 {
            store.report(44, HealthEvent::Failure, now, &long).await;
        }
        let gap = i64::try_from(long.last_resort_gap.as_millis()).unwrap();
        assert!(
            !store.claim_probe(44, now + gap, &long, false).await,
            "{kind}"
        );
        assert!(
            !store.claim_probe(44, now + gap - 1, &long, true).await,
            "{kind}"
        );
        let claims = join_all((0..20).map(|_| {
            let store = store.clone();
            async move { store.claim_probe(44, now + gap, &long, true).await }
        }))
        .await;
        assert_eq!(
            claims.iter().filter(|c| **c).count(),
            1,
            "{kind}: exactly one last-resort probe"
        );
        store
            .report(44, HealthEvent::ProbeReleased, now + gap, &long)
            .await;
        assert!(
            store.claim_probe(44, now + gap, &long, true).await,
            "{kind}"
        );
        store.clear_health(44).await;
        store
            .report(
                43,
                HealthEvent::RateLimited(Some(later + 5_000)),
                later,
                &policy,
            )
            .await;
        store.sync().await;
        assert!(
            matches!(store.health(43).availability(later), Availability::Out(_)),
            "{kind}"
        );
        store.clear_health(43).await;
        assert_eq!(
            store.health(43).availability(later),
            Availability::Available,
            "{kind}"
        );
        store
            .sticky_set("conv", 5, Duration::from_secs(30), later)
            .await;
        assert_eq!(store.sticky_get("conv", later).await, Some(5), "{kind}");
        assert_eq!(store.sticky_get("other", later).await, None, "{kind}");
    }
}
