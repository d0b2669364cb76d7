//! Selection cost: how long the selector takes to order the candidates of one request when
//! 10, 100 or 1 000 accounts are bound to a group, for each strategy. Run with
//! `cargo bench -p aicarpool --features ssr --bench select`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark fails loudly"
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aicarpool::counters::{Caps, CounterStore};
use aicarpool::gateway::catalog::{Account, Candidate};
use aicarpool::gateway::select::{BudgetLeft, Selector};
use aicarpool::model::{Provider, RoutingStrategy};
use aicarpool::secret::Secret;

fn candidates(n: usize, client: &aicarpool::gateway::client::Client) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            account: Arc::new(Account {
                id: i as i64,
                name: format!("acct-{i}"),
                provider: Provider::OpenAi,
                base_url: "http://127.0.0.1:9/v1".into(),
                api_key: Secret::new("k".into()),
                models: vec!["gpt-4o-mini".into()],
                aliases: BTreeMap::new(),
                enabled: true,
                caps: Caps::default(),
                updated_at: 0,
                client: client.clone(),
                name_header: None,
                credential: None,
            }),
            upstream_model: "gpt-4o-mini".into(),
            priority: (i % 3) as i32,
            weight: 1 + (i % 5) as u32,
            chain_step: 0,
        })
        .collect()
}

fn main() {
    let client = aicarpool::gateway::client::build(None, None).expect("client");
    let counters = CounterStore::memory();
    let selector = Selector::default();
    for (i, _) in (0..1000).enumerate().filter(|(i, _)| i % 10 == 0) {
        selector.observe(i as i64, true, Some(1.0 + (i % 7) as f64));
    }
    println!("| accounts | strategy | ns per selection (median of 15 rounds) |");
    println!("|---:|---|---:|");
    for n in [10usize, 100, 1000] {
        let list = candidates(n, &client);
        // Every third account has spent part of its budget.
        let left: BudgetLeft = (0..n as i64)
            .filter(|i| i % 3 == 0)
            .map(|i| (i, (i % 100) as f64 / 100.0))
            .collect();
        for strategy in [
            RoutingStrategy::Weighted,
            RoutingStrategy::RoundRobin,
            RoutingStrategy::LeastLatency,
            RoutingStrategy::LowestCost,
            RoutingStrategy::MostBudget,
        ] {
            let iterations = 200_000 / n;
            let mut rounds = Vec::new();
            for _ in 0..15 {
                let started = Instant::now();
                for _ in 0..iterations {
                    let plan =
                        selector.plan(1, strategy, list.clone(), &counters, Some(3), &left, 1_000);
                    std::hint::black_box(plan);
                }
                rounds.push(started.elapsed().as_nanos() / iterations as u128);
            }
            rounds.sort_unstable();
            println!(
                "| {n} | {} | {} |",
                strategy.as_str(),
                rounds[rounds.len() / 2]
            );
        }
    }
}
