#!/usr/bin/env bash
# The proxy benchmark (server/bench): runs the gateway and N mock upstreams as processes of the
# release binary and compares proxied calls with direct ones. Arguments go to the benchmark,
# e.g. `scripts/bench.sh --upstreams 3 --json` or
# `scripts/bench.sh --gateway-env REDIS_URL=redis://127.0.0.1:6379`; `--help` lists them.
#
# The binary is the one users run: `cargo leptos build --release` builds it (and the site)
# into $CARGO_TARGET_DIR/release/aicarpool, doing nothing when it is up to date. The benchmark
# client is a package of its own (hyper + tokio only), so building it never rebuilds the
# workspace. AICARPOOL_BIN=/path/to/aicarpool benchmarks another binary (and skips the build).
# Numbers are only comparable on a quiet machine: check `uptime` first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
if [[ -z "${AICARPOOL_BIN:-}" ]]; then
  "$ROOT/scripts/setup.sh" run
  cargo leptos build --release --precompress
fi
exec cargo run --quiet --release --locked -p proxy-bench -- "$@"
