#!/usr/bin/env bash
# The proxy benchmark (server/benches/proxy.rs): builds the release binary, then runs the gateway
# and N mock upstreams as processes and compares proxied calls with direct ones. Arguments go to
# the benchmark, e.g. `scripts/bench.sh --upstreams 3 --json` or
# `scripts/bench.sh --gateway-env REDIS_URL=redis://127.0.0.1:6379`; `--help` lists them.
# Numbers are only comparable on a quiet machine: check `uptime` first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
cargo build --release -p server
export AICARPOOL_BIN="${AICARPOOL_BIN:-$CARGO_TARGET_DIR/release/aicarpool}"
exec cargo bench -p server --bench proxy -- "$@"
