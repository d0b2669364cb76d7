//! The benchmark's command line.

use std::path::PathBuf;

const HELP: &str = "\
proxy benchmark: the gateway vs a direct call to the mock upstream, in the same run

options:
  --upstreams N           mock upstream processes, one account each, all bound to the group [1]
  --gateway-env K=V       extra environment for the gateway (repeatable), e.g. REDIS_URL=redis://…
  --limits                the governed path: key, member, group and account limits (requests,
                          tokens, cost; minute, day, month, total) too high to refuse anything,
                          so every proxied request reserves and settles against seven counters
  --requests N            whole answers at concurrency 1, per side [2000]
  --concurrency C         the concurrent phase's concurrency [64]
  --concurrent-requests N whole answers at concurrency C, per side [20000]
  --rounds R              the concurrent phase alternates direct/proxy batches R times [10]
  --streams N             streamed answers at concurrency 1, per side [500]
  --warmup N              warm-up requests per side before measuring [500]
  --body-kb N             pad the conversation to about N KiB, as coding agents send it (a long
                          system prompt and many turns) [0: two short messages, ~0.2 KiB]
  --client-threads T      client runtime threads (1 = current-thread runtime) [1]
  --c1-cpus LIST          the CPUs every process (client, gateway, mocks, forwarder) is pinned
                          to during the concurrency-1 phases (whole answers, breakdown,
                          streams), as taskset takes them (`0`, `0-1`), or `all` for no pinning;
                          the concurrent phase always runs on all the CPUs the benchmark has
                          [the first of them]
  --json                  also print the results as one JSON object
  --bin PATH              the aicarpool binary [$AICARPOOL_BIN, else
                          $CARGO_TARGET_DIR/release/aicarpool, else the one cargo built]
";

/// Command-line options.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) upstreams: usize,
    pub(crate) gateway_env: Vec<(String, String)>,
    pub(crate) limits: bool,
    pub(crate) requests: usize,
    pub(crate) concurrency: usize,
    pub(crate) concurrent_requests: usize,
    pub(crate) rounds: usize,
    pub(crate) streams: usize,
    pub(crate) warmup: usize,
    pub(crate) body_kb: usize,
    pub(crate) client_threads: usize,
    /// `None`: the concurrency-1 phases run unpinned (`--c1-cpus all`).
    pub(crate) c1_cpus: Option<String>,
    pub(crate) json: bool,
    pub(crate) bin: PathBuf,
}

impl Options {
    pub(crate) fn parse() -> Options {
        let mut options = Options {
            upstreams: 1,
            gateway_env: Vec::new(),
            limits: false,
            requests: 2000,
            concurrency: 64,
            concurrent_requests: 20_000,
            rounds: 10,
            streams: 500,
            warmup: 500,
            body_kb: 0,
            client_threads: 1,
            c1_cpus: Some(crate::pin::first(&crate::pin::allowed())),
            json: false,
            bin: default_bin(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            let number = |v: String| -> usize {
                v.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage(&format!("{name}: not a positive number: {v}")))
            };
            match name.as_str() {
                "--help" | "-h" => {
                    print!("{HELP}");
                    std::process::exit(0);
                }
                "--json" => options.json = true,
                "--limits" => options.limits = true,
                "--upstreams" => options.upstreams = number(value()),
                "--requests" => options.requests = number(value()),
                "--concurrency" => options.concurrency = number(value()),
                "--concurrent-requests" => options.concurrent_requests = number(value()),
                "--rounds" => options.rounds = number(value()),
                "--streams" => options.streams = number(value()),
                "--warmup" => options.warmup = number(value()),
                "--body-kb" => options.body_kb = number(value()),
                "--client-threads" => options.client_threads = number(value()),
                "--c1-cpus" => {
                    let list = value();
                    let valid = !list.is_empty()
                        && list
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == ',' || c == '-');
                    options.c1_cpus = match list.as_str() {
                        "all" => None,
                        _ if valid => Some(list),
                        _ => usage(&format!(
                            "--c1-cpus wants a CPU list such as 0 or 0-1, or all; got {list}"
                        )),
                    };
                }
                "--bin" => options.bin = PathBuf::from(value()),
                "--gateway-env" => {
                    let pair = value();
                    let Some((k, v)) = pair.split_once('=') else {
                        usage(&format!("--gateway-env wants KEY=VALUE, got {pair}"));
                    };
                    options.gateway_env.push((k.to_owned(), v.to_owned()));
                }
                other => usage(&format!("unknown option {other}")),
            }
        }
        options
    }
}

fn usage(message: &str) -> ! {
    eprint!("proxy bench: {message}\n\n{HELP}");
    std::process::exit(2);
}

/// `$AICARPOOL_BIN`, else `$CARGO_TARGET_DIR/release/aicarpool`, else `target/release/aicarpool`.
fn default_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("AICARPOOL_BIN") {
        return PathBuf::from(bin);
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("release").join("aicarpool")
}
