//! Summaries of the samples and the report: tables, the machine, JSON.

use std::time::Duration;

use serde_json::{Value, json};

use crate::options::Options;
use crate::{MODEL, conversation};

/// Percentiles of a set of durations, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) mean: f64,
}

pub(crate) fn summarize(samples: &[Duration]) -> Summary {
    let mut micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    micros.sort_by(f64::total_cmp);
    // Nearest rank.
    let at = |q: f64| {
        let rank = ((q * micros.len() as f64).ceil() as usize).clamp(1, micros.len());
        micros[rank - 1]
    };
    Summary {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        mean: micros.iter().sum::<f64>() / micros.len() as f64,
    }
}

impl Summary {
    pub(crate) fn json(&self) -> Value {
        json!({
            "p50_us": round(self.p50), "p90_us": round(self.p90),
            "p99_us": round(self.p99), "mean_us": round(self.mean),
        })
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Everything measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) c1: [Summary; 2],
    /// Health, bad key, bad model (p50s), at concurrency 1.
    pub(crate) breakdown: [Summary; 4],
    pub(crate) cn: [Summary; 2],
    pub(crate) throughput: [f64; 2],
    pub(crate) stream_head: [Summary; 2],
    pub(crate) stream_first_byte: [Summary; 2],
    pub(crate) stream_first_token: [Summary; 2],
    pub(crate) stream_total: [Summary; 2],
    pub(crate) gateway_cpu_us_c1: f64,
    pub(crate) gateway_cpu_us_cn: f64,
    pub(crate) gateway_cpu_us_stream: f64,
    pub(crate) mock_cpu_us_c1: f64,
    /// The minimal forwarder's CPU per request, in the breakdown.
    pub(crate) forwarder_cpu_us: f64,
    pub(crate) mock_cpu_us_cn: f64,
    pub(crate) gateway_hwm_kib: u64,
    pub(crate) gateway_rss_kib: u64,
    pub(crate) mock_hwm_kib: u64,
}

pub(crate) struct Machine {
    pub(crate) cores: usize,
    pub(crate) model: String,
    pub(crate) kernel: String,
}

pub(crate) fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    Machine {
        cores,
        model,
        kernel,
    }
}

/// The 1-, 5- and 15-minute load averages.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

fn added(us: f64) -> String {
    format!("{:+.3}", us / 1000.0)
}

pub(crate) fn print_table(
    options: &Options,
    r: &Results,
    machine: &Machine,
    all_cpus: &str,
    load_before: &str,
    load_after: &str,
) {
    let c = options.concurrency;
    println!();
    println!(
        "Machine: {} cores ({}), Linux {}; load average before {load_before}, after {load_after}.",
        machine.cores, machine.model, machine.kernel
    );
    let env: Vec<&str> = options
        .gateway_env
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    println!(
        "Setup: {} mock upstream(s), gateway env: {}, {}; chat completions of {} bytes, {} \
         requests at c=1, {} at c={c}, {} streams at c=1, per side.",
        options.upstreams,
        if env.is_empty() {
            "default (SQLite, counters in memory)".to_owned()
        } else {
            env.join(", ")
        },
        if options.limits {
            "governed (7 limits per request: key, member, group, account)"
        } else {
            "no limits"
        },
        json!({"model": MODEL, "messages": conversation(options.body_kb), "max_tokens": 16})
            .to_string()
            .len(),
        options.requests,
        options.concurrent_requests,
        options.streams
    );
    match &options.c1_cpus {
        Some(list) => println!(
            "CPUs: the concurrency-1 phases (whole answers, breakdown, streams) ran with every \
             process pinned to CPU {list} (`--c1-cpus`), the c={c} phase on CPUs {all_cpus}."
        ),
        None => println!("CPUs: every phase ran unpinned on CPUs {all_cpus} (`--c1-cpus all`)."),
    }
    println!();
    println!("| measure (ms) | direct | proxy | added |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, s: &[Summary; 2], f: fn(&Summary) -> f64| {
        println!(
            "| {name} | {} | {} | {} |",
            ms(f(&s[0])),
            ms(f(&s[1])),
            added(f(&s[1]) - f(&s[0]))
        );
    };
    row("latency p50, c=1", &r.c1, |s| s.p50);
    row("latency p90, c=1", &r.c1, |s| s.p90);
    row("latency p99, c=1", &r.c1, |s| s.p99);
    row(&format!("latency p50, c={c}"), &r.cn, |s| s.p50);
    row(&format!("latency p90, c={c}"), &r.cn, |s| s.p90);
    row(&format!("latency p99, c={c}"), &r.cn, |s| s.p99);
    row("stream: headers p50", &r.stream_head, |s| s.p50);
    row("stream: first token p50", &r.stream_first_token, |s| s.p50);
    row("stream: first token p99", &r.stream_first_token, |s| s.p99);
    row("stream: whole stream p50", &r.stream_total, |s| s.p50);
    println!();
    let b = &r.breakdown;
    println!("| gateway stage, c=1 (ms) | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, s) in [
        ("`GET /healthz` (hop + axum + layers)", &b[0]),
        ("chat, unknown key: 401 (+ key check)", &b[1]),
        (
            "chat, unknown model: 404 (+ body, parse, catalog, record)",
            &b[2],
        ),
        ("chat, proxied (+ upstream call)", &r.c1[1]),
        ("chat, direct to the mock (reference)", &r.c1[0]),
        (
            "chat through a minimal forwarder to the mock (the floor of any proxy here)",
            &b[3],
        ),
    ] {
        println!("| {name} | {} | {} |", ms(s.p50), ms(s.p99));
    }
    println!();
    println!("| measure | direct | proxy | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| throughput at c={c} (req/s) | {:.0} | {:.0} | {:.2} |",
        r.throughput[0],
        r.throughput[1],
        r.throughput[1] / r.throughput[0]
    );
    println!();
    println!("| process | CPU per request (µs) | peak RSS (MiB) |");
    println!("|---|---:|---:|");
    println!(
        "| gateway | {:.0} at c=1, {:.0} at c={c}, {:.0} per stream | {:.1} (now {:.1}) |",
        r.gateway_cpu_us_c1,
        r.gateway_cpu_us_cn,
        r.gateway_cpu_us_stream,
        r.gateway_hwm_kib as f64 / 1024.0,
        r.gateway_rss_kib as f64 / 1024.0
    );
    println!(
        "| mock upstream (reference) | {:.0} at c=1, {:.0} at c={c} | {:.1} |",
        r.mock_cpu_us_c1,
        r.mock_cpu_us_cn,
        r.mock_hwm_kib as f64 / 1024.0
    );
    println!(
        "| minimal forwarder (reference) | {:.0} at c=1 | |",
        r.forwarder_cpu_us
    );
    println!();
    let p50 = (r.c1[1].p50 - r.c1[0].p50) / 1000.0;
    let ttft = (r.stream_first_token[1].p50 - r.stream_first_token[0].p50) / 1000.0;
    println!(
        "Targets: added p50 at c=1 {p50:.3} ms (target < 0.1: {}); added first-token p50 \
         {ttft:.3} ms (target < 0.3: {}).",
        if p50 < 0.1 { "met" } else { "MISSED" },
        if ttft < 0.3 { "met" } else { "MISSED" }
    );
    // The hop alone, measured in the breakdown against the direct call of the c=1 phase (two
    // phases of one run: short runs can put the floor above the gateway).
    let floor = (r.breakdown[3].p50 - r.c1[0].p50) / 1000.0;
    let share = p50 - floor;
    println!(
        "Floor: a minimal forwarder added {floor:.3} ms at p50 over the direct call in this run, \
         so the gateway's own share of its {p50:.3} ms is {share:.3} ms{}.",
        if share < 0.0 {
            " (below zero: the two phases differ by more than the gateway's work; run longer)"
        } else {
            ""
        }
    );
}

pub(crate) fn to_json(
    options: &Options,
    r: &Results,
    machine: &Machine,
    all_cpus: &str,
    load_before: &str,
    load_after: &str,
) -> Value {
    let pair = |s: &[Summary; 2]| {
        json!({
            "direct": s[0].json(), "proxy": s[1].json(),
            "added_p50_us": round(s[1].p50 - s[0].p50), "added_p99_us": round(s[1].p99 - s[0].p99),
        })
    };
    json!({
        "machine": {
            "cores": machine.cores, "cpu": machine.model, "kernel": machine.kernel,
            "load_before": load_before, "load_after": load_after,
        },
        "setup": {
            "upstreams": options.upstreams,
            "gateway_env": options.gateway_env.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            "limits": options.limits,
            "requests_c1": options.requests, "concurrency": options.concurrency,
            "requests_concurrent": options.concurrent_requests, "streams": options.streams,
            "c1_cpus": options.c1_cpus, "cpus": all_cpus,
        },
        "latency_c1": pair(&r.c1),
        "latency_concurrent": pair(&r.cn),
        "breakdown_c1": {
            "healthz": r.breakdown[0].json(), "unknown_key": r.breakdown[1].json(),
            "unknown_model": r.breakdown[2].json(), "minimal_forwarder": r.breakdown[3].json(),
            "minimal_forwarder_added_p50_us": round(r.breakdown[3].p50 - r.c1[0].p50),
        },
        "throughput_rps": {
            "direct": round(r.throughput[0]), "proxy": round(r.throughput[1]),
            "ratio": (r.throughput[1] / r.throughput[0] * 1000.0).round() / 1000.0,
        },
        "stream_headers": pair(&r.stream_head),
        "stream_first_byte": pair(&r.stream_first_byte),
        "stream_first_token": pair(&r.stream_first_token),
        "stream_total": pair(&r.stream_total),
        "gateway": {
            "cpu_us_per_request_c1": round(r.gateway_cpu_us_c1),
            "cpu_us_per_request_concurrent": round(r.gateway_cpu_us_cn),
            "cpu_us_per_stream": round(r.gateway_cpu_us_stream),
            "peak_rss_kib": r.gateway_hwm_kib, "rss_kib": r.gateway_rss_kib,
        },
        "mock": {
            "cpu_us_per_request_c1": round(r.mock_cpu_us_c1),
            "forwarder_cpu_us_per_request": round(r.forwarder_cpu_us),
            "cpu_us_per_request_concurrent": round(r.mock_cpu_us_cn),
            "peak_rss_kib": r.mock_hwm_kib,
        },
    })
}
